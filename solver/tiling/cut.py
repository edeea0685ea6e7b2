"""Tiling: every crossbar op's weights cut into crossbar tiles (geometry: `cimopt.ir.tiles`)."""
from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

from cimopt.ir.tiles import Tile, tile_matrix
from cimopt.ir.workload import Matrix
from cimopt.solver.stats import SolveStats, Status


@dataclass(frozen=True)
class Tiling:
    tiles: dict[str, tuple[Tile, ...]]   # op name -> tiles of one copy

    def crossbars(self, op: str) -> int:
        return len(self.tiles.get(op, ()))

    @property
    def total(self) -> int:
        return sum(len(t) for t in self.tiles.values())


def tile_workload(matrices: Sequence[tuple[str, Matrix]], rows: int, cols: int,
                  slices: int) -> tuple[Tiling, SolveStats]:
    """Tiles for every (op, weight matrix); objective = crossbars for one copy of every weight.

    Bound: per op, the cells its weights occupy divided by a crossbar's usable cells (rounded
    up); the tiling is exact for each op's block structure.
    """
    t0 = time.perf_counter()
    tiles: dict[str, tuple[Tile, ...]] = {}
    bound = 0
    for name, m in matrices:
        tiles[name] = tile_matrix(name, m, rows, cols, slices)
        cells = m.groups * m.k * m.n * slices
        bound += math.ceil(cells / (rows * (cols // slices) * slices))
    tiling = Tiling(tiles)
    total = tiling.total
    return tiling, SolveStats("tiling", "block", Status.OPTIMAL if total == bound else Status.FEASIBLE,
                              float(total), float(bound), time.perf_counter() - t0, bound_kind="cell-area bound")
