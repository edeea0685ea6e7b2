"""The reference machine's crossbars: which tile each one holds and the float32 matrix it stores.

A crossbar is set by the programming map (segment 0), by a ``write`` instruction (one tile of
an op's constant weights) or by an ``operand_write`` instruction, which stores the run-time
operand it reads (the second input of a crossbar-written MatMul, `ir.written`) into every tile
it lists.  A tile of a written op set any other way is a ``crossbar`` violation: its values do
not exist before the operand is computed.
"""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from cimopt.ir.graph import Graph, OpSpec
from cimopt.ir.program import Instruction, TileWrite
from cimopt.targets.machine.kernels import tile_block
from cimopt.targets.machine.checks import Report
from cimopt.targets.machine.numerics import NumericsEngine


class CrossbarState:
    """Tiles (``(core, crossbar)`` -> `TileWrite`) and, when functional, their matrices."""

    def __init__(self, graph: Graph, functional: bool, rep: Report) -> None:
        self.g, self.functional, self.rep = graph, functional, rep
        self.tiles: dict[tuple[int, int], TileWrite] = {}
        self.blocks: dict[tuple[int, int], np.ndarray] = {}

    def program(self, tw: TileWrite, where: str, weights: Mapping[str, np.ndarray] | None = None) -> None:
        """Crossbar ``(tw.core, tw.crossbar)`` holds ``tw``, its values from ``weights`` (a written
        operand by input name) or, by default, the graph's constants."""
        if tw.op not in self.g.dag:
            self.rep.add("schema", f"{where}: tile of unknown op {tw.op!r}")
            return
        self.tiles[(tw.core, tw.crossbar)] = tw
        self.blocks.pop((tw.core, tw.crossbar), None)
        op = self.g.op(tw.op)
        src = self.g.constants if weights is None else weights
        if len(op.inputs) < 2 or op.inputs[1] not in src:
            self.rep.add("crossbar", f"{where}: a tile of {tw.op!r}, whose matrix is a run-time operand that "
                                     f"only an operand_write instruction can store")
        elif self.functional:
            try:
                self.blocks[(tw.core, tw.crossbar)] = tile_block(op, src, tw)
            except (ValueError, IndexError) as e:   # a tile beyond its matrix, an operand of another shape
                self.rep.add("crossbar", f"{where}: tile {tw.tile} of {tw.op!r} cannot be built: {e}")

    def write_operand(self, ins: Instruction, op: OpSpec, reads: bool, value: np.ndarray | None,
                      numerics: NumericsEngine | None) -> None:
        """An ``operand_write``: every tile of ``ins`` holds ``value``, the operand it read (None
        when not functional, or when its address was bad, which the read check reports)."""
        if not reads or not ins.tiles or len(op.inputs) < 2:
            self.rep.add("schema", f"instruction {ins.id} (operand_write {op.name}) must read the op's second "
                                   f"input and list the tiles it writes")
            return
        if value is None and self.functional:
            return
        if {(tw.core, tw.crossbar) for tw in ins.tiles} != set(ins.crossbars):
            self.rep.add("crossbar", f"instruction {ins.id} (operand_write {op.name}) lists crossbars "
                                     f"{sorted(ins.crossbars)} but writes tiles on other ones")
        operand = np.array(value) if value is not None else np.zeros(0, dtype=np.float32)
        if numerics is not None:
            numerics.write_operand(op, operand)
        for tw in ins.tiles:
            if tw.op != op.name or tw.replica != ins.replica:
                self.rep.add("crossbar", f"instruction {ins.id} (operand_write {op.name} replica {ins.replica}) "
                                         f"writes a tile of {tw.op!r} replica {tw.replica}")
            self.program(tw, f"instruction {ins.id}", {op.inputs[1]: operand})
