"""What the reference machine takes an instruction to cost: its latency and energy from the same
`timing` functions the cost model and the task builder use, given the tiles its crossbars hold."""
from __future__ import annotations

from collections.abc import Sequence

from cimopt.ir.chunks import chunk_axis, mvm_vector_count, WHOLE
from cimopt.ir.graph import Graph, OpSpec
from cimopt.ir.program import Instruction, TileWrite
from cimopt.ir.tiles import Tile
from cimopt.ir.vector_chunks import vector_chunk_axis
from cimopt.ir.workload import lower_op, matrix_of
from cimopt.targets.machine.checks.links import timed_route
from cimopt.targets.physics import timing
from cimopt.targets.physics.instructions import Energy, InstrCost
from cimopt.targets.spec import Target


def _tile(t: Target, tw: TileWrite) -> Tile:
    """The tile geometry a crossbar's `TileWrite` describes."""
    return Tile(tw.op, tw.tile, tw.group0, tw.ngroups, tw.row0, tw.row1, tw.col0, tw.col1, t.weight_slices)


def instruction_cost(t: Target, g: Graph, ins: Instruction, op: OpSpec | None,
                     tiles: Sequence[TileWrite]) -> InstrCost:
    """Latency (ns) and energy (pJ) of ``ins``; ``tiles`` are the tiles its crossbars hold."""
    if ins.kind == "mvm" and op is not None:
        m = matrix_of(g, op)
        ax = chunk_axis(g, op)
        acc = next((a for a in ins.writes if a.tensor == op.outputs[0]), None)
        r0, r1 = (0, ax.rows) if acc is None or acc.axis == WHOLE else (acc.row0, acc.row1)
        vectors = mvm_vector_count(g, op, ax, r0, r1)
        used = [_tile(t, tw) for tw in tiles]
        stage = lower_op(g, op).output_stage_per_vector() if op.epilogue is not None else (0.0, 0.0)
        return timing.mvm_cost(t, used, m, vectors, op.activation is not None, ins.rows_per_conversion, stage)
    if ins.kind in ("vector", "host") and op is not None:
        w = lower_op(g, op)
        if ins.kind == "vector":
            vax = vector_chunk_axis(g, op)
            acc = next((a for a in ins.writes if a.tensor == op.outputs[0]), None)
            rows = vax.rows if acc is None or acc.axis == WHOLE else acc.row1 - acc.row0
            return timing.vector_chunk_task(t, w.elements, w.ops, w.bytes_in + w.bytes_out, rows, vax.rows)
        return timing.host_task(t, w.ops, w.bytes_in + w.bytes_out)
    if ins.kind == "operand_write":
        return timing.operand_write_task(t, [_tile(t, tw) for tw in ins.tiles])
    if ins.kind == "transfer":
        return timing.routed_transfer_task(t, ins.nbytes, ins.src_core, timed_route(ins, t))
    if ins.kind == "write" and ins.tile is not None:
        tw = ins.tile
        return timing.write_task(t, tw.ngroups * (tw.row1 - tw.row0), tw.ngroups * (tw.col1 - tw.col0) * t.weight_slices)
    return InstrCost(0.0, Energy())
