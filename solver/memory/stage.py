"""The memory stage: every dynamic tensor's buffer in a memory space at a byte offset.

Lifetimes come from the schedule; a tensor's home is its producer's core's local buffer (graph
inputs and host outputs the global buffer).  ``build`` applies the spill rule
(`cimopt.solver.memory.heuristic.assign_spaces`: when a space is full, buffers move down the chain local ->
global -> DRAM), so the instance holds every buffer in the space it is planned in: the spill
choice is part of the instance, every method places the same buffers in the same spaces, and the
bound (the sum over spaces of max-live) is valid whatever method runs.  The objective is the sum
of the spaces' peaks, bytes.  In throughput mode ``copies`` inferences are in flight, each with
its own region, so every space offers 1/copies of its capacity to one inference's plan.
"""
from __future__ import annotations

import math
from dataclasses import replace

from cimopt.ir.graph import Graph
from cimopt.solver.context import Context
from cimopt.solver.interface import Method, Stage
from cimopt.solver.memory import generator as memory_generator, heuristic as mem, solution_format as memory_solutions
from cimopt.solver.memory.exact import FULL_MODEL_MAX
from cimopt.solver.memory.problem import MemoryInstance, MemoryResult
from cimopt.solver.scheduling.tasks import TaskGraph
from cimopt.solver.stats import SolverOptions, SolveStats
from cimopt.targets.spec import Target

DRAM_BYTES = 1 << 50
ALIGN = 64


def local_space(core: int) -> str:
    """Name of core ``core``'s local buffer as a memory space."""
    return f"core{core}.local"


def copies_in_flight(makespan_ns: int, interval_ns: int) -> int:
    """Inferences whose buffers are live at once when one starts every ``interval_ns``."""
    return 1 if interval_ns >= makespan_ns or interval_ns <= 0 else math.ceil(makespan_ns / interval_ns) + 1


def buffer_problem(graph: Graph, tg: TaskGraph, start: tuple[int, ...] | list[int], makespan: int, target: Target,
                   copies: int) -> mem.MemoryProblem:
    """Every dynamic tensor's live interval (ns) and home space (its producer's core, or global)."""
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
    return mem.MemoryProblem(buffers, mem.FrozenMap(cap), mem.FrozenMap(spill), ALIGN)


class MemoryStage(Stage[MemoryInstance, MemoryResult]):
    name = "memory"
    methods = (
        Method("greedy", "heuristic", "interval colouring for slots, greedy-by-size offsets"),
        Method("cpsat", "exact/LNS", "CP-SAT NoOverlap2D per space, decomposed at idle points, hinted with "
                                     f"greedy-by-size: whole segments up to {FULL_MODEL_MAX} buffers, LNS on larger ones"),
    )
    heuristic = "greedy"
    exact = "cpsat"
    problem_type = MemoryInstance
    unit = "bytes"
    solution_format = memory_solutions
    generator = memory_generator

    def build(self, ctx: Context) -> MemoryInstance:
        assert ctx.tasks is not None and ctx.schedule is not None, "scheduling has not run"
        copies = copies_in_flight(ctx.makespan_ns, ctx.interval_ns)
        homes = buffer_problem(ctx.graph, ctx.tasks, ctx.schedule.start_ns, ctx.makespan_ns, ctx.target, copies)
        problem, moves = mem.assign_spaces(homes)
        return MemoryInstance(problem, copies, moves)

    def solve(self, problem: MemoryInstance, method: str,
              options: SolverOptions) -> tuple[MemoryResult, SolveStats]:
        self.method(method)
        plan, stats = mem.plan(problem.problem, "exact" if method == "cpsat" else "greedy", options)
        if problem.spilled:
            to: dict[str, int] = {}
            for _, dst, n in problem.spilled:
                to[dst] = to.get(dst, 0) + n
            moved = ", ".join(f"{n} to {dst}" for dst, n in sorted(to.items()))
            said = f"the instance's spill rule moved buffers: {moved}"
            stats = replace(stats, note="; ".join(x for x in (said, stats.note) if x))
        return MemoryResult(problem, plan), stats

    def apply(self, ctx: Context, solution: MemoryResult) -> None:
        ctx.memory = solution
