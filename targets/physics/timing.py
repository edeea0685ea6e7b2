"""Costs of the program's instructions, composed from the per-instruction physics in
`instructions`.  The compiler's cost model and the reference machine both call these, so a
program's planned durations and the machine's measured ones agree exactly when nothing is wrong.
"""
from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

from cimopt.ir.tiles import row_tiles, Tile
from cimopt.ir.vector_chunks import chunk_fraction_cost
from cimopt.ir.workload import Matrix
from cimopt.targets.physics import instructions as isa
from cimopt.targets.noc import Route
from cimopt.targets.physics.instructions import Energy, InstrCost
from cimopt.targets.spec import Target


def act_bytes(target: Target) -> int:
    """Bytes of one activation element in the chip's buffers."""
    return max(1, math.ceil(target.precision.activation_bits / 8))


def mvm_task(target: Target, tiles: Sequence[tuple[int, int]], vectors: int, row_tiles: int,
             inputs_per_vector: int, outputs_per_vector: int, activation: bool,
             rows_per_conversion: int = 0, epilogue_ops: float = 0.0, epilogue_reads: float = 0.0) -> InstrCost:
    """``vectors`` input vectors through one copy of an op's weights, all its crossbars in parallel.

    ``tiles``: (rows used, physical columns used) of each crossbar of the copy.  Per vector the
    crossbars issue at the slowest crossbar's MVM interval; partial sums of ``row_tiles`` row
    tiles and the fused activation run on the vector unit; the fused epilogue (``epilogue_ops``
    operations per vector, `ir.passes.epilogue_fusion`) on the output stage's in-line units
    (`instructions.output_stage`), a pipeline stage of its own; inputs, outputs and the
    ``epilogue_reads`` elements per vector the epilogue reads pass through the local buffer.
    latency = fill + vectors x steady-state interval, the interval the slowest stage.
    ``rows_per_conversion`` > 0 drives at most that many rows per read (`instructions.mvm`); 0
    (the default) as many as the DACs can.
    """
    if vectors <= 0 or not tiles:
        return InstrCost(0.0, Energy())
    fill, step, energy = mvm_line(target, tiles, row_tiles, inputs_per_vector, outputs_per_vector, activation,
                                  rows_per_conversion, epilogue_ops, epilogue_reads)
    return InstrCost(fill + vectors * step, energy * vectors)


def mvm_line(target: Target, tiles: Sequence[tuple[int, int]], row_tiles: int, inputs_per_vector: int,
             outputs_per_vector: int, activation: bool, rows_per_conversion: int = 0, epilogue_ops: float = 0.0,
             epilogue_reads: float = 0.0) -> tuple[float, float, Energy]:
    """(fill ns, ns per vector, energy per vector) of `mvm_task` (same arguments): its latency is
    ``fill + vectors * step`` and its energy ``vectors`` times the per-vector energy."""
    big = max(tiles)
    first = isa.mvm(target, big[0], big[1], rows_per_conversion)
    interval = isa.mvm_interval(target, big[0], big[1], rows_per_conversion)
    e_vec = Energy()
    for (r, c), n in Counter(tiles).items():  # a copy's crossbars come in few distinct shapes
        e_vec = e_vec + isa.mvm(target, r, c, rows_per_conversion).energy * n
    post_ops = (row_tiles - 1) * outputs_per_vector + (outputs_per_vector if activation else 0)
    post = isa.vector(target, outputs_per_vector, post_ops / outputs_per_vector) if post_ops > 0 else None
    epi = isa.output_stage(target, outputs_per_vector, epilogue_ops / outputs_per_vector)
    nbytes = (inputs_per_vector + outputs_per_vector) * act_bytes(target) + math.ceil(epilogue_reads * act_bytes(target))
    buf = isa.buffer_access(target, nbytes, "local")
    step = max(interval, post.latency_ns if post else 0.0, epi.latency_ns, buf.latency_ns)
    fill = max(0.0, first.latency_ns - interval) + (post.latency_ns if post else 0.0) + epi.latency_ns
    return fill, step, e_vec + buf.energy + (post.energy if post else Energy()) + epi.energy


def mvm_cost(target: Target, tiles: Sequence[Tile], m: Matrix, vectors: int, activation: bool,
             rows_per_conversion: int = 0, output_stage: tuple[float, float] = (0.0, 0.0)) -> InstrCost:
    """``vectors`` input vectors of the op with weight matrix ``m`` through one copy's ``tiles``
    (the cost of an MVM instruction, as the cost model, the task builder and the machine take it);
    ``rows_per_conversion`` as in `mvm_task`; ``output_stage``: the fused epilogue's (operations,
    elements read) per vector (`ir.workload.WorkOp.output_stage_per_vector`)."""
    return mvm_task(target, [(t.rows_used, t.cols_used) for t in tiles], vectors,
                    row_tiles(m, target.core.crossbar_rows), m.k * m.groups, m.n * m.groups, activation,
                    rows_per_conversion, output_stage[0], output_stage[1])


class MvmCosts:
    """`mvm_cost` of one copy's ``tiles`` for any number of vectors, the per-copy figures computed
    once (the task builder prices every chunk of an op with it)."""

    def __init__(self, target: Target, tiles: Sequence[Tile], m: Matrix, activation: bool,
                 rows_per_conversion: int = 0, output_stage: tuple[float, float] = (0.0, 0.0)) -> None:
        shapes = [(t.rows_used, t.cols_used) for t in tiles]
        self.line = mvm_line(target, shapes, row_tiles(m, target.core.crossbar_rows), m.k * m.groups,
                             m.n * m.groups, activation, rows_per_conversion, output_stage[0],
                             output_stage[1]) if shapes else None

    def __call__(self, vectors: int) -> InstrCost:
        """`mvm_cost` for ``vectors`` input vectors."""
        if vectors <= 0 or self.line is None:
            return InstrCost(0.0, Energy())
        fill, step, energy = self.line
        return InstrCost(fill + vectors * step, energy * vectors)


def vector_task(target: Target, elements: int, ops: float, nbytes: int) -> InstrCost:
    """A whole op on a core's vector unit: ``ops`` operations over ``elements`` outputs, ``nbytes`` moved."""
    v = isa.vector(target, max(elements, 1), ops / max(elements, 1)) if ops > 0 else None
    buf = isa.buffer_access(target, nbytes, "local")
    latency = max(v.latency_ns if v else 0.0, buf.latency_ns)
    return InstrCost(latency, buf.energy + (v.energy if v else Energy()))


def vector_chunk_task(target: Target, elements: int, ops: float, nbytes: int, rows: int,
                      total_rows: int) -> InstrCost:
    """Rows ``rows`` of ``total_rows`` of a vector op (whole: ``elements``, ``ops``, ``nbytes``) on
    one core's vector unit; its work scales with its share of the rows (`ir.vector_chunks`)."""
    e, o, b = chunk_fraction_cost(elements, ops, nbytes, rows, total_rows)
    return vector_task(target, e, o, b)


def host_task(target: Target, ops: float, nbytes: int) -> InstrCost:
    """A whole op on the host, its inputs and outputs crossing the host link."""
    return isa.host_op(target, ops, nbytes)


def transfer_task(target: Target, nbytes: int, src_core: int, dst_core: int) -> InstrCost:
    """A transfer over the XY mesh distance (the cost model's estimate before routes exist)."""
    return isa.noc_transfer(target, nbytes, src_core, dst_core)


def routed_transfer_task(target: Target, nbytes: int, src_core: int, route: Route) -> InstrCost:
    """A transfer holding the links of ``route`` (`isa.noc_routed_transfer`)."""
    return isa.noc_routed_transfer(target, nbytes, src_core, route)


def write_task(target: Target, rows: int, cols: int) -> InstrCost:
    """Programming one crossbar's ``rows`` x ``cols`` cells."""
    return isa.program_weights(target, rows, cols)


def operand_write_task(target: Target, tiles: Sequence[Tile]) -> InstrCost:
    """Writing a run-time operand into one copy's crossbars (`ir.written`): every crossbar
    programmed at once, so the slowest one's `write_task` latency; the energy of all of them."""
    costs = [write_task(target, t.rows_used, t.cols_used) for t in tiles]
    if not costs:
        return InstrCost(0.0, Energy())
    energy = Energy()
    for c in costs:
        energy = energy + c.energy
    return InstrCost(max(c.latency_ns for c in costs), energy)


def ns(cost: InstrCost) -> int:
    """The integer duration (ns, rounded up) a program records for an instruction."""
    return int(math.ceil(cost.latency_ns - 1e-9))
