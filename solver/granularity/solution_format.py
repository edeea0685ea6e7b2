"""Granularity solution files: chunks per copy of every op; `verify` checks the ranges and the
task budget and recomputes the estimate (`problem.objective`)."""
from __future__ import annotations

from typing import Any

from cimopt.solver.granularity.problem import Granularity, objective, violations
from cimopt.solver.solution_verdict import array_schema, object_schema, require_length, Verdict

#: the objective: (unit, what is minimised and how it is computed from an instance and a solution)
OBJECTIVE: tuple[str, str] = ("ns", " ".join("""
Choose k_l chunks per copy of every decided op (copies > 0) in [k_min, k_max] (1 for the others),
sum copies_l * k_l <= budget. With t_l = k_l * fixed_ns + ceil(units / copies) * unit_ns and c_l =
fixed_ns + ceil(units / (copies * k_l)) * unit_ns (t_fixed, c_fixed for ops not decided): latency
mode minimises max_v finish_v, start_v = max over edges (u, v) of start_u + c_u, finish_v =
max(start_v + t_v, max over edges (u, v) of finish_u + c_v), ns; throughput mode minimises max_l t_l.
""".split()))


def body(inst: Any, s: Granularity) -> dict[str, Any]:
    """The chunks per copy of every op."""
    return {"chunks_per_copy": list(s.per_copy)}


def verify(inst: Any, body: dict[str, Any]) -> Verdict:
    """The estimate (ns) and every violation."""
    p = inst.problem
    k = tuple(int(x) for x in body["chunks_per_copy"])
    require_length("chunks_per_copy", list(k), len(p.ops), "ops")
    return Verdict(float(objective(p, k)), tuple(violations(p, k)))


#: JSON Schema of a solution body (`body`)
SCHEMA: dict[str, Any] = object_schema(
    {"chunks_per_copy": array_schema({"type": "integer", "minimum": 1}, "chunks per copy of every op (instance order)")},
    required=["chunks_per_copy"],
)
