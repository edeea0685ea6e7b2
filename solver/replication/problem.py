"""Replication's problem: layers, their copies and times, and the objective (see
`cimopt.solver.replication.heuristic` for the model and its methods); the stage's instance (the
problem over the workload's ops) and solution (`Replicated`: copies and segments).

``t_l(r) = fixed_ns + ceil(units / r) * granule * interval_ns`` (ns) for ``r`` copies of layer
``l``; throughput minimises ``max_l t_l``, latency the critical path of the layer DAG.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from cimopt.ir.errors import CapacityError

STAGE = "replication"
MODES = ("throughput", "latency")


@dataclass(frozen=True)
class Layer:
    """One layer as replication sees it.

    ``crossbars``: crossbars one copy of its weights needs (0 for vector/host ops);
    ``vectors``: input vectors per inference (batch x output positions), split across copies;
    ``interval_ns``: time per input vector on one copy (ns); ``fixed_ns``: per-inference time
    that does not shrink with copies (ns); ``max_copies``: copy cap (0 = up to ``vectors / granule``);
    ``program_ns``: time to write this layer's weights into its crossbars (ns; used only by
    segmentation, where all copies of a segment are written in parallel); ``granule``: vectors
    dealt to one copy together (1: any split; a row-chunked op's vectors per output row).
    """

    name: str
    crossbars: int
    vectors: int
    interval_ns: float
    fixed_ns: float = 0.0
    max_copies: int = 0
    program_ns: float = 0.0
    granule: int = 1

    def __post_init__(self) -> None:
        for field in ("crossbars", "vectors", "max_copies"):
            if getattr(self, field) < 0:
                raise ValueError(f"layer {self.name!r}: {field} must be >= 0, got {getattr(self, field)}")
        if self.granule < 1 or self.vectors % self.granule:
            raise ValueError(f"layer {self.name!r}: granule must be >= 1 and divide vectors ({self.vectors}), "
                             f"got {self.granule}")

    @property
    def units(self) -> int:
        """Whole units of `granule` vectors the copies share (output rows for a row-chunked op)."""
        return self.vectors // self.granule
        for field in ("interval_ns", "fixed_ns", "program_ns"):
            value = getattr(self, field)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"layer {self.name!r}: {field} must be finite and >= 0, got {value}")

    @property
    def copy_cap(self) -> int:
        """Most copies this layer may have, ignoring the budget: 1 for crossbar-free layers."""
        if self.crossbars == 0:
            return 1
        useful = max(1, self.units)
        return min(self.max_copies, useful) if self.max_copies > 0 else useful


@dataclass(frozen=True)
class ReplicationProblem:
    """Layers in topological order, DAG edges between their indices, chip crossbars, objective."""

    layers: tuple[Layer, ...]
    edges: tuple[tuple[int, int], ...]
    budget: int
    mode: str

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {self.mode!r}")
        if self.budget < 0:
            raise ValueError(f"budget must be >= 0 crossbars, got {self.budget}")
        n = len(self.layers)
        for u, v in self.edges:
            if not (0 <= u < v < n):
                raise ValueError(f"edge ({u}, {v}) must join layer indices u < v < {n} (topological order)")

    @property
    def one_copy_crossbars(self) -> int:
        """Crossbars needed to hold every layer once."""
        return sum(layer.crossbars for layer in self.layers)


@dataclass(frozen=True)
class Replication:
    """Copies per layer (same order as ``problem.layers``), each >= 1."""

    copies: tuple[int, ...]


def layer_time(layer: Layer, copies: int) -> float:
    """Time of ``layer`` per inference with ``copies`` copies (ns)."""
    if copies < 1:
        raise ValueError(f"layer {layer.name!r}: copies must be >= 1, got {copies}")
    return layer.fixed_ns + math.ceil(layer.units / copies) * layer.granule * layer.interval_ns


def crossbars_used(problem: ReplicationProblem, copies: tuple[int, ...] | list[int]) -> int:
    """Crossbars a copy vector occupies."""
    return sum(layer.crossbars * r for layer, r in zip(problem.layers, copies))


def finish_times(times: list[float], edges: tuple[tuple[int, int], ...]) -> list[float]:
    """Earliest finish time of each node of a DAG in topological order with node weights (ns)."""
    preds: list[list[int]] = [[] for _ in times]
    for u, v in edges:
        preds[v].append(u)
    finish: list[float] = []
    for v, t in enumerate(times):
        finish.append(max((finish[u] for u in preds[v]), default=0.0) + t)
    return finish


def schedule_value(times: list[float], edges: tuple[tuple[int, int], ...], mode: str) -> float:
    """Bottleneck (throughput) or critical path (latency) of given layer times (ns)."""
    if not times:
        return 0.0
    if mode == "throughput":
        return max(times)
    return max(finish_times(times, edges))


def objective(problem: ReplicationProblem, rep: Replication) -> float:
    """Bottleneck or critical path (ns) of ``rep``; raises ValueError if it breaks a rule."""
    if len(rep.copies) != len(problem.layers):
        raise ValueError(f"{len(rep.copies)} copy counts for {len(problem.layers)} layers")
    for layer, r in zip(problem.layers, rep.copies):
        if not 1 <= r <= layer.copy_cap:
            raise ValueError(f"layer {layer.name!r}: {r} copies outside [1, {layer.copy_cap}]")
    used = crossbars_used(problem, rep.copies)
    if used > problem.budget:
        raise ValueError(f"replication uses {used} crossbars, the chip has {problem.budget}")
    times = [layer_time(layer, r) for layer, r in zip(problem.layers, rep.copies)]
    return schedule_value(times, problem.edges, problem.mode)


def check_fits(problem: ReplicationProblem) -> None:
    """Raise `CapacityError` unless every layer fits once, all at the same time, in the budget."""
    for layer in problem.layers:
        if layer.crossbars > problem.budget:
            raise CapacityError(
                f"layer {layer.name!r} needs {layer.crossbars} crossbars for one copy of its "
                f"weights, the chip has {problem.budget}: use a target with more crossbars"
            )
    need = problem.one_copy_crossbars
    if need > problem.budget:
        raise CapacityError(
            f"the model needs {need} crossbars for one copy of every layer, the chip has "
            f"{problem.budget} (short by {need - problem.budget}): cut it into segments with "
            "cimopt.solver.segmentation.heuristic.segment"
        )


def max_copies_alone(problem: ReplicationProblem) -> tuple[int, ...]:
    """Most copies each layer could get if every other layer kept one copy."""
    spare = problem.budget - problem.one_copy_crossbars
    caps: list[int] = []
    for layer in problem.layers:
        if layer.crossbars == 0:
            caps.append(1)
        else:
            caps.append(max(1, min(layer.copy_cap, 1 + spare // layer.crossbars)))
    return tuple(caps)


def next_useful(layer: Layer, copies: int) -> int | None:
    """Smallest copy count above ``copies`` that shortens the layer, or None if none helps."""
    q = math.ceil(layer.units / copies)
    if q <= 1 or layer.interval_ns == 0:
        return None
    nxt = math.ceil(layer.units / (q - 1))
    return nxt if nxt <= layer.copy_cap else None


def useful_copies(layer: Layer, limit: int) -> list[int]:
    """Breakpoints: the copy counts in [1, limit] at which ``ceil(units / r)`` drops."""
    out = [1]
    while True:
        nxt = next_useful(layer, out[-1])
        if nxt is None or nxt > limit:
            return out
        out.append(nxt)


@dataclass(frozen=True)
class ReplicationInstance:
    """The replication problem over the workload's ops (same order as ``ops``)."""

    problem: ReplicationProblem
    ops: tuple[str, ...]

    @property
    def fits(self) -> bool:
        """One copy of every layer fits the budget."""
        return self.problem.one_copy_crossbars <= self.problem.budget


@dataclass(frozen=True)
class Replicated:
    """Copies per op (order of the instance's ops) and the segments as lists of op indices."""

    copies: tuple[int, ...]
    segments: tuple[tuple[int, ...], ...]
