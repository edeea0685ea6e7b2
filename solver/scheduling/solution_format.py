"""Scheduling solution files: every task's start (and the II in throughput mode) as JSON, read
back and checked by `verify`, which recomputes the makespan or II from the instance."""
from __future__ import annotations

from typing import Any

from cimopt.solver.scheduling.problem import check, Schedule, ScheduleResult, SchedulingInstance
from cimopt.solver.solution_verdict import array_schema, object_schema, require_length, SolutionError, Verdict

#: the objective: (unit, what is minimised and how it is computed from an instance and a solution)
OBJECTIVE: tuple[str, str] = ("ns", " ".join("""
Latency mode: minimise the makespan max_i (start_i + duration_i), ns, subject to start_i >=
release_i, start_s >= start_p + duration_p + delay for every edge (p, s, delay), no two tasks of a
resource overlapping. Throughput mode: minimise the initiation interval II (ns; inference k runs
task i at start_i + k * II): the same precedence and releases, every task no longer than II, and the
tasks of a resource disjoint modulo II.
""".split()))


def body(inst: SchedulingInstance, s: ScheduleResult) -> dict[str, Any]:
    """The start times (and the II in throughput mode)."""
    body: dict[str, Any] = {"start_ns": list(s.schedule.start_ns)}
    if inst.mode == "throughput":
        body["initiation_interval_ns"] = s.schedule.initiation_interval_ns
    return body


def verify(inst: SchedulingInstance, body: dict[str, Any]) -> Verdict:
    """The makespan (latency) or II (throughput), ns, and every violation (`check`)."""
    p = inst.problem
    start = body["start_ns"]
    require_length("start_ns", start, len(p.tasks), "tasks")
    makespan = max((s + t.duration_ns for s, t in zip(start, p.tasks)), default=0)
    if inst.mode == "throughput":
        if "initiation_interval_ns" not in body:
            raise SolutionError("solution.initiation_interval_ns: missing (the instance is in throughput mode)")
        ii = int(body["initiation_interval_ns"])
        return Verdict(float(ii), tuple(check(p, Schedule(tuple(start), makespan, ii), "throughput")))
    if "initiation_interval_ns" in body:
        raise SolutionError("solution.initiation_interval_ns: the instance is in latency mode, which has none")
    return Verdict(float(makespan), tuple(check(p, Schedule(tuple(start), makespan, makespan), "latency")))


#: JSON Schema of a solution body (`body`)
SCHEMA: dict[str, Any] = object_schema(
    {
        "start_ns": array_schema({"type": "integer"}, "start time of every task (instance order), ns"),
        "initiation_interval_ns": {"type": "integer", "minimum": 1,
                                   "description": "throughput mode only (required there): the initiation interval, ns"},
    },
    required=["start_ns"],
)
