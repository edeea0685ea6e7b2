"""The replication stage: copies of each layer's weights under the crossbar budget, or, when one
copy of everything does not fit the budget, segments reprogrammed in turn (`segmentation`).

Methods ``none``, ``uniform``, ``balance`` and ``cpsat`` replicate a model that fits; the
``segment-*`` methods cut it into segments.  The instance fixes which: a model that fits is one
segment (its weights stay on the chip; objective the bottleneck or critical path), a model that
does not is segmented (objective the segments' values plus their reprogramming).  So a model that
does not fit is segmented whatever method was asked for (``segment-dp-balance`` for a heuristic,
``segment-dp`` for an exact method), a model that fits is replicated whatever segment method was
asked for (``cpsat`` for ``segment-dp`` and ``segment-cpsat``, ``balance`` for the others), and
the stats name the method that ran (``produced_by``).  One objective per instance keeps every
method's bound valid for every other: segmenting a model that fits (reprogramming every
inference, each segment with the whole chip) is another problem, whose solutions the
replication bounds do not bound.
"""
from __future__ import annotations

from dataclasses import replace

from cimopt.ir.chunks import chunk_axis, WHOLE
from cimopt.ir.graph import OpClass
from cimopt.solver.context import Context
from cimopt.solver.interface import Method, Stage
from cimopt.solver.mapping import Mapping
from cimopt.solver.replication import (
    exact as rx, generator as replication_generator, heuristic as rp, solution_format as replication_solutions)
from cimopt.solver.replication.problem import Replicated, ReplicationInstance
from cimopt.solver.scheduling.vector_cores import vector_parallelism
from cimopt.solver.segmentation import heuristic as sg
from cimopt.solver.stats import SolverOptions, SolveStats
from cimopt.targets.physics import timing


#: segmentation method -> (`segmentation.segment` method, replication inside each segment)
_SEGMENT = {"segment-greedy": ("greedy", "balance"), "segment-dp-balance": ("dp", "balance"),
            "segment-dp": ("dp", "exact"), "segment-cpsat": ("cpsat", "exact")}


def solve_replication(p: rp.ReplicationProblem, method: str,
                      options: SolverOptions) -> tuple[rp.Replication, SolveStats]:
    """A model that fits, replicated with ``none``, ``uniform``, ``balance`` or ``cpsat``."""
    if method == "cpsat":
        return rx.solve_exact(p, options)
    return rp.solve(p, method, options)


class ReplicationStage(Stage[ReplicationInstance, Replicated]):
    name = "replication"
    methods = (
        Method("none", "heuristic", "one copy of every layer (PUMA-like)"),
        Method("uniform", "heuristic", "the largest common copy count that fits"),
        Method("balance", "heuristic", "copies to the bottleneck layer while crossbars remain (PIMCOMP-like)"),
        Method("cpsat", "exact", "CP-SAT over useful copy counts, hinted with balance"),
        Method("segment-greedy", "heuristic", "first-fit segments in topological order, balance inside"),
        Method("segment-dp-balance", "heuristic", "DP over cuts of the topological order, balance inside each segment"),
        Method("segment-dp", "heuristic", "DP over cuts of the topological order, CP-SAT replication inside "
                                         "(exact when the graph is a chain, its only order)"),
        Method("segment-cpsat", "exact", "CP-SAT over layer-to-segment assignment and copies, hinted with the DP "
                                            f"(graphs of at most {sg.MAX_CPSAT_LAYERS} layers)"),
    )
    heuristic = "balance"
    exact = "cpsat"
    problem_type = ReplicationInstance
    unit = "ns"
    solution_format = replication_solutions
    generator = replication_generator

    def build(self, ctx: Context) -> ReplicationInstance:
        """Layers for the replication solvers; a crossbar op's copies are capped by its chunk
        units (`cimopt.ir.chunks`: a Conv's output vectors, a MatMul's rows; the chunks its copies
        share), ops with no chunk axis (ConvTranspose) get one copy."""
        assert ctx.tiles is not None, "tiling has not run"
        wl, cm, graph = ctx.workload, ctx.cost, ctx.graph
        index = {op.name: i for i, op in enumerate(wl.ops)}
        layers = []
        for op in wl.ops:
            c = cm.op(op, 1)
            if op.op_class is OpClass.CROSSBAR and op.matrix is not None:
                tiles = ctx.tiles[op.name]
                # crossbars are written in parallel: a copy's reprogramming time is its slowest crossbar
                # (a written operand is written per inference, in fixed_ns, not per segment)
                prog = 0.0 if op.written else max(
                    (timing.write_task(ctx.target, t.rows_used, t.cols_used).latency_ns for t in tiles), default=0.0)
                ax = chunk_axis(graph, graph.op(op.name))
                cap = 1 if ax.axis == WHOLE else ax.rows
                # copies share whole chunk units (`solver.scheduling.tasks`): a Conv's vectors, a MatMul's rows
                rows_whole = ax.axis != WHOLE and ax.rows * ax.vectors_per_row == op.matrix.vectors
                granule = ax.vectors_per_row if rows_whole else 1
                layers.append(rp.Layer(op.name, len(tiles), op.matrix.vectors, c.interval_ns, c.fixed_ns, cap, prog,
                                       granule))
            elif op.op_class is OpClass.VECTOR:
                # a vector op's row chunks run on several vector units at once
                layers.append(rp.Layer(op.name, 0, 1, c.latency_ns / vector_parallelism(graph, graph.op(op.name),
                                                                                          ctx.target), 0.0, 1, 0.0))
            else:
                layers.append(rp.Layer(op.name, 0, 1, c.latency_ns, 0.0, 1, 0.0))
        edges = tuple(sorted({(index[a], index[b]) for a, b, _ in wl.edges}))
        problem = rp.ReplicationProblem(tuple(layers), edges, ctx.budget, ctx.mode)
        return ReplicationInstance(problem, tuple(op.name for op in wl.ops))

    def solve(self, problem: ReplicationInstance, method: str,
              options: SolverOptions) -> tuple[Replicated, SolveStats]:
        chosen = self.method(method)
        p = problem.problem
        if problem.fits:
            ran = method if method not in _SEGMENT else ("cpsat" if _SEGMENT[method][1] == "exact" else "balance")
            rep, st = solve_replication(p, ran, options)
            note = "" if ran == method else f"the model fits: one segment, replicated by {ran} instead of {method}"
            return Replicated(rep.copies, (tuple(range(len(p.layers))),)), replace(
                st, method=ran, note="; ".join(x for x in (note, st.note) if x))
        seg_method = method
        note = ""
        if method not in _SEGMENT:
            seg_method = "segment-dp" if chosen.exact else "segment-dp-balance"
            note = (f"one copy needs {p.one_copy_crossbars} crossbars, the budget is {p.budget}: "
                    f"segmented with {seg_method} instead of {method}")
        how, inner = _SEGMENT[seg_method]
        seg, st = sg.segment(p, how, options, inner=inner)
        stats = replace(st, stage=self.name, method=seg_method,
                        note="; ".join(x for x in (note, st.note) if x))
        return Replicated(seg.copies, tuple(tuple(m) for m in seg.members())), stats

    def apply(self, ctx: Context, solution: Replicated) -> None:
        assert ctx.tiles is not None, "tiling has not run"
        ops = [op.name for op in ctx.workload.ops]
        segments = [[ops[i] for i in seg] for seg in solution.segments]
        ctx.mapping = Mapping(segments, dict(zip(ops, solution.copies)), ctx.tiles)
