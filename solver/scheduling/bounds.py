"""Stronger heads and tails for the latency lower bound: work of ancestors and descendants.

Rules (all values in ns, all valid lower bounds):

* tail of task ``i`` (time from its end to the makespan) >= for every resource ``r`` with a
  descendant of ``i``: ``D_r(i) + W_r(i) + Q_r(i)``, where ``D_r(i)`` is the shortest path
  (durations + delays) from ``i``'s end to the start of a descendant on ``r``, ``W_r(i)`` the total
  duration of ``i``'s descendants on ``r`` (one resource runs them one at a time) and ``Q_r(i)`` the
  smallest tail among them;
* head of task ``i`` (its earliest start) >= symmetrically ``H_r(i) + W'_r(i) + D'_r(i)`` over its
  ancestors on ``r`` (smallest head, total duration, shortest path from an ancestor's end).

In a pipelined network these see that after the last chunk of the bottleneck layer the later
layers still have to process every chunk that depends on it, which a plain critical path misses.
Cost: an ``n x n`` reachability matrix, so it is skipped above ``MAX_TASKS`` tasks.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from cimopt.solver.scheduling.heuristic import SchedulingProblem

MAX_TASKS = 7000


def _resource_side(problem: SchedulingProblem, order: list[int], value: list[int],
                   reach: np.ndarray, forward: bool) -> list[int]:
    """Max over resources of (min value + work + min distance) over reachable tasks, per task.

    ``forward`` False: descendants (tails, walking ``order`` backwards); True: ancestors (heads).
    """
    tasks, n, nr = problem.tasks, len(problem.tasks), len(problem.resources)
    work = np.zeros((n, nr), dtype=np.float64)  # work[i, r]: duration of task i if it runs on r
    for i, t in enumerate(tasks):
        if t.resource >= 0 and t.duration_ns > 0:
            work[i, t.resource] = t.duration_ns
    total = reach.astype(np.float32) @ work.astype(np.float32)  # W_r(i), exact below 2**24
    dist = np.full((n, nr), np.inf)  # D_r(i): shortest path between i and a reachable task on r
    best = np.full((n, nr), np.inf)  # Q_r(i) / H_r(i): smallest tail / head among them
    nbrs: list[list[tuple[int, int]]] = [[] for _ in range(n)]
    for p, s, d in problem.edges:
        if forward:
            nbrs[s].append((p, d))
        else:
            nbrs[p].append((s, d))
    out = [0] * n
    for i in (order if forward else reversed(order)):
        for j, d in nbrs[i]:
            t = tasks[j]
            cand = dist[j] + t.duration_ns + d
            near = best[j].copy()
            if t.resource >= 0 and t.duration_ns > 0:
                cand[t.resource] = d
                near[t.resource] = min(near[t.resource], value[j])
            np.minimum(dist[i], cand, out=dist[i])
            np.minimum(best[i], near, out=best[i])
        ok = np.isfinite(dist[i]) & (total[i] > 0)
        if ok.any():
            out[i] = int((dist[i][ok] + total[i][ok] + best[i][ok]).max())
    return out


def strengthen(problem: SchedulingProblem, order: list[int], head: list[int],
               tail: list[int]) -> tuple[list[int], list[int]]:
    """Heads and tails (ns) raised by the ancestor/descendant work rules (module doc)."""
    n = len(problem.tasks)
    if n > MAX_TASKS or n == 0 or not problem.resources:
        return head, tail
    desc = np.zeros((n, n), dtype=bool)  # desc[i, j]: j is a descendant of i
    succs: list[list[int]] = [[] for _ in range(n)]
    for p, s, _ in problem.edges:
        succs[p].append(s)
    for i in reversed(order):
        for s in succs[i]:
            desc[i] |= desc[s]
            desc[i, s] = True
    new_tail = [max(a, b) for a, b in zip(tail, _resource_side(problem, order, tail, desc, False))]
    new_head = [max(a, b) for a, b in
                zip(head, _resource_side(problem, order, head, desc.T.copy(), True))]
    return new_head, new_tail
