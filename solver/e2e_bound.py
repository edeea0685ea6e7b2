"""End-to-end bound: a lower bound on the mode's objective for every mapping the compiler can make.

Objective: latency mode, the makespan of one inference (ns); throughput mode, the time per
inference in a stream (ns: initiation interval over inferences per interval).  Per resource class
the work that must be done, over the units that can do it:

* ``crossbar``: every input vector of a crossbar op passes through one whole copy of its weights,
  each crossbar of the copy busy ``interval_ns`` per vector, and every op runs at least one MVM
  instruction, whose pipeline fill (``fixed_ns`` less a written operand's write) holds the
  crossbars of its copy too: `crossbar_work_ns`, the *physical limit* (every crossbar busy all
  the time on that work).  When the model fits, also the least bottleneck whose whole copies fit
  the chip's crossbars, vectors split between copies in any proportion
  (`solver.replication.bounds.integer_copies_bound`; at least the water filling over fractional
  copies).  A program's own MVM instructions hold their crossbars longer than the physical limit
  says by one fill per extra row chunk and by rounding to whole ns: those are its chunking's
  cost, which a bound for every chunking cannot count.
* throughput mode, ``crossbar-row``: a copy runs whole output rows (`ir.chunks`), so the copy that
  runs an op's slowest row is busy at least that row's time per batch.
* ``vector``: vector ops run only on the cores' vector units (legalisation), so their summed time
  over all vector units; and each op at least its time split over as many units as it has row
  chunks (`ir.vector_chunks`; a whole-op task on one unit).  An op fused into a crossbar op's
  output stage (`ir.passes.epilogue_fusion`, where the target allows it) is no vector op: its
  work is a stage of that crossbar op's per-vector pipeline, in ``interval_ns``.
* ``host``: host ops on the one host, summed; a MatMul of two activations that could be written
  into crossbars instead (`cost.matmul_units.candidate`) counts in no work class (it could run on
  either), and on the critical path at the faster of its unit and one row through one written copy.
* crossbar-written MatMuls (`ir.written`) count in the crossbar classes like the others, their
  operand write (each copy's, every inference) in ``fixed_ns``: at least one copy is written.
  On the critical path the write follows only the operand's producers; the first row's MVM
  follows the other producers.
* ``reprogram``: a model larger than the chip rewrites at least the crossbars it needs beyond the
  chip per batch, the cheapest such writes spread over all crossbars in parallel.
* ``dram-uncharged``: a model larger than the chip reads its weights from DRAM per batch; the
  reference machine does not charge those reads (a weight write costs only its programming
  time), so this figure is reported and does not enter the bound.
* ``noc``: when weights sit on both halves of the mesh (they need more than half the crossbars),
  some data edge of the connected graph crosses its bisection: the smallest edge's bytes over the
  bisection bandwidth (weak; a floor, not an estimate).
* latency mode, ``critical-path``: along every path of the op graph, one row chunk of each op at
  its fastest (one row through one copy; a whole op when it has no rows): a consumer's first
  chunk waits for some producer chunk.

Valid for the mappings the compiler can produce (legalisation fixes the unit class of each op,
chunks are whole rows), and for any mapping that keeps the cost model's per-vector and per-op
times.  Times in ns, sizes in bytes, bandwidths in bytes/ns.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from cimopt.cost.matmul_units import as_written, candidate
from cimopt.cost.model import CostModel
from cimopt.ir import units
from cimopt.ir.chunks import chunk_axis, WHOLE
from cimopt.ir.graph import Graph, OpClass, OpSpec
from cimopt.ir.vector_chunks import vector_chunk_axis
from cimopt.ir.workload import Workload, WorkOp
from cimopt.solver.replication import heuristic as rp
from cimopt.solver.replication.bounds import integer_copies_bound
from cimopt.targets.physics import timing
from cimopt.targets.spec import Target

MODES = ("latency", "throughput")


@dataclass(frozen=True)
class BoundOp:
    """One op as the bound sees it.  ``unit``: crossbar | vector | host | flexible (a MatMul of two
    activations that could run on its unit or be written into crossbars: no work class).

    Crossbar ops: ``crossbars`` per copy, ``vectors`` per inference, ``interval_ns`` per vector,
    ``fixed_ns`` fill, ``write_ns`` the programming time of each of its crossbars.  Every op:
    ``time_ns`` its whole time on one unit (one copy), ``chunk_ns`` its fastest chunk (one row),
    ``spread`` the units its chunks can use at once.
    """

    name: str
    unit: str
    time_ns: float
    chunk_ns: float
    spread: int = 1
    crossbars: int = 0
    vectors: int = 0
    interval_ns: float = 0.0
    fixed_ns: float = 0.0
    weight_bytes: int = 0
    write_ns: tuple[float, ...] = ()
    written: bool = False         # a crossbar-written MatMul: its crossbars are written every inference
    #: a written MatMul: its operand write (ns, part of ``fixed_ns`` and ``chunk_ns``), and the
    #: ops producing that operand (indices); only they delay the write, the other producers the MVMs
    operand_write_ns: float = 0.0
    operand_from: tuple[int, ...] = ()


@dataclass(frozen=True)
class BoundProblem:
    ops: tuple[BoundOp, ...]
    edges: tuple[tuple[int, int, int], ...]     # (producer index, consumer index, bytes), topological
    mode: str
    crossbars: int                              # on the chip
    vector_units: int
    bisection_bytes_per_ns: float
    dram_bytes_per_ns: float
    batch: int = 1                              # inferences per reprogramming


@dataclass(frozen=True)
class E2EBound:
    value_ns: float                             # the bound on the mode's objective
    limited_by: str                             # the class that sets it
    classes: tuple[tuple[str, float], ...]      # every class's figure (ns)

    def figure(self, name: str) -> float:
        return dict(self.classes).get(name, 0.0)


def end_to_end_bound(p: BoundProblem) -> E2EBound:
    """The largest of the per-class lower bounds of ``p`` (see the module docstring)."""
    if p.mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {p.mode!r}")
    xb = [o for o in p.ops if o.unit == "crossbar"]
    need = sum(o.crossbars for o in xb)
    fits = need <= p.crossbars
    classes: dict[str, float] = {}
    classes["crossbar"] = crossbar_work_ns(p)
    if fits:
        layers = tuple(rp.Layer(o.name, o.crossbars, o.vectors, o.interval_ns, o.fixed_ns, 0, 0.0) for o in xb)
        classes["crossbar"] = max(classes["crossbar"], integer_copies_bound(
            rp.ReplicationProblem(layers, (), p.crossbars, "throughput")))
    else:
        writes = sorted(w for o in xb if not o.written for w in o.write_ns)
        classes["reprogram"] = sum(writes[:need - p.crossbars]) / p.crossbars / max(1, p.batch)
        dram = sum(o.weight_bytes for o in xb) / max(p.dram_bytes_per_ns, 1e-9) / max(1, p.batch)
    if p.mode == "throughput":
        # a copy runs whole rows: the copy that runs an op's first row is busy that long per inference
        classes["crossbar-row"] = max((o.chunk_ns for o in xb), default=0.0) / max(1, p.batch)
    vec = [o for o in p.ops if o.unit == "vector"]
    classes["vector"] = max(sum(o.time_ns for o in vec) / max(1, p.vector_units),
                            max((o.time_ns / max(1, o.spread) for o in vec), default=0.0))
    classes["host"] = sum(o.time_ns for o in p.ops if o.unit == "host")
    cross = [b for _, _, b in p.edges]
    classes["noc"] = min(cross) / max(p.bisection_bytes_per_ns, 1e-9) if need > p.crossbars / 2 and cross else 0.0
    if p.mode == "latency":
        classes["critical-path"] = _critical_path(p)
    name = max(classes, key=lambda k: classes[k])
    if not fits:
        classes["dram-uncharged"] = dram
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


def _critical_path(p: BoundProblem) -> float:
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
    """The bound's data for ``workload`` (legalised, lowered) on ``target``."""
    index = {op.name: i for i, op in enumerate(workload.ops)}
    ops: list[BoundOp] = []
    for w in workload.ops:
        c = cm.op(w, 1)
        spec = graph.op(w.name)
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
                               w.written, wr, src))
        elif candidate(graph, spec, target):
            xw = as_written(graph, spec)
            x = cm.op(xw, 1)
            own = c.latency_ns if w.op_class is OpClass.HOST else _vector_row_ns(graph, spec, target, w)
            # written, its write could overlap its left operand's producers: one row's MVM only
            row = x.fixed_ns + x.interval_ns - timing.operand_write_task(target, cm.tiles(xw)).latency_ns
            ops.append(BoundOp(w.name, "flexible", 0.0, min(own, max(0.0, row))))
        elif w.op_class is OpClass.HOST:
            ops.append(BoundOp(w.name, "host", c.latency_ns, c.latency_ns))
        else:
            vax = vector_chunk_axis(graph, spec)
            one = _vector_row_ns(graph, spec, target, w) if vax.axis != WHOLE else c.latency_ns
            ops.append(BoundOp(w.name, "vector", c.latency_ns, one,
                               min(vax.rows, target.cores) if vax.axis != WHOLE else 1))
    edges = tuple(sorted({(index[a], index[b], n) for a, b, n in workload.edges}))
    ch = target.chip
    bisection = min(ch.mesh_rows, ch.mesh_cols) * ch.noc_link_bandwidth_bytes_per_ns * 2
    return BoundProblem(tuple(ops), edges, mode, target.total_crossbars, target.cores, bisection,
                        ch.dram_bandwidth_bytes_per_ns, batch)


def _vector_row_ns(graph: Graph, spec: OpSpec, target: Target, w: WorkOp) -> float:
    """A vector op's fastest task (ns): one row chunk, or the whole op when it has no rows."""
    vax = vector_chunk_axis(graph, spec)
    rows = 1 if vax.axis != WHOLE else vax.rows
    return timing.vector_chunk_task(target, w.elements, w.ops, w.bytes_in + w.bytes_out, rows, vax.rows).latency_ns


def summarise(bound: E2EBound, objective_ns: float) -> str:
    """'time / bound 1.04 (bound 961.4 us, limited by ...)': how far ``objective_ns`` is from the bound."""
    ratio = units.count(objective_ns / bound.value_ns, 3) if bound.value_ns > 0 else "n/a"
    return f"time / bound {ratio} (bound {units.time(bound.value_ns)}, limited by {bound.limited_by})"
