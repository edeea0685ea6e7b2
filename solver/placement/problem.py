"""The placement problem: crossbar groups (tiles / replicas of a layer) to put in the cores of a
mesh; its solution (`Placement`), the feasibility checks and the objective (`cost`); the stage's
instance (one problem per segment, with the groups' ops and tiles) and solution (`Placed`).

Every group needs ``groups[g]`` crossbars and must sit in one core; a core holds at most
``crossbars_per_core`` crossbars.  The objective is the NoC load, the sum over traffic pairs of
bytes × XY hops (Manhattan distance between the two cores on the mesh), in byte-hops per inference.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cimopt.ir.errors import CapacityError


@dataclass(frozen=True)
class PlacementProblem:
    """Groups of crossbars to place on a ``mesh_rows × mesh_cols`` mesh of cores.

    ``groups[g]`` is the number of crossbars group g needs (all in one core); ``traffic`` holds
    ``(a, b, bytes)`` exchanged per inference.  On construction traffic is normalised: pairs are
    ordered ``a < b``, duplicates merged (bytes summed), zero-byte pairs dropped, sorted.
    """

    groups: tuple[int, ...]
    traffic: tuple[tuple[int, int, float], ...]
    mesh_rows: int
    mesh_cols: int
    crossbars_per_core: int
    names: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.mesh_rows < 1 or self.mesh_cols < 1 or self.crossbars_per_core < 1:
            raise ValueError(f"mesh {self.mesh_rows}×{self.mesh_cols} with "
                             f"{self.crossbars_per_core} crossbars per core: every dimension "
                             "must be ≥ 1")
        if any(s < 1 for s in self.groups):
            raise ValueError(f"group sizes must be ≥ 1 crossbar, got {self.groups}")
        if self.names and len(self.names) != len(self.groups):
            raise ValueError(f"{len(self.names)} names for {len(self.groups)} groups")
        merged: dict[tuple[int, int], float] = {}
        for a, b, w in self.traffic:
            if not (0 <= a < len(self.groups) and 0 <= b < len(self.groups)) or a == b:
                raise ValueError(f"traffic pair ({a}, {b}) must name two different groups "
                                 f"in 0..{len(self.groups) - 1}")
            if not w >= 0 or w == float("inf"):
                raise ValueError(f"traffic ({a}, {b}) has {w} bytes; must be finite and ≥ 0")
            key = (min(a, b), max(a, b))
            merged[key] = merged.get(key, 0.0) + float(w)
        norm = tuple((a, b, w) for (a, b), w in sorted(merged.items()) if w > 0)
        object.__setattr__(self, "groups", tuple(int(s) for s in self.groups))
        object.__setattr__(self, "traffic", norm)

    @property
    def n_groups(self) -> int:
        return len(self.groups)

    @property
    def n_cores(self) -> int:
        return self.mesh_rows * self.mesh_cols

    def label(self, g: int) -> str:
        """Human-readable name of group g for messages."""
        return f"group {g} ({self.names[g]})" if self.names else f"group {g}"

    def coords(self, core: int) -> tuple[int, int]:
        """(row, col) of a core, cores numbered row-major."""
        return divmod(core, self.mesh_cols)

    def hops(self, a: int, b: int) -> int:
        """XY hops (Manhattan distance) between cores a and b."""
        (ra, ca), (rb, cb) = self.coords(a), self.coords(b)
        return abs(ra - rb) + abs(ca - cb)

    def hop_matrix(self) -> np.ndarray:
        """``[n_cores, n_cores]`` int64 matrix of XY hops."""
        r, c = np.divmod(np.arange(self.n_cores), self.mesh_cols)
        return np.abs(r[:, None] - r[None, :]) + np.abs(c[:, None] - c[None, :])

    def neighbours(self) -> list[list[tuple[int, float]]]:
        """Per group, its ``(other group, bytes)`` traffic partners."""
        adj: list[list[tuple[int, float]]] = [[] for _ in self.groups]
        for a, b, w in self.traffic:
            adj[a].append((b, w))
            adj[b].append((a, w))
        return adj


@dataclass(frozen=True)
class Placement:
    """``core_of[g]`` = core index (row-major on the mesh) of group g."""

    core_of: tuple[int, ...]


def require_fit(problem: PlacementProblem) -> None:
    """Raise ``CapacityError`` if a group exceeds a core or total demand exceeds the chip."""
    cap = problem.crossbars_per_core
    for g, s in enumerate(problem.groups):
        if s > cap:
            raise CapacityError(f"{problem.label(g)} needs {s} crossbars but a core has {cap}: "
                                f"short by {s - cap}; split the group or use a larger core")
    need, have = sum(problem.groups), cap * problem.n_cores
    if need > have:
        raise CapacityError(f"chip crossbars: needs {need}, has {have} ({problem.n_cores} cores × "
                            f"{cap}): short by {need - have}; use a larger mesh or fewer replicas")


def check(problem: PlacementProblem, placement: Placement) -> None:
    """Raise ``ValueError`` if the placement has a wrong length, a bad core or an overfull core."""
    if len(placement.core_of) != problem.n_groups:
        raise ValueError(f"placement has {len(placement.core_of)} entries for "
                         f"{problem.n_groups} groups")
    load = [0] * problem.n_cores
    for g, c in enumerate(placement.core_of):
        if not 0 <= c < problem.n_cores:
            raise ValueError(f"{problem.label(g)} on core {c}, mesh has cores "
                             f"0..{problem.n_cores - 1}")
        load[c] += problem.groups[g]
    for c, used in enumerate(load):
        if used > problem.crossbars_per_core:
            raise ValueError(f"core {c} crossbars: holds {used}, has {problem.crossbars_per_core}: "
                             f"over by {used - problem.crossbars_per_core}")


def cost(problem: PlacementProblem, placement: Placement) -> float:
    """NoC load of a placement: Σ bytes × XY hops over traffic pairs, in byte-hops per inference."""
    core = placement.core_of
    return float(sum(w * problem.hops(core[a], core[b]) for a, b, w in problem.traffic))


#: a group: (op, replica, first tile index, number of tiles)
Group = tuple[str, int, int, int]


@dataclass(frozen=True)
class PlacementInstance:
    """One placement problem per segment with crossbar groups, and the groups themselves."""

    problems: tuple[PlacementProblem, ...]
    groups: tuple[tuple[Group, ...], ...]
    #: parts cut again so that the groups pack (`cimopt.solver.placement.stage.packable_groups`)
    cut: int = 0


@dataclass(frozen=True)
class Placed:
    """The core of every group, per segment, and the groups (those of the instance solved: what
    the stage's ``apply`` records)."""

    cores: tuple[tuple[int, ...], ...]
    groups: tuple[tuple[Group, ...], ...] = ()
