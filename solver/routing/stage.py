"""The routing stage: the links every NoC transfer holds, chosen between placement and scheduling.

``build`` makes the task graph of the mapping (`cimopt.solver.scheduling.tasks.build_tasks`,
default routes) to find its transfers; a flow is a (source router, destination routers) pair
with the bytes of every transfer between them per inference (one destination each, unless the
target's routers multicast: then a producer chunk's consumers' routers together).  ``apply``
records a `cimopt.targets.noc.RouteTable` in ``ctx.decisions["routing"]``; the scheduling stage
builds its transfers on those routes, each holding its links.  The objective is the largest
link load (ns per inference), the bound the cut bound (`cimopt.solver.routing.bounds`).
"""
from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass

from cimopt.solver.context import Context
from cimopt.solver.interface import Method, Stage
from cimopt.solver.routing import (
    exact as rx, generator as routing_generator, heuristic as rh, solution_format as routing_solutions)
from cimopt.solver.routing.bounds import cut_bound
from cimopt.solver.routing.problem import (byte_hops, check, Flow, max_link_load_ns, NocLink, Route, Routing,
                                           RoutingProblem)
from cimopt.solver.routing.steiner import exact_tree, EXACT_MAX_DSTS, kou_tree
from cimopt.solver.scheduling.tasks import build_tasks
from cimopt.solver.stats import SolverOptions, SolveStats, Status
from cimopt.targets.noc import default_tree, flow_key, noc_graph, RouteTable
from cimopt.targets.spec import Target


def half_planes(target: Target) -> tuple[tuple[int, ...], ...]:
    """The routers left of each column boundary and above each row boundary of a mesh or torus
    (the bisections among them); none for another topology."""
    if target.noc_spec.topology not in ("mesh", "torus"):
        return ()
    rows, cols = target.chip.mesh_rows, target.chip.mesh_cols
    out = [tuple(r * cols + c for r in range(rows) for c in range(k)) for k in range(1, cols)]
    out += [tuple(range(k * cols)) for k in range(1, rows)]
    return tuple(out)


def routing_problem(target: Target, transfers: list[tuple[int, tuple[int, ...], int]]) -> RoutingProblem:
    """The flows of ``transfers`` (source core, destination cores, bytes) on the target's network."""
    g = noc_graph(target)
    total: dict[tuple[int, tuple[int, ...]], int] = defaultdict(int)
    example: dict[tuple[int, tuple[int, ...]], tuple[int, tuple[int, ...]]] = {}
    for src, dsts, nbytes in transfers:
        key = flow_key(target, src, dsts)
        if key[1]:
            total[key] += nbytes
            example.setdefault(key, (src, dsts))
    keys = sorted(total)
    return RoutingProblem(
        g.number_of_nodes(),
        tuple(NocLink(u, v, e["bandwidth"]) for u, v, e in sorted(g.edges(data=True))),
        tuple(Flow(k[0], k[1], total[k]) for k in keys),
        tuple(default_tree(target, *example[k]) for k in keys),
        half_planes(target), target.multicast)


def steiner_routes(problem: RoutingProblem, options: SolverOptions) -> tuple[tuple[Route, ...], bool]:
    """Each flow on its fewest-link path or tree: the exact Steiner ILP up to `EXACT_MAX_DSTS`
    destinations (Dijkstra for one), Kou's tree above; and whether every tree was proved lightest."""
    g = problem.graph()
    for _, _, e in g.edges(data=True):
        e["hops"] = 1
    out, proved = [], True
    for f in problem.flows:
        if len(f.dsts) > EXACT_MAX_DSTS:
            out.append(kou_tree(g, f.src, f.dsts, "hops"))
            proved = False
            continue
        tree, status, _ = exact_tree(g, f.src, f.dsts, "hops", options) if len(f.dsts) > 1 else (
            kou_tree(g, f.src, f.dsts, "hops"), Status.OPTIMAL, 0.0)
        proved = proved and status is Status.OPTIMAL
        out.append(tree)
    return tuple(out), proved


@dataclass(frozen=True)
class Routed:
    """The routes of a `RoutingProblem`'s flows, with the flows (what ``apply`` records)."""

    routing: Routing
    flows: tuple[Flow, ...]


class RoutingStage(Stage[RoutingProblem, Routed]):
    name = "routing"
    methods = (
        Method("xy", "heuristic", "dimension-order routes (XY on a mesh; the routers' own, the baseline)"),
        Method("dijkstra", "heuristic", "Dijkstra on congestion-weighted links, rip-up and reroute; multicast "
                                        "trees by the MST of the metric closure (Kou); never worse than xy"),
        Method("steiner", "heuristic", f"each flow its fewest-link path or tree (exact Steiner ILP up to "
                                       f"{EXACT_MAX_DSTS} destinations, Kou above); congestion-blind"),
        Method("mcf", "exact/LNS", f"multi-commodity flow minimising the largest link load, CP-SAT hinted with "
                                   f"dijkstra, up to {rx.FULL_MODEL_MAX_VARS} Booleans; LNS on the flows of "
                                   f"the hottest links above"),
    )
    heuristic = "dijkstra"
    exact = "mcf"
    problem_type = RoutingProblem
    unit = "ns"
    solution_format = routing_solutions
    generator = routing_generator

    def build(self, ctx: Context) -> RoutingProblem:
        assert ctx.mapping is not None, "placement has not run"
        tg = build_tasks(ctx.graph, ctx.workload, ctx.target, ctx.mapping, ctx.chunks, ctx.rows_per_conversion,
                         ctx.decisions.get("granularity"))
        transfers = [(t.src_core, t.dst_cores or (t.dst_core,), t.nbytes) for t in tg.tasks
                     if t.kind == "transfer" and t.src_core >= 0 and t.dst_core >= 0]
        return routing_problem(ctx.target, transfers)

    def solve(self, problem: RoutingProblem, method: str, options: SolverOptions) -> tuple[Routed, SolveStats]:
        self.method(method)
        t0 = time.perf_counter()
        if method == "mcf":
            routes, stats = rx.solve_exact(problem, rh.dijkstra(problem), options, method)
            return Routed(Routing(routes), problem.flows), stats
        proved = False
        if method == "xy":
            routes = rh.xy(problem)
        elif method == "dijkstra":
            routes = rh.dijkstra(problem)
        else:
            routes, proved = steiner_routes(problem, options)
        bad = check(problem, routes)
        assert not bad, bad[:3]
        obj = max_link_load_ns(problem, routes)
        bound, kind = cut_bound(problem)
        status = Status.OPTIMAL if obj <= bound * (1 + 1e-9) + 1e-9 else Status.FEASIBLE
        note = f"{byte_hops(problem, routes):.0f} byte-hops" + ("; every tree proved lightest" if proved else "")
        return Routed(Routing(routes), problem.flows), SolveStats(
            "routing", method, status, obj, bound, time.perf_counter() - t0, kind, False, note)

    def apply(self, ctx: Context, solution: Routed) -> None:
        table: RouteTable = {(f.src, f.dsts): r for f, r in zip(solution.flows, solution.routing.routes)}
        ctx.decisions["routing"] = table
