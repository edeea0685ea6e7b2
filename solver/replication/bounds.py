"""Lower bounds of replication's bottleneck (ns): water filling over fractional copies, and the
same over whole copies."""
from __future__ import annotations

import math
from collections.abc import Callable

from cimopt.solver.replication.problem import ReplicationProblem


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

    return _least_feasible(problem, need)


#: copies counted from a time are rounded down by this relative margin, so rounding error can
#: only lower the bound
_ROUND = 1e-12


def integer_copies_bound(problem: ReplicationProblem) -> float:
    """Whole copies: the least T whose integer copies fit (ns), at least `water_filling_bound`.

    A vector passes through one whole copy of its layer's weights (copying some of a layer's
    tiles more than others gains nothing: every vector needs all of them), so a layer with
    bottleneck T has ``r_l = max(1, ceil(vectors_l * interval_ns_l / (T - fixed_ns_l)))`` copies
    at least, and no T below ``fixed_ns_l + interval_ns_l`` (one vector).  Vectors may be split
    between copies in any proportion (no row granularity), so this bounds every mapping.
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
            elif t < layer.fixed_ns + layer.interval_ns:
                return math.inf
            else:
                total += layer.crossbars * max(1, math.ceil(work / (t - layer.fixed_ns) * (1 - _ROUND)))
        return total

    return _least_feasible(problem, need)


def _least_feasible(problem: ReplicationProblem, need: Callable[[float], float]) -> float:
    """Bisection for the least T with ``need(T) <= budget`` (``need`` non-increasing), from below:
    the largest T found infeasible (or the largest fixed time, when every T is feasible)."""
    layers = problem.layers
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
