"""A segmentation of a model (consecutive segments of a topological order) and its cost.

Rules (used by every method of `cimopt.solver.segmentation.heuristic`): segments run one after the other;
before each, its weights are written into the crossbars, all in parallel, so a segment's
reprogramming time is the largest ``program_ns`` among its layers; it then runs with its own
replication.  Cost (ns per inference): the sum over segments of the value of the segment's
replication subproblem plus its reprogramming time.
"""
from __future__ import annotations

from dataclasses import dataclass

from cimopt.solver.replication import heuristic as rp


@dataclass(frozen=True)
class Segmentation:
    """Execution ``order`` (a topological order of layer indices), ``segments`` as half-open
    intervals ``[i, j)`` of positions in ``order``, and ``copies`` per layer (by layer index)."""

    order: tuple[int, ...]
    segments: tuple[tuple[int, int], ...]
    copies: tuple[int, ...]

    def members(self) -> list[list[int]]:
        """Layer indices of each segment, in execution order."""
        return [list(self.order[i:j]) for i, j in self.segments]


def check_layers_fit(problem: rp.ReplicationProblem) -> None:
    """Raise `CapacityError` if some layer alone needs more crossbars than the chip has."""
    for layer in problem.layers:
        if layer.crossbars > problem.budget:
            rp.check_fits(rp.ReplicationProblem((layer,), (), problem.budget, problem.mode))


def subproblem(problem: rp.ReplicationProblem, members: list[int]) -> rp.ReplicationProblem:
    """The replication problem of a segment: its layers (in the given order), inner edges."""
    position = {layer: p for p, layer in enumerate(members)}
    edges = tuple(
        sorted((position[u], position[v]) for u, v in problem.edges if u in position and v in position)
    )
    layers = tuple(problem.layers[i] for i in members)
    return rp.ReplicationProblem(layers, edges, problem.budget, problem.mode)


def program_time(problem: rp.ReplicationProblem, members: list[int]) -> float:
    """Time to write a segment's weights (ns): its slowest layer, all written in parallel."""
    return max((problem.layers[i].program_ns for i in members), default=0.0)


def evaluate(problem: rp.ReplicationProblem, seg: Segmentation) -> float:
    """Cost of a segmentation (ns); raises ValueError if it breaks a rule."""
    n = len(problem.layers)
    if sorted(seg.order) != list(range(n)):
        raise ValueError("order must list every layer exactly once")
    position = {layer: p for p, layer in enumerate(seg.order)}
    if any(position[u] > position[v] for u, v in problem.edges):
        raise ValueError("order is not a topological order of the edges")
    cuts = [p for i, j in seg.segments for p in (i, j)]
    if any(i >= j for i, j in seg.segments):
        raise ValueError("segments must be non-empty")
    if seg.segments and (cuts[0] != 0 or cuts[-1] != n or any(a != b for a, b in zip(cuts[1:-1:2], cuts[2::2]))):
        raise ValueError("segments must be consecutive intervals covering the order")
    total = 0.0
    for members in seg.members():
        sub = subproblem(problem, members)
        rep = rp.Replication(tuple(seg.copies[i] for i in members))
        total += rp.objective(sub, rep) + program_time(problem, members)
    return total
