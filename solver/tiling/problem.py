"""Tiling's instance: the crossbar ops' weight matrices and the crossbar geometry (its solution,
`cimopt.solver.tiling.cut.Tiling`, is every op's tiles)."""
from __future__ import annotations

from dataclasses import dataclass

from cimopt.ir.workload import Matrix


@dataclass(frozen=True)
class TilingProblem:
    """Weight matrices of the crossbar ops, (op name, matrix), and the crossbar geometry."""

    matrices: tuple[tuple[str, Matrix], ...]
    rows: int
    cols: int
    slices: int
