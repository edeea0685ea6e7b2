"""Where each MatMul of two activations runs: written into crossbars, in row chunks on the vector
units, or on the host; the cost model decides by estimated time per inference.

Candidates: MatMuls whose right operand is an activation and whose shapes a crossbar can take
(`ir.written.written_geometry`), on a target whose ``core.runtime_weight_writes`` allows writing
a run-time operand.  For each, in ns for one inference:

* ``host_ns``: `timing.host_task`, the op's arithmetic on the host plus its inputs and output
  over the host link (infinite without a host);
* ``vector_ns`` (``core.vector_matmul`` only): one vector unit's share of the op's row chunks
  (`ir.vector_chunks`) spread over ``min(rows, cores)`` units, `timing.vector_chunk_task`;
* ``write_ns + mvm_ns`` (crossbar-written): the operand written into each copy's crossbars, all
  at once (`timing.operand_write_task`), then the input vectors split over ``copies`` copies
  (`CostModel.op` of the op as written).  ``copies``: as many as its output rows (the chunks its
  copies share, `ir.chunks`) and an even share of the crossbars the static weights leave free
  allow, at least one; the replication stage then chooses the copies it really gets.

The fastest unit wins.  Written operands take crossbars from the chip's budget: candidates that
beat the host and the vector units are taken in decreasing order of the time they save, each one
only while one copy of every static weight and of every written operand taken so far fits the
chip's crossbars less one per core (``total - cores``: a margin for tiles the tiling stage packs
beyond the cost model's count), so writing operands does not make a model segment.  A candidate that does not fit stays where it was (``reason``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

from cimopt.cost.model import CostModel
from cimopt.ir.chunks import chunk_axis, WHOLE
from cimopt.ir.graph import Graph, OpClass, OpSpec
from cimopt.ir.units import time as format_time
from cimopt.ir.vector_chunks import vector_chunk_axis
from cimopt.ir.workload import lower, lower_op, Workload, WorkOp
from cimopt.ir.written import written_geometry
from cimopt.targets.physics import timing
from cimopt.targets.spec import Target

CROSSBAR_WRITTEN = "crossbar-written"
#: unit -> the op class it runs as
OP_CLASS = {CROSSBAR_WRITTEN: OpClass.CROSSBAR, "vector": OpClass.VECTOR, "host": OpClass.HOST}


@dataclass(frozen=True)
class MatMulDecision:
    """Where one MatMul of two activations runs, and the estimates (ns) the choice compared."""

    op: str
    unit: str                 # crossbar-written | vector | host
    host_ns: float            # math.inf: no host
    vector_ns: float          # math.inf: the vector units cannot run it
    write_ns: float           # writing the operand into one copy's crossbars
    mvm_ns: float             # every input vector through that copy
    crossbars: int            # one copy
    copies: int               # copies the crossbar estimate assumes
    reason: str

    @property
    def crossbar_ns(self) -> float:
        return self.write_ns + self.mvm_ns

    def describe(self) -> str:
        """One line for the compile summary and the program: the unit, the figures, why."""
        def us(x: float) -> str:
            return "n/a" if math.isinf(x) else format_time(x)
        return (f"{self.unit}: crossbars {us(self.crossbar_ns)} (write {us(self.write_ns)} + MVMs "
                f"{us(self.mvm_ns)}, {self.copies} copies x {self.crossbars} crossbars), vector {us(self.vector_ns)}, "
                f"host {us(self.host_ns)}; {self.reason}")


def candidate(graph: Graph, op: OpSpec, target: Target) -> bool:
    """Whether ``op`` could be written into crossbars on ``target`` (see the module docstring)."""
    return target.core.runtime_weight_writes and op.op_class is not OpClass.CROSSBAR \
        and written_geometry(graph, op) is not None


def as_written(graph: Graph, op: OpSpec) -> WorkOp:
    """Candidate ``op`` lowered as a crossbar-written op (its matrix the run-time operand)."""
    return lower_op(graph, replace(op, op_class=OpClass.CROSSBAR))


def estimate(graph: Graph, op: OpSpec, target: Target, room: int) -> MatMulDecision:
    """The three estimates of a candidate ``op``, its unit the fastest, its crossbar estimate with
    the copies ``room`` crossbars hold (at least one; crossbars not yet charged)."""
    cm = CostModel(target)
    host = math.inf
    if target.host is not None:
        w = lower_op(graph, replace(op, op_class=OpClass.HOST))
        host = timing.host_task(target, w.ops, w.bytes_in + w.bytes_out).latency_ns
    vector = math.inf
    if target.core.vector_matmul:
        w = lower_op(graph, replace(op, op_class=OpClass.VECTOR))
        vax = vector_chunk_axis(graph, op)
        units = min(vax.rows, target.cores) if vax.axis != WHOLE else 1
        vector = timing.vector_chunk_task(target, w.elements, w.ops, w.bytes_in + w.bytes_out,
                                          math.ceil(vax.rows / units), vax.rows).latency_ns
    w = as_written(graph, op)
    write = timing.operand_write_task(target, cm.tiles(w)).latency_ns
    ax = chunk_axis(graph, replace(op, op_class=OpClass.CROSSBAR))
    copies = max(1, min(ax.rows if ax.axis != WHOLE else 1, room // max(1, cm.crossbars(w))))
    total = cm.op(w, copies).latency_ns
    best = min((total, CROSSBAR_WRITTEN), (vector, "vector"), (host, "host"))
    reason = "the fastest" if best[1] == CROSSBAR_WRITTEN else \
        f"writing and streaming through crossbars is slower than the {best[1]}"
    return MatMulDecision(op.name, best[1], host, vector, write, total - write, cm.crossbars(w), copies, reason)


def decide(graph: Graph, workload: Workload, target: Target) -> list[MatMulDecision]:
    """The decision for every candidate of the legalised ``graph`` (its lowered ``workload``), in
    graph order; the crossbars of written operands are charged to the budget (module docstring)."""
    cands = [op for op in graph.ops() if candidate(graph, op, target)]
    if not cands:
        return []
    cm = CostModel(target)
    static = sum(cm.crossbars(w) for w in workload.ops)
    room = target.total_crossbars - target.cores - static
    share = max(0, room) // len(cands)
    est = {op.name: estimate(graph, op, target, share) for op in cands}
    fastest = {op.name: min(est[op.name].host_ns, est[op.name].vector_ns) for op in cands}
    order = sorted((n for n, d in est.items() if d.unit == CROSSBAR_WRITTEN),
                   key=lambda n: est[n].crossbar_ns - fastest[n])
    for name in order:
        d = est[name]
        if d.crossbars <= room:
            room -= d.crossbars
            continue
        unit = "vector" if d.vector_ns <= d.host_ns else "host"
        est[name] = replace(d, unit=unit, reason=f"fastest on crossbars, but one copy ({d.crossbars} crossbars) "
                                                 f"does not fit beside the static weights")
    return [est[op.name] for op in cands]


@dataclass
class MatMulUnitChoice:
    """The choice `ir.passes.assign_units.AssignUnits` applies: called with the legalised graph,
    it lowers it, `decide`s for ``target`` and returns op -> class; ``decisions`` keeps the last
    call's decisions (with their estimates) for the compile summary and the program."""

    target: Target
    decisions: list[MatMulDecision] = field(default_factory=list)

    def __call__(self, graph: Graph) -> dict[str, OpClass]:
        self.decisions[:] = decide(graph, lower(graph), self.target)
        return {d.op: OP_CLASS[d.unit] for d in self.decisions}
