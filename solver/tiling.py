"""Tiling stage: every crossbar op's weights cut into crossbar tiles (geometry: `cimopt.ir.tiles`)."""
from __future__ import annotations

import math
import time
from dataclasses import dataclass

from cimopt.ir.graph import OpClass
from cimopt.ir.tiles import Tile, tile_matrix
from cimopt.ir.workload import Workload, crossbar_tiles

from .stats import SolveStats, Status


@dataclass(frozen=True)
class Tiling:
    tiles: dict[str, tuple[Tile, ...]]   # op name -> tiles of one copy

    def crossbars(self, op: str) -> int:
        return len(self.tiles.get(op, ()))

    @property
    def total(self) -> int:
        return sum(len(t) for t in self.tiles.values())


def tile_workload(workload: Workload, rows: int, cols: int, slices: int) -> tuple[Tiling, SolveStats]:
    """Tiles for every crossbar op; objective = crossbars for one copy of every weight.

    Bound: per op, the cells its weights occupy divided by a crossbar's cells (rounded up);
    the tiling is exact for each op's block structure.
    """
    t0 = time.perf_counter()
    tiles: dict[str, tuple[Tile, ...]] = {}
    bound = 0
    for op in workload.ops:
        if op.op_class is not OpClass.CROSSBAR or op.matrix is None:
            continue
        tiles[op.name] = tile_matrix(op.name, op.matrix, rows, cols, slices)
        assert len(tiles[op.name]) == crossbar_tiles(op.matrix, rows, cols, slices)
        cells = op.matrix.groups * op.matrix.k * op.matrix.n * slices
        bound += math.ceil(cells / (rows * (cols // slices) * slices))
    tiling = Tiling(tiles)
    total = tiling.total
    return tiling, SolveStats("tiling", "block", Status.OPTIMAL if total == bound else Status.FEASIBLE,
                              float(total), float(bound), time.perf_counter() - t0, bound_kind="cell-area bound")
