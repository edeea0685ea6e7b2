"""Lower bounds of a scheduling problem (`lower_bound`, ns): the largest resource load (throughput
mode); in latency mode the critical path, heads and tails strengthened by the work of ancestors
and descendants (`strengthen`), and Jackson's preemptive one-machine bound per resource.

`strengthen`'s rules (all values in ns, all valid lower bounds):

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

import heapq

import numpy as np

from cimopt.solver.scheduling.problem import check_mode, Mode, SchedulingProblem, validate

MAX_TASKS = 7000


def _resource_side(problem: SchedulingProblem, order: list[int], value: list[int],
                   reach: np.ndarray, forward: bool) -> list[int]:
    """Max over resources of (min value + work + min distance) over reachable tasks, per task.

    ``forward`` False: descendants (tails, walking ``order`` backwards); True: ancestors (heads).
    """
    tasks, n, nr = problem.tasks, len(problem.tasks), len(problem.resources)
    work = np.zeros((n, nr), dtype=np.float64)  # work[i, r]: duration of task i if it runs on r
    for i, t in enumerate(tasks):
        for r in t.held:
            work[i, r] = t.duration_ns
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
            for r in t.held:
                cand[r] = d
                near[r] = min(near[r], value[j])
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


def heads_and_tails(problem: SchedulingProblem, order: list[int]) -> tuple[list[int], list[int]]:
    """Earliest starts (ns; precedence and releases only) and tails (ns, task end to sink)."""
    n = len(problem.tasks)
    dur = [t.duration_ns for t in problem.tasks]
    head = [t.release_ns for t in problem.tasks]
    tail = [0] * n
    succs: list[list[tuple[int, int]]] = [[] for _ in range(n)]
    for p, s, d in problem.edges:
        succs[p].append((s, d))
    for i in order:
        for s, d in succs[i]:
            head[s] = max(head[s], head[i] + dur[i] + d)
    for i in reversed(order):
        for s, d in succs[i]:
            tail[i] = max(tail[i], d + dur[s] + tail[s])
    return head, tail


def resource_loads(problem: SchedulingProblem) -> list[int]:
    """Total duration (ns) of the tasks on each resource."""
    load = [0] * len(problem.resources)
    for t in problem.tasks:
        for r in t.held:
            load[r] += t.duration_ns
    return load


def _jackson_bound(items: list[tuple[int, int, int]]) -> int:
    """Preemptive one-machine bound max(C_j + q_j) for (head, duration, tail) items, in ns.

    Jackson's preemptive schedule (largest tail first) is optimal for the preemptive relaxation
    of one machine with heads and tails, hence a lower bound on any makespan.
    """
    items = sorted(items)
    ready: list[tuple[int, int]] = []  # (-tail, remaining duration)
    t, k, best = 0, 0, 0
    while k < len(items) or ready:
        if not ready and t < items[k][0]:
            t = items[k][0]
        while k < len(items) and items[k][0] <= t:
            heapq.heappush(ready, (-items[k][2], items[k][1]))
            k += 1
        neg_q, rem = heapq.heappop(ready)
        nxt = items[k][0] if k < len(items) else t + rem
        run = min(rem, nxt - t)
        t += run
        if run < rem:
            heapq.heappush(ready, (neg_q, rem - run))
        else:
            best = max(best, t - neg_q)
    return best


def lower_bound(problem: SchedulingProblem, mode: Mode) -> tuple[int, str]:
    """A lower bound (ns) on the makespan (latency) or on II (throughput), and which bound won.

    Latency: the max of the critical path (delays and releases included), of every task's
    head + duration + tail with heads and tails raised by `strengthen`,
    and for each resource of ``min release + total work`` strengthened to Jackson's preemptive
    one-machine bound with those heads and tails.  Throughput: the max resource load
    (achieved by `cimopt.solver.scheduling.heuristic.list_schedule`), at least 1 ns.
    """
    check_mode(mode)
    order = validate(problem)
    loads = resource_loads(problem)
    if mode == "throughput":
        if not loads or max(loads) == 0:
            return 1, "no resource work (II >= 1 ns)"
        r = max(range(len(loads)), key=lambda k: (loads[k], -k))
        return loads[r], f"load of resource {problem.resources[r]}"
    head, tail = heads_and_tails(problem, order)
    dur = [t.duration_ns for t in problem.tasks]
    best = max((h + d + q for h, d, q in zip(head, dur, tail)), default=0)
    kind = "critical path"
    head, tail = strengthen(problem, order, head, tail)
    for i in range(len(dur)):
        if head[i] + dur[i] + tail[i] > best:
            best = head[i] + dur[i] + tail[i]
            kind = f"path through {problem.tasks[i].name} with ancestor/descendant resource work"
    per_res: list[list[tuple[int, int, int]]] = [[] for _ in problem.resources]
    for i, t in enumerate(problem.tasks):
        for r in t.held:
            per_res[r].append((head[i], dur[i], tail[i]))
    for r, items in enumerate(per_res):
        if items:
            b = _jackson_bound(items)
            if b > best:
                best, kind = b, f"resource {problem.resources[r]}: heads + work + tails (Jackson)"
    return best, kind
