"""Tile geometry: how one copy of a weight matrix is cut into crossbar-sized blocks.

A weight of ``weight_bits`` spans ``slices = ceil(weight_bits / cell_bits)`` adjacent columns
(bit slicing), so a crossbar of R rows and C columns holds R x floor(C / slices) weights.
A K x N block is cut into ceil(K / R) row tiles and ceil(N / floor(C / slices)) column
tiles; partial sums of row tiles are added by the vector unit.  Small groups of a grouped
(or depthwise) convolution are packed block-diagonally, several groups per crossbar.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

from cimopt.ir.workload import Matrix


@dataclass(frozen=True)
class Tile:
    """One crossbar's worth of one op's weights (one copy).

    Rows ``row0:row1`` of K and weight columns ``col0:col1`` of N, for the groups
    ``group0 : group0 + ngroups`` packed block-diagonally.
    """

    op: str
    index: int
    group0: int
    ngroups: int
    row0: int
    row1: int
    col0: int
    col1: int
    slices: int

    @property
    def rows_used(self) -> int:
        return self.ngroups * (self.row1 - self.row0)

    @property
    def cols_used(self) -> int:
        """Physical crossbar columns used (bit slices included)."""
        return self.ngroups * (self.col1 - self.col0) * self.slices


def tile_matrix(op: str, m: Matrix, rows: int, cols: int, slices: int) -> tuple[Tile, ...]:
    """The tiles of one copy of ``m`` on ``rows x cols`` crossbars (the one tile geometry: the
    cost model, the task builder and the machine all use these tiles)."""
    return tuple(Tile(op, *t) for t in _blocks(m, rows, cols, slices))


def tile_count(m: Matrix, rows: int, cols: int, slices: int) -> int:
    """Crossbars one copy of ``m`` needs: the number of its tiles."""
    return len(_blocks(m, rows, cols, slices))


def row_tiles(m: Matrix, rows: int) -> int:
    """Row tiles of one group of ``m`` (their partial sums are added by the vector unit): 1 when
    K fits a crossbar's ``rows``, else ceil(K / rows)."""
    return 1 if m.k <= rows else math.ceil(m.k / rows)


@lru_cache(maxsize=4096)
def _blocks(m: Matrix, rows: int, cols: int, slices: int) -> tuple[tuple[int, int, int, int, int, int, int, int], ...]:
    """(index, group0, ngroups, row0, row1, col0, col1, slices) of each tile (none for an empty matrix)."""
    wcols = cols // slices
    if wcols < 1:
        raise ValueError(f"a {slices}-slice weight does not fit a {cols}-column crossbar")
    out: list[tuple[int, int, int, int, int, int, int, int]] = []
    if m.k <= 0 or m.n <= 0 or m.groups <= 0:  # an empty matrix (legal ONNX) holds no weight: no tile
        return ()
    if m.k <= rows and m.n <= wcols:
        per = min(rows // m.k, wcols // m.n)
        for g0 in range(0, m.groups, per):
            out.append((len(out), g0, min(per, m.groups - g0), 0, m.k, 0, m.n, slices))
        return tuple(out)
    for g in range(m.groups):
        for r0 in range(0, m.k, rows):
            for c0 in range(0, m.n, wcols):
                out.append((len(out), g, 1, r0, min(r0 + rows, m.k), c0, min(c0 + wcols, m.n), slices))
    return tuple(out)
