"""The water-filling lower bound of replication's bottleneck (ns)."""
from __future__ import annotations

import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # annotations only: replication builds on this module
    from .replication import ReplicationProblem


def water_filling_bound(problem: ReplicationProblem) -> float:
    """Continuous relaxation of the bottleneck (ns): the least T whose fractional copies fit.

    Any solution with bottleneck T has ``r_l >= vectors_l * interval_ns_l / (T - fixed_ns_l)``
    and ``r_l >= 1``, so ``sum_l crossbars_l * r_l(T) <= budget``; bisection on T finds the
    least such T from below, which is a lower bound of both the bottleneck and the critical path.
    """
    layers = problem.layers
    if not layers:
        return 0.0

    def need(t: float) -> float:
        total = 0.0
        for layer in layers:
            work = layer.vectors * layer.interval_ns
            if work == 0 or layer.crossbars == 0:
                total += layer.crossbars
            elif t <= layer.fixed_ns:
                return math.inf
            else:
                total += layer.crossbars * max(1.0, work / (t - layer.fixed_ns))
        return total

    lo = max(layer.fixed_ns for layer in layers)
    hi = max(layer.fixed_ns + layer.vectors * layer.interval_ns for layer in layers)  # one copy each
    if need(hi) > problem.budget:
        return lo
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if mid <= lo or mid >= hi:
            break
        if need(mid) > problem.budget:
            lo = mid
        else:
            hi = mid
    return lo
