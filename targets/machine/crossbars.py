"""The reference machine's crossbar matrices: the float32 block each crossbar stores.

A crossbar is set by the programming map (segment 0), by a ``write`` instruction (one tile of
an op's constant weights) or by an ``operand_write`` instruction, which stores the run-time
operand it reads (the second input of a crossbar-written MatMul, `ir.written`) into every tile
it lists.  Which tile each crossbar holds, and every rule on it, is checked before the run
(`targets.machine.checks.flow`); here a block that cannot be cut from its matrix is the one
``crossbar`` violation found by execution.
"""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from cimopt.ir.graph import Graph, OpSpec
from cimopt.ir.program import Instruction, TileWrite
from cimopt.targets.machine.checks.violations import Report
from cimopt.targets.machine.kernels import tile_block
from cimopt.targets.machine.numerics_engine import NumericsEngine


class CrossbarState:
    """``(core, crossbar)`` -> the float32 block it stores (absent: none that can be computed)."""

    def __init__(self, graph: Graph, rep: Report) -> None:
        self.g, self.rep = graph, rep
        self.blocks: dict[tuple[int, int], np.ndarray] = {}

    def program(self, tw: TileWrite, where: str, weights: Mapping[str, np.ndarray] | None = None) -> None:
        """Crossbar ``(tw.core, tw.crossbar)`` stores tile ``tw``, its values from ``weights`` (a
        written operand by input name) or, by default, the graph's constants."""
        if tw.op not in self.g.dag:
            return
        self.blocks.pop((tw.core, tw.crossbar), None)
        op = self.g.op(tw.op)
        src = self.g.constants if weights is None else weights
        if len(op.inputs) < 2 or op.inputs[1] not in src:
            return
        try:
            self.blocks[(tw.core, tw.crossbar)] = tile_block(op, src, tw)
        except (ValueError, IndexError) as e:   # a tile beyond its matrix, an operand of another shape
            self.rep.add("crossbar", f"{where}: tile {tw.tile} of {tw.op!r} cannot be built: {e}")

    def write_operand(self, ins: Instruction, op: OpSpec, value: np.ndarray | None,
                      numerics: NumericsEngine | None) -> None:
        """An ``operand_write``: every tile of ``ins`` stores ``value``, the operand it read (None
        when its address was bad, which the checks report: nothing is stored)."""
        if value is None:
            return
        operand = np.array(value)
        if numerics is not None:
            numerics.write_operand(op, operand)
        for tw in ins.tiles:
            self.program(tw, f"instruction {ins.id}", {op.inputs[1]: operand})
