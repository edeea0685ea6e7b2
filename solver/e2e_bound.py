"""End-to-end bounds: lower bounds on the mode's objective for every mapping of the model.

Objective: latency mode, the makespan of one inference (ns); throughput mode, the time per
inference in a stream (ns: initiation interval over inferences per interval).  Two bounds:

* `end_to_end_bound`, the **granularity-free bound**: valid for every mapping the chip allows at
  any chunk size, one output vector per task included (nothing below assumes the compiler's
  rows).  Its classes, per resource, the work that must be done over the units that can do it:

  - ``crossbar``: every input vector of a crossbar op passes through one whole copy of its
    weights, each crossbar of the copy busy ``interval_ns`` per vector, and every op runs at
    least one MVM instruction, whose pipeline fill (``fixed_ns`` less a written operand's write)
    holds the crossbars of its copy too: `crossbar_work_ns`, the *physical limit* (every
    crossbar busy all the time on that work).  When the model fits, also the least bottleneck
    whose whole copies fit the chip's crossbars, vectors split between copies in any proportion
    (`shared_fill_copies_ns`: an op's copies share at least one fill per interval, and may take
    turns over intervals).
  - ``vector``: vector ops run only on the cores' vector units (legalisation), so their summed
    time over all vector units (a task's time is superadditive: splitting adds); each op at
    least its time over as many units as it has output elements.  An op fused into a crossbar
    op's output stage (`ir.passes.epilogue_fusion`) is a stage of that op's pipeline, in
    ``interval_ns``.
  - ``host``: host ops on the one host, summed; a MatMul of two activations that could be
    written into crossbars instead (`cost.matmul_units.candidate`) counts in no work class.
  - crossbar-written MatMuls (`ir.written`) count in the crossbar classes like the others,
    their operand write (each copy's, every inference) in ``fixed_ns``.
  - ``reprogram``: a model larger than the chip rewrites at least the crossbars it needs beyond
    the chip per batch, the cheapest such writes spread over all crossbars in parallel.
  - ``dram-uncharged``: a model larger than the chip reads its weights from DRAM per batch; the
    reference machine does not charge those reads, so this figure is reported and does not
    enter the bound.
  - ``noc``: when weights sit on both halves of the mesh (they need more than half the
    crossbars), some data edge of the connected graph crosses its bisection: the smallest
    edge's bytes over the bisection bandwidth (weak; a floor, not an estimate).
  - latency mode, ``critical-path`` and ``critical-path-copies``: the critical path at one
    vector per op, each op's full work on its busiest unit between its head and its tail
    (`solver.e2e_bound_latency`, where the argument is).

* `chunked_bound`, the **bound for the granularity the compiler uses**: a crossbar op's chunk is
  a range of its chunk units (`ir.chunks`: a Conv's output vectors, a Gemm's or MatMul's rows, a
  written MatMul's rows of every group), a vector op's its row chunks (`ir.vector_chunks`).  The
  classes above, with the vector class's per-op spread limited to the op's row chunks, and:

  - ``crossbar``: whole copies each paying a fill per interval, no interval below one vector
    (`solver.replication.bounds.integer_copies_bound`: each copy runs its fixed chunks).
  - throughput mode, ``crossbar-row``: the copy that runs an op's slowest chunk unit (one
    vector of a Conv, one row of a Gemm or MatMul) is busy at least that unit's time per batch.
  - latency mode, ``critical-path``: along every path of the op graph, one row chunk of each op
    at its fastest (one row through one copy; a whole op when it has no rows): a consumer's
    first chunk waits for some producer chunk; a written MatMul's operand write waits only for
    the operand's producers, its first row's MVM for the others.

  It bounds the programs the compiler makes today and no finer mapping; the gap between the
  two says what finer chunks could gain.

* `placed_bound`, the **bound for the granularity and the placement used**: the chunked bound's
  classes and ``noc-cut``: the routing stage's cut bound (`solver.routing.bounds.cut_bound`,
  max-flow / min-cut and the mesh's half planes over the transfers this placement makes): some
  link carries that long per batch whatever the routes, and a link carries one transfer at a
  time (`targets.machine.checks.links`), so neither an interval nor a makespan is shorter.  It
  bounds this placement's programs only.

Both assume legalisation's unit class of each op and the cost model's per-vector and per-op
times, and (where the model fits the chip) that no crossbar is rewritten within an inference.
A program's own MVM instructions hold their crossbars longer than the physical limit says by
one fill per extra chunk and by rounding to whole ns (`program_crossbar_ns`).
Times in ns, sizes in bytes, bandwidths in bytes/ns.
"""
from __future__ import annotations

import math
from collections.abc import Iterable

from cimopt.cost.matmul_units import as_written, candidate
from cimopt.cost.model import CostModel
from cimopt.ir.chunks import chunk_axis, WHOLE
from cimopt.ir.graph import Graph, OpClass, OpSpec
from cimopt.ir.vector_chunks import vector_chunk_axis
from cimopt.ir.workload import Workload, WorkOp
from cimopt.solver.e2e_bound_latency import copies_path_ns, critical_path_ns, vector_chain_ns
from cimopt.solver.e2e_bound_problem import BoundOp, BoundProblem, E2EBound, MODES
from cimopt.solver.e2e_bound_reads import covering_edges, head_rule, whole_from
from cimopt.solver.replication.bounds import integer_copies_bound
from cimopt.solver.replication.problem import Layer, ReplicationProblem
from cimopt.targets.physics import timing
from cimopt.targets.spec import Target

__all__ = ["MODES", "BoundOp", "BoundProblem", "E2EBound", "end_to_end_bound", "chunked_bound", "placed_bound",
           "crossbar_work_ns", "shared_fill_copies_ns", "latency_limit_ns", "program_crossbar_ns", "bound_problem"]


def end_to_end_bound(p: BoundProblem) -> E2EBound:
    """The granularity-free bound: the largest of the per-class lower bounds of ``p`` (module docstring)."""
    classes = _work_classes(p, free=True)
    if p.mode == "latency":
        classes["critical-path"] = critical_path_ns(p)
        classes["critical-path-copies"] = copies_path_ns(p)
    return _result(p, classes)


def chunked_bound(p: BoundProblem) -> E2EBound:
    """The bound for the compiler's granularity (its chunk units, `ir.chunks`): the largest class of ``p``."""
    classes = _work_classes(p, free=False)
    xb = [o for o in p.ops if o.unit == "crossbar"]
    if p.mode == "throughput":
        # a copy runs whole rows: the copy that runs an op's first row is busy that long per inference
        classes["crossbar-row"] = max((o.chunk_ns for o in xb), default=0.0) / max(1, p.batch)
    else:
        classes["critical-path"] = _row_critical_path(p)
    return _result(p, classes)


def placed_bound(p: BoundProblem, noc_cut_ns: float) -> E2EBound:
    """The bound for the granularity and the placement used: `chunked_bound`'s classes and
    ``noc-cut`` = ``noc_cut_ns``, the largest link load every routing of the placement's
    transfers reaches (ns per batch)."""
    classes = dict(chunked_bound(p).classes)
    classes.pop("dram-uncharged", None)
    classes["noc-cut"] = noc_cut_ns
    return _result(p, classes)


def _work_classes(p: BoundProblem, free: bool) -> dict[str, float]:
    """The classes both bounds share (crossbar, reprogram, vector, host, noc)."""
    if p.mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {p.mode!r}")
    xb = [o for o in p.ops if o.unit == "crossbar"]
    need = sum(o.crossbars for o in xb)
    classes: dict[str, float] = {"crossbar": crossbar_work_ns(p)}
    if need <= p.crossbars and free:
        classes["crossbar"] = max(classes["crossbar"], shared_fill_copies_ns(p))
    elif need <= p.crossbars:
        layers = tuple(Layer(o.name, o.crossbars, o.vectors, o.interval_ns, o.fixed_ns) for o in xb)
        classes["crossbar"] = max(classes["crossbar"], integer_copies_bound(
            ReplicationProblem(layers, (), p.crossbars, "throughput")))
    else:
        writes = sorted(w for o in xb if not o.written for w in o.write_ns)
        classes["reprogram"] = sum(writes[:need - p.crossbars]) / p.crossbars / max(1, p.batch)
    vec = [o for o in p.ops if o.unit == "vector"]
    units_of = (lambda o: min(o.elements, p.vector_units)) if free else (lambda o: o.spread)
    classes["vector"] = max(sum(o.time_ns for o in vec) / max(1, p.vector_units),
                            max((o.time_ns / max(1, units_of(o)) for o in vec), default=0.0))
    classes["host"] = sum(o.time_ns for o in p.ops if o.unit == "host")
    cross = [b for _, _, b in p.edges]
    classes["noc"] = min(cross) / max(p.bisection_bytes_per_ns, 1e-9) if need > p.crossbars / 2 and cross else 0.0
    return classes


def _result(p: BoundProblem, classes: dict[str, float]) -> E2EBound:
    name = max(classes, key=lambda k: classes[k])
    xb = [o for o in p.ops if o.unit == "crossbar"]
    if sum(o.crossbars for o in xb) > p.crossbars:
        classes["dram-uncharged"] = sum(o.weight_bytes for o in xb) / max(p.dram_bytes_per_ns, 1e-9) / max(1, p.batch)
    return E2EBound(classes[name], name, tuple(sorted(classes.items())))


def crossbar_work_ns(p: BoundProblem) -> float:
    """The physical limit (ns): the crossbar-ns every mapping spends, over all crossbars.

    Per crossbar op: its vectors at ``interval_ns`` each and one pipeline fill (``fixed_ns`` less a
    written operand's write, which is no MVM), on each crossbar of one copy; a written MatMul also
    writes its weights into the crossbars of at least one copy per inference (``write_ns``).
    """
    work = sum(o.crossbars * (o.vectors * o.interval_ns + max(0.0, o.fixed_ns - o.operand_write_ns))
               + sum(o.write_ns) * o.written for o in p.ops if o.unit == "crossbar")
    return work / max(1, p.crossbars)


#: copies counted from a time are rounded down by this relative margin, so rounding error can
#: only lower the bound
_ROUND = 1e-12


def shared_fill_copies_ns(p: BoundProblem) -> float:
    """Whole copies, any schedule (ns): the least ``T`` whose copies fit the chip, an op with
    ``r`` copies needing ``r * T >= vectors * interval + fill`` (``fill``: ``fixed_ns`` less a
    written operand's write).  Its copies together spend at least that much crossbar time per
    interval: every vector through one whole copy, at least one MVM instruction (one fill).  No
    more is assumed: copies may take turns over intervals (a copy running a whole inference's
    vectors while the others run the next ones), vectors split in any proportion, so this holds
    where `solver.replication.bounds.integer_copies_bound` (a fill per copy per interval, and no
    interval below one vector) assumes the compiler's fixed chunks per copy; it is lower than
    that by at most the fills.  0 when the model does not fit."""
    xb = [o for o in p.ops if o.unit == "crossbar"]
    if not xb or sum(o.crossbars for o in xb) > p.crossbars:
        return 0.0
    work = [(o.crossbars, o.vectors * o.interval_ns + max(0.0, o.fixed_ns - o.operand_write_ns)) for o in xb]

    def fits(t: float) -> bool:
        return sum(c * max(1, math.ceil(w / t * (1 - _ROUND))) for c, w in work) <= p.crossbars

    lo, hi = 0.0, max(w for _, w in work)           # one copy each fits
    if hi <= 0:
        return 0.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if mid <= lo or mid >= hi:
            break
        lo, hi = (lo, mid) if fits(mid) else (mid, hi)
    return lo


def latency_limit_ns(p: BoundProblem) -> float:
    """The physical latency limit (ns): every crossbar busy all the time (`crossbar_work_ns`) and
    one vector through the longest chain of ops, each op one vector behind its producers
    (`solver.e2e_bound_latency.vector_chain_ns`): what a perfectly pipelined, perfectly spread
    program of one inference would take; at most the granularity-free latency bound."""
    return max(crossbar_work_ns(p), vector_chain_ns(p))


def _row_critical_path(p: BoundProblem) -> float:
    finish = [o.chunk_ns for o in p.ops]
    for u, v, _ in sorted(p.edges, key=lambda e: e[1]):
        o = p.ops[v]
        # a written MatMul's operand write waits only for the operand's producers
        after = o.chunk_ns if u in o.operand_from else max(0.0, o.chunk_ns - o.operand_write_ns)
        finish[v] = max(finish[v], finish[u] + after)
    return max(finish, default=0.0)


def program_crossbar_ns(mvms: Iterable[tuple[int, int]], crossbars: int, inferences: int = 1) -> float:
    """A program's own MVM time: the summed (duration ns x crossbars) of its MVM instructions
    ``mvms`` per inference, over the chip's ``crossbars`` (the "limit" of `limit_check.py`).  At
    least the physical limit (`crossbar_work_ns`): its row chunks add fills and whole-ns rounding."""
    return sum(d * n for d, n in mvms) / max(1, inferences) / max(1, crossbars)


def bound_problem(graph: Graph, workload: Workload, target: Target, cm: CostModel, mode: str,
                  batch: int = 1) -> BoundProblem:
    """The bounds' data for ``workload`` (legalised, lowered) on ``target``."""
    index = {op.name: i for i, op in enumerate(workload.ops)}
    ops: list[BoundOp] = []
    for w in workload.ops:
        c = cm.op(w, 1)
        spec = graph.op(w.name)
        fine = {"elements": max(1, w.elements), "head": head_rule(graph, spec),
                "whole_from": tuple(index[n] for n in whole_from(graph, spec, w.written) if n in index)}
        if w.op_class is OpClass.CROSSBAR and w.matrix is not None:
            ax = chunk_axis(graph, spec)
            per_row = ax.vectors_per_row if ax.axis != WHOLE else w.matrix.vectors
            writes = tuple(timing.write_task(target, t.rows_used, t.cols_used).latency_ns for t in cm.tiles(w))
            wr, src = 0.0, ()
            if w.written:
                wr = timing.operand_write_task(target, cm.tiles(w)).latency_ns
                src = tuple(index[p.name] for p in (graph.producer(spec.inputs[1]),) if p is not None)
            ops.append(BoundOp(w.name, "crossbar", c.latency_ns, c.fixed_ns + per_row * c.interval_ns, 1,
                               c.crossbars, w.matrix.vectors, c.interval_ns, c.fixed_ns, w.weight_bytes, writes,
                               w.written, wr, src, vector_ns=c.fixed_ns - wr + c.interval_ns, **fine))
        elif candidate(graph, spec, target):
            xw = as_written(graph, spec)
            x = cm.op(xw, 1)
            own = c.latency_ns if w.op_class is OpClass.HOST else _vector_row_ns(graph, spec, target, w)
            # written, its write could overlap its left operand's producers: one row's MVM only
            row = x.fixed_ns + x.interval_ns - timing.operand_write_task(target, cm.tiles(xw)).latency_ns
            piece = _element_ns(target, w) if w.op_class is not OpClass.HOST else _host_element_ns(target, w)
            ops.append(BoundOp(w.name, "flexible", 0.0, min(own, max(0.0, row)),
                               vector_ns=min(piece, max(0.0, row)), **fine))
        elif w.op_class is OpClass.HOST:
            ops.append(BoundOp(w.name, "host", c.latency_ns, c.latency_ns, vector_ns=_host_element_ns(target, w),
                               **fine))
        else:
            vax = vector_chunk_axis(graph, spec)
            one = _vector_row_ns(graph, spec, target, w) if vax.axis != WHOLE else c.latency_ns
            ops.append(BoundOp(w.name, "vector", c.latency_ns, one,
                               min(vax.rows, target.cores) if vax.axis != WHOLE else 1,
                               vector_ns=_element_ns(target, w), **fine))
    edges = tuple(sorted({(index[a], index[b], n) for a, b, n in workload.edges}))
    ch = target.chip
    bisection = min(ch.mesh_rows, ch.mesh_cols) * ch.noc_link_bandwidth_bytes_per_ns * 2
    covering = covering_edges(graph, [w.name for w in workload.ops], [(a, b) for a, b, _ in edges])
    return BoundProblem(tuple(ops), edges, mode, target.total_crossbars, target.cores, bisection,
                        ch.dram_bandwidth_bytes_per_ns, batch, covering)


def _vector_row_ns(graph: Graph, spec: OpSpec, target: Target, w: WorkOp) -> float:
    """A vector op's fastest task at the compiler's granularity (ns): one row chunk, or the whole
    op when it has no rows."""
    vax = vector_chunk_axis(graph, spec)
    rows = 1 if vax.axis != WHOLE else vax.rows
    return timing.vector_chunk_task(target, w.elements, w.ops, w.bytes_in + w.bytes_out, rows, vax.rows).latency_ns


def _element_ns(target: Target, w: WorkOp) -> float:
    """A vector op's smallest task at any granularity (ns): one output element's share of its work."""
    e = max(1, w.elements)
    return timing.vector_chunk_task(target, w.elements, w.ops, w.bytes_in + w.bytes_out, 1, e).latency_ns


def _host_element_ns(target: Target, w: WorkOp) -> float:
    """A host op's smallest task at any granularity (ns): one output element's share, link latency included."""
    e = max(1, w.elements)
    return timing.host_task(target, w.ops / e, math.ceil((w.bytes_in + w.bytes_out) / e)).latency_ns
