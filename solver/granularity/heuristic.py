"""Granularity heuristic: first the best common refinement (every op's fewest chunks times 1, 2,
4, ..., capped by its most, within the task budget), then, from it, double the chunks of the op
whose doubling lowers the estimate most per added task, while the budget allows and the
estimate falls (parallel branches tie, hence the common refinement first).

Throughput mode: the fewest chunks (``k_min`` everywhere) is optimal (every ``t`` grows with
``k``), proved by the bound.  Latency mode: a greedy over the ops on a longest path of the
estimate (`problem.finish_times`)."""
from __future__ import annotations

import time

from cimopt.solver.budget import Budget, HEURISTIC_LAYER_S
from cimopt.solver.granularity.problem import (
    STAGE, Granularity, GranularityProblem, critical_ops, granularity, lower_bound, objective, predecessors, tasks)
from cimopt.solver.stats import SolverOptions, SolveStats, Status


def greedy(p: GranularityProblem, budget: Budget | None = None) -> tuple[int, ...]:
    """The greedy choice (chunks per copy, per op)."""
    k = list(p.start())
    if p.mode == "throughput":
        return tuple(k)
    best = objective(p, tuple(k))
    f, last = 2, tuple(k)
    while True:
        trial = tuple(min(o.k_max, o.k_min * f) if o.decided else 1 for o in p.ops)
        if trial == last or tasks(p, trial) > p.budget:
            break
        last = trial
        value = objective(p, trial)
        if value < best:
            k, best = list(trial), value
        f *= 2
    used = tasks(p, tuple(k))
    preds = predecessors(p)
    while budget is None or not budget.expired:
        pick: tuple[float, int, int, int] | None = None
        for i in sorted(critical_ops(p, tuple(k), preds)):
            o = p.ops[i]
            if not o.decided or k[i] >= o.k_max:
                continue
            nk = min(o.k_max, 2 * k[i])
            extra = o.copies * (nk - k[i])
            if used + extra > p.budget:
                nk = k[i] + (p.budget - used) // o.copies
                extra = o.copies * (nk - k[i])
                if nk <= k[i]:
                    continue
            trial = list(k)
            trial[i] = nk
            gain = best - objective(p, tuple(trial))
            if gain > 0 and (pick is None or gain / extra > pick[0]):
                pick = (gain / extra, i, nk, extra)
        if pick is None:
            break
        _, i, nk, extra = pick
        k[i] = nk
        used += extra
        best = objective(p, tuple(k))
        if budget is not None:
            budget.spend(HEURISTIC_LAYER_S * len(p.ops))
    return tuple(k)


def solve(p: GranularityProblem, options: SolverOptions) -> tuple[Granularity, SolveStats]:
    """`greedy` with its objective and `lower_bound` (OPTIMAL when they meet)."""
    t0 = time.perf_counter()
    k = greedy(p, Budget.of(options))
    obj, bound = objective(p, k), lower_bound(p)
    status = Status.OPTIMAL if obj <= bound else Status.FEASIBLE
    return granularity(p, k), SolveStats(STAGE, "greedy", status, float(obj), float(bound),
                                      time.perf_counter() - t0, bound_kind="fewest fills, finest chunks")
