"""From a scheduled task graph and a memory plan to the Program (executable schedule)."""
from __future__ import annotations

import math

from cimopt.ir.graph import Graph
from cimopt.ir.program import Access, BufferPlan, Instruction, TileWrite
from cimopt.solver import memory as mem
from cimopt.solver.stats import SolveStats, SolverOptions
from cimopt.targets.spec import Target

from .tasks import TaskGraph

DRAM_BYTES = 1 << 50
ALIGN = 64


def local_space(core: int) -> str:
    return f"core{core}.local"


def buffer_problem(graph: Graph, tg: TaskGraph, start: list[int], makespan: int, target: Target,
                   copies: int) -> tuple[mem.MemoryProblem, list[str]]:
    """Every dynamic tensor's live interval and home space (its producer's core, or global)."""
    first: dict[str, int] = {}
    last: dict[str, int] = {}
    space: dict[str, str] = {}
    for i, t in enumerate(tg.tasks):
        end = start[i] + t.duration_ns
        for tensor, *_ in t.writes:
            first[tensor] = min(first.get(tensor, start[i]), start[i])
            last[tensor] = max(last.get(tensor, end), end)
            if tensor not in space:
                space[tensor] = local_space(t.core) if t.core >= 0 else "global"
        for tensor, *_ in t.reads:
            last[tensor] = max(last.get(tensor, end), end)
    for t in graph.inputs:
        first[t] = 0
        space[t] = "global"
        last.setdefault(t, 1)
    for t in graph.outputs:
        last[t] = max(makespan, first.get(t, 0) + 1)
    names = [t for t in sorted(first, key=lambda x: (first[x], x)) if t in space]
    buffers = tuple(mem.Buffer(t, graph.spec(t).nbytes, first[t], max(last[t], first[t] + 1), space[t])
                    for t in names)
    cap: dict[str, int] = {local_space(c): target.core.local_buffer_bytes // copies for c in range(target.cores)}
    cap["global"] = target.chip.global_buffer_bytes // copies
    cap["dram"] = DRAM_BYTES
    spill: dict[str, str | None] = {local_space(c): "global" for c in range(target.cores)}
    spill["global"] = "dram"
    spill["dram"] = None
    return mem.MemoryProblem(buffers, mem.FrozenMap(cap), mem.FrozenMap(spill), ALIGN), names


def plan_memory(graph: Graph, tg: TaskGraph, start: list[int], makespan: int, ii: int, target: Target,
                method: str, options: SolverOptions
                ) -> tuple[tuple[BufferPlan, ...], dict[str, tuple[str, int]], dict[str, int], int, SolveStats, dict[str, int]]:
    """Plan buffers; returns plans, tensor -> (space, offset), space sizes, copies in flight, stats, bounds."""
    copies = 1 if ii >= makespan or ii <= 0 else math.ceil(makespan / ii) + 1
    problem, names = buffer_problem(graph, tg, start, makespan, target, copies)
    plan, stats = mem.plan(problem, "exact" if method == "exact" else "greedy", options)
    where = {n: (plan.space_of[i], plan.offset[i]) for i, n in enumerate(names)}
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
    return tuple(plans), where, spaces, copies, stats, bounds


def _round(n: int) -> int:
    return (n + ALIGN - 1) // ALIGN * ALIGN


def instructions(tg: TaskGraph, start: list[int], where: dict[str, tuple[str, int]]) -> tuple[Instruction, ...]:
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
            src_core=t.src_core, dst_core=t.dst_core, tile=t.tile, energy_pj=round(t.energy_pj, 6)))
    return tuple(out)


def programming(tg: TaskGraph, where_tiles: dict[tuple[str, int], list], seg0_ops: set[str]) -> tuple[TileWrite, ...]:
    from .tasks import tile_write

    out = []
    for (op, r), slots in sorted(where_tiles.items()):
        if op in seg0_ops:
            out.extend(tile_write(core, x, t, r, 0) for core, x, t in slots)
    return tuple(out)
