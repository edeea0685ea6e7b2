"""The granularity stage: how many MVM chunks each crossbar op is cut into (`problem`).

``build`` reads the copies (replication), the ops' chunk axes (`cimopt.ir.chunks`) and their
MVM costs; ``apply`` records, per crossbar op, its number of chunks (copies x chunks per copy) in
``Context.decisions["granularity"]``, which the scheduling stage's task graph uses
(`cimopt.solver.scheduling.tasks.op_chunks`).  Vector ops keep their own chunking rule and enter
the estimate with fixed times."""
from __future__ import annotations

import math

from cimopt.ir.chunks import chunk_axis, WHOLE
from cimopt.ir.graph import OpClass
from cimopt.solver.context import Context
from cimopt.solver.granularity import exact, generator as granularity_generator, heuristic
from cimopt.solver.granularity import solution_format as granularity_solutions
from cimopt.solver.granularity.problem import ChunkOp, Granularity, GranularityInstance, GranularityProblem
from cimopt.solver.interface import Method, Stage
from cimopt.solver.scheduling.tasks import crossbar_bottleneck, vector_chunk_count
from cimopt.solver.stats import SolverOptions, SolveStats

#: most chunks per copy offered to an op
K_CAP = 64


class GranularityStage(Stage[GranularityInstance, Granularity]):
    name = "granularity"
    methods = (
        Method("greedy", "heuristic", "from the fewest chunks, double the chunks of the op that lowers the "
                                      "estimated makespan most per added task, within the task budget"),
        Method("cpsat", "exact", "CP-SAT over every op's chunks per copy, hinted with greedy"),
    )
    heuristic = "greedy"
    exact = "cpsat"
    problem_type = GranularityInstance
    unit = "ns"
    solution_format = granularity_solutions
    generator = granularity_generator

    def build(self, ctx: Context) -> GranularityInstance:
        """Every op of the workload in order: a crossbar op with copies is decided (``k_min``: the
        requested ``ctx.chunks`` per op, as a multiple of its copies; ``k_max``: one unit per
        chunk or `K_CAP` chunks per copy); the others have fixed times.  Budget: ``ctx.task_budget``
        MVM tasks in all (every segment), at least one task per copy."""
        assert ctx.mapping is not None, "replication has not run"
        graph, wl, cm = ctx.graph, ctx.workload, ctx.cost
        index = {op.name: i for i, op in enumerate(wl.ops)}
        bottleneck = crossbar_bottleneck(wl, ctx.target, ctx.mapping, ctx.rows_per_conversion)
        ops = []
        for op in wl.ops:
            c = cm.op(op, 1)
            copies = ctx.mapping.copies.get(op.name, 0)
            spec = graph.op(op.name)
            if op.op_class is OpClass.CROSSBAR and op.matrix is not None and copies > 0:
                ax = chunk_axis(graph, spec)
                if ax.axis != WHOLE:
                    units = ax.rows
                    k_min = -(-max(1, min(ctx.chunks, units)) // copies)
                    k_max = max(k_min, min(K_CAP, units // copies))
                    ops.append(ChunkOp(op.name, copies, units, math.ceil(c.interval_ns * ax.vectors_per_row),
                                       math.ceil(c.fixed_ns), k_min, k_max))
                    continue
            t = math.ceil(c.latency_ns)
            if op.op_class is OpClass.VECTOR:   # its chunks on as many vector units (`tasks.vector_chunk_count`)
                n = vector_chunk_count(graph, op, ctx.target, ctx.chunks, bottleneck)
                ops.append(ChunkOp(op.name, 0, 0, 0, 0, t_fixed=math.ceil(t / min(n, ctx.target.cores)),
                                   c_fixed=math.ceil(t / n)))
            else:
                ops.append(ChunkOp(op.name, 0, 0, 0, 0, t_fixed=t, c_fixed=t))
        edges = tuple(sorted({(index[a], index[b]) for a, b, _ in wl.edges}))
        p0 = sum(o.copies * o.k_min for o in ops)
        return GranularityInstance(GranularityProblem(tuple(ops), edges, ctx.effective_mode,
                                                      max(ctx.task_budget, p0)))

    def solve(self, problem: GranularityInstance, method: str,
              options: SolverOptions) -> tuple[Granularity, SolveStats]:
        chosen = self.method(method)
        if chosen.name == "cpsat":
            return exact.solve(problem.problem, options)
        return heuristic.solve(problem.problem, options)

    def apply(self, ctx: Context, solution: Granularity) -> None:
        ctx.decisions[self.name] = dict(solution.counts)
