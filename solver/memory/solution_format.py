"""Memory solution files: a space and byte offset per buffer; `verify` checks spaces, alignment,
overlaps and capacities and recomputes the sum of the spaces' peaks."""
from __future__ import annotations

from typing import Any

from cimopt.solver.memory import heuristic as mem
from cimopt.solver.memory.problem import MemoryInstance, MemoryPlan, MemoryResult
from cimopt.solver.solution_verdict import array_schema, object_schema, require_length, SolutionError, Verdict

#: the objective: (unit, what is minimised and how it is computed from an instance and a solution)
OBJECTIVE: tuple[str, str] = ("bytes", " ".join("""
Minimise the sum over memory spaces of the space's peak: max(offset + size rounded up to the
alignment) over the buffers placed in it (a buffer of size 0 or an empty lifetime occupies nothing),
bytes. Each buffer sits in its space (the instance's: the spill rule, assign_spaces in
solver/memory/heuristic.py, applied when it was built; an exported instance holds it already) at a
non-negative multiple of the alignment; buffers of one space live at the same time [start_ns,
end_ns) do not overlap in address; every peak is at most the space's capacity.
""".split()))


def body(inst: MemoryInstance, s: MemoryResult) -> dict[str, Any]:
    """The space and byte offset of every buffer."""
    return {"space": list(s.plan.space_of), "offset_bytes": list(s.plan.offset)}


def verify(inst: MemoryInstance, body: dict[str, Any]) -> Verdict:
    """The sum of the spaces' peaks (bytes) and every violation, a buffer moved off its planned space included."""
    p = inst.problem
    spaces, offsets = body["space"], body["offset_bytes"]
    require_length("space", spaces, len(p.buffers), "buffers")
    require_length("offset_bytes", offsets, len(p.buffers), "buffers")
    unknown = sorted({s for s in spaces if s not in p.capacity})
    if unknown:
        raise SolutionError(f"solution.space: unknown space(s) {', '.join(map(repr, unknown))}; the instance's "
                            f"spaces are {', '.join(p.capacity)}")
    peak, slot = {}, [0] * len(p.buffers)
    for space in p.capacity:
        members = [i for i, b in enumerate(p.buffers) if spaces[i] == space and b.size_bytes > 0
                   and b.end_ns > b.start_ns]
        peak[space] = mem.peak_bytes([p.buffers[i] for i in members], [offsets[i] for i in members], p.alignment)
        for i, c in zip(members, mem.colour_slots([p.buffers[i] for i in members])):
            slot[i] = c
    plan = MemoryPlan(tuple(spaces), tuple(offsets), tuple(slot), peak)
    # the spill choice is part of the instance (`cimopt.solver.memory.heuristic.assign_spaces`,
    # which the stage's `build` applies): a buffer moved elsewhere would change the problem, and
    # the bound would not hold for it
    assigned = mem.assign_spaces(p)[0].buffers
    moved = [f"buffer {b.name}: in {spaces[i]}, the instance plans it in {assigned[i].space} (the spill rule "
             "is part of the instance)" for i, b in enumerate(p.buffers)
             if spaces[i] != assigned[i].space and spaces[i] in p.capacity]
    return Verdict(float(plan.total_peak), tuple(mem.check(p, plan)) + tuple(moved))


#: JSON Schema of a solution body (`body`)
SCHEMA: dict[str, Any] = object_schema(
    {
        "space": array_schema({"type": "string"}, "memory space of every buffer (instance order)"),
        "offset_bytes": array_schema({"type": "integer"}, "byte offset of every buffer in its space"),
    },
    required=["space", "offset_bytes"],
)
