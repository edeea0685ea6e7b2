"""From the stages' decisions to the Program (executable schedule): instructions, the memory
plan's buffers for every inference in flight, the crossbar programming map."""
from __future__ import annotations

from cimopt.ir.program import Access, BufferPlan, Instruction, TileWrite
from cimopt.solver.mapping import Mapping
from cimopt.solver.memory import heuristic as mem
from cimopt.solver.memory.problem import MemoryInstance
from cimopt.solver.memory.stage import ALIGN
from cimopt.solver.scheduling.tasks import TaskGraph, tile_write


def _round(n: int) -> int:
    return (n + ALIGN - 1) // ALIGN * ALIGN


def buffers(inst: MemoryInstance, plan: mem.MemoryPlan
            ) -> tuple[tuple[BufferPlan, ...], dict[str, tuple[str, int]], dict[str, int], dict[str, int]]:
    """The plan's buffers, one region per inference in flight; returns the buffer plans, tensor ->
    (space, offset), bytes reserved per space (all copies), and the max-live bound per space (bytes)."""
    problem, copies = inst.problem, inst.copies
    where = {b.name: (plan.space_of[i], plan.offset[i]) for i, b in enumerate(problem.buffers)}
    peak = dict(plan.peak)
    plans = []
    for k in range(copies):
        for i, b in enumerate(problem.buffers):
            sp = plan.space_of[i]
            # times relative to the start of the plan's own inference; copy k serves inferences
            # j with j mod copies == k, in a region of its own
            plans.append(BufferPlan(b.name, sp, plan.offset[i] + k * _round(peak[sp]), b.size_bytes,
                                    b.start_ns, b.end_ns, k))
    spaces = {sp: _round(p) * copies for sp, p in peak.items() if p > 0}
    for sp in {p.space for p in plans}:
        spaces.setdefault(sp, ALIGN)
    bounds: dict[str, int] = {}
    for sp in spaces:
        members = [b for i, b in enumerate(problem.buffers) if plan.space_of[i] == sp]
        bounds[sp] = mem.max_live(members, ALIGN)
    return tuple(plans), where, spaces, bounds


def instructions(tg: TaskGraph, start: tuple[int, ...] | list[int],
                 where: dict[str, tuple[str, int]]) -> tuple[Instruction, ...]:
    """One instruction per task, at its scheduled start, reading and writing the planned addresses."""
    preds: dict[int, list[int]] = {}
    for a, b in tg.edges:
        preds.setdefault(b, []).append(a)

    def access(items: list[tuple[str, int, int, int]]) -> tuple[Access, ...]:
        out = []
        for tensor, axis, r0, r1 in items:
            if tensor not in where:
                continue
            sp, off = where[tensor]
            out.append(Access(tensor, sp, off, axis, r0, r1))
        return tuple(out)

    out = []
    for i, t in enumerate(tg.tasks):
        out.append(Instruction(
            id=i, kind=t.kind, unit=t.unit, resource=t.resource, start_ns=start[i], end_ns=start[i] + t.duration_ns,
            deps=tuple(sorted(preds.get(i, ()))), op=t.op, replica=t.replica, segment=t.segment,
            crossbars=t.crossbars, reads=access(t.reads), writes=access(t.writes), nbytes=t.nbytes,
            src_core=t.src_core, dst_core=t.dst_core, tile=t.tile, energy_pj=round(t.energy_pj, 6),
            rows_per_conversion=t.rows_per_conversion, tiles=t.tiles, route=t.route, dst_cores=t.dst_cores))
    return tuple(out)


def programming(mapping: Mapping, written: frozenset[str] = frozenset()) -> tuple[TileWrite, ...]:
    """The crossbar state before time 0: every tile of the first segment's ops, but those of the
    ``written`` ops (`ir.written`: their operand_write instructions set them at run time)."""
    seg0 = set(mapping.segments[0]) - written
    out = []
    for (op, r), slots in sorted(mapping.where.items()):
        if op in seg0:
            out.extend(tile_write(core, x, t, r, 0) for core, x, t in slots)
    return tuple(out)
