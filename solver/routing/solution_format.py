"""Routing solution files: the links of every flow's route; `verify` checks each route carries its
flow and recomputes the largest link load."""
from __future__ import annotations

from typing import Any

from cimopt.solver.routing.problem import check, max_link_load_ns, RoutingProblem
from cimopt.solver.solution_verdict import array_schema, object_schema, require_length, SolutionError, Verdict

#: the objective: (unit, what is minimised and how it is computed from an instance and a solution)
OBJECTIVE: tuple[str, str] = ("ns", " ".join("""
Minimise the largest link load: over the directed links of the network, the bytes per inference of
the flows whose routes hold the link (a flow's bytes once per link) over the link's bandwidth, ns.
Each flow's route is a set of links of the network from its source router reaching every one of
its destination routers; a flow with several destinations needs routers that multicast.
""".split()))


def body(inst: RoutingProblem, s: Any) -> dict[str, Any]:
    """The links [u, v] of every flow's route (instance order)."""
    return {"routes": [[list(ln) for ln in r] for r in s.routing.routes]}


def verify(inst: RoutingProblem, body: dict[str, Any]) -> Verdict:
    """The largest link load (ns) and every violation (`problem.check`)."""
    routes = body["routes"]
    require_length("routes", routes, len(inst.flows), "flows")
    try:
        rs = tuple(tuple((int(u), int(v)) for u, v in r) for r in routes)
    except (TypeError, ValueError):
        raise SolutionError("solution.routes: each route must be a list of [u, v] router pairs") from None
    bad = check(inst, rs)
    have = {(ln.src, ln.dst) for ln in inst.links}
    obj = max_link_load_ns(inst, tuple(tuple(ln for ln in r if ln in have) for r in rs))
    return Verdict(obj, tuple(bad))


#: JSON Schema of a solution body (`body`)
SCHEMA: dict[str, Any] = object_schema(
    {"routes": array_schema(array_schema(array_schema({"type": "integer"}, "router u, router v"),
                                         "the links of one route"), "every flow's route (instance order)")},
    required=["routes"],
)
