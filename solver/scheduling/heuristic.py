"""Task scheduling on unary resources: problem types, checker, lower bounds, list scheduling.

Tasks are op x replica x chunk of output rows; an edge ``(pred, succ, delay_ns)`` requires
``start[succ] >= start[pred] + duration[pred] + delay_ns``.  Every task occupies at most one
unary resource (crossbar group, vector unit, host, link); ``resource == -1`` is a pure delay.

Two modes:

* ``"latency"``: one inference; minimise the makespan (ns); no two tasks of a resource overlap.
* ``"throughput"``: a stream; inference ``k`` runs task ``i`` at ``start[i] + k * II``.  For every
  resource the intervals ``[start mod II, start mod II + duration)`` must not overlap on the circle
  of length ``II``.  II is minimised first, then the latency of one inference.

Preconditions checked by :func:`validate`: the precedence graph is a DAG (a cycle raises
``ValueError`` naming a task on it), indices in range, durations, delays and releases >= 0.
"""
from __future__ import annotations

import heapq
import time
from dataclasses import dataclass
from typing import Literal

from cimopt.solver.scheduling.bounds import strengthen
from cimopt.solver.scheduling.modulo import modulo_starts
from cimopt.solver.stats import SolverOptions, SolveStats, Status

Mode = Literal["latency", "throughput"]
MODES: tuple[str, ...] = ("latency", "throughput")


@dataclass(frozen=True)
class Task:
    """One task: ``duration_ns`` (integer ns) on ``resource`` (-1: none), from ``release_ns`` on."""

    name: str
    duration_ns: int
    resource: int
    release_ns: int = 0


@dataclass(frozen=True)
class SchedulingProblem:
    """Tasks, precedence edges ``(pred, succ, delay_ns)`` and resource names."""

    tasks: tuple[Task, ...]
    edges: tuple[tuple[int, int, int], ...]
    resources: tuple[str, ...]


@dataclass(frozen=True)
class Schedule:
    """Start times (ns) of one inference, its makespan (ns) and the initiation interval (ns).

    In latency mode ``initiation_interval_ns == makespan_ns``.
    """

    start_ns: tuple[int, ...]
    makespan_ns: int
    initiation_interval_ns: int


def _check_mode(mode: str) -> None:
    if mode not in MODES:
        raise ValueError(f"unknown scheduling mode {mode!r}; expected one of {MODES}")


def validate(problem: SchedulingProblem) -> list[int]:
    """Check the problem and return a topological order of its tasks (smallest index first).

    Raises ``ValueError`` on a bad index, a negative number, or a cycle (naming a task on it).
    """
    n = len(problem.tasks)
    for i, t in enumerate(problem.tasks):
        if t.duration_ns < 0 or t.release_ns < 0:
            raise ValueError(f"task {i} ({t.name}): duration_ns and release_ns must be >= 0")
        if not -1 <= t.resource < len(problem.resources):
            raise ValueError(f"task {i} ({t.name}): resource {t.resource} not in "
                             f"[-1, {len(problem.resources)})")
    indeg = [0] * n
    succs: list[list[int]] = [[] for _ in range(n)]
    preds: list[list[int]] = [[] for _ in range(n)]
    for p, s, d in problem.edges:
        if not (0 <= p < n and 0 <= s < n):
            raise ValueError(f"edge ({p}, {s}, {d}): task index out of range [0, {n})")
        if d < 0:
            raise ValueError(f"edge ({p}, {s}, {d}): delay_ns must be >= 0")
        indeg[s] += 1
        succs[p].append(s)
        preds[s].append(p)
    ready = [i for i in range(n) if indeg[i] == 0]
    heapq.heapify(ready)
    order: list[int] = []
    while ready:
        i = heapq.heappop(ready)
        order.append(i)
        for s in succs[i]:
            indeg[s] -= 1
            if indeg[s] == 0:
                heapq.heappush(ready, s)
    if len(order) < n:
        # Walk backwards through unfinished predecessors until a task repeats: it lies on a cycle.
        node, seen = next(i for i in range(n) if indeg[i] > 0), set()
        while node not in seen:
            seen.add(node)
            node = next(p for p in preds[node] if indeg[p] > 0)
        raise ValueError(f"precedence graph has a cycle through task {node} "
                         f"({problem.tasks[node].name})")
    return order


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
        if t.resource >= 0:
            load[t.resource] += t.duration_ns
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
    head + duration + tail with heads and tails raised by :func:`.scheduling_bounds.strengthen`,
    and for each resource of ``min release + total work`` strengthened to Jackson's preemptive
    one-machine bound with those heads and tails.  Throughput: the max resource load
    (achieved by :func:`list_schedule`), at least 1 ns.
    """
    _check_mode(mode)
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
        if t.resource >= 0 and dur[i] > 0:
            per_res[t.resource].append((head[i], dur[i], tail[i]))
    for r, items in enumerate(per_res):
        if items:
            b = _jackson_bound(items)
            if b > best:
                best, kind = b, f"resource {problem.resources[r]}: heads + work + tails (Jackson)"
    return best, kind


def check(problem: SchedulingProblem, schedule: Schedule, mode: Mode) -> list[str]:
    """All violations of ``schedule`` (precedence, release, overlap, modulo overlap, metrics)."""
    _check_mode(mode)
    tasks, st = problem.tasks, schedule.start_ns
    if len(st) != len(tasks):
        return [f"schedule has {len(st)} start times for {len(tasks)} tasks"]
    out: list[str] = []
    end = [st[i] + t.duration_ns for i, t in enumerate(tasks)]
    for i, t in enumerate(tasks):
        if st[i] < t.release_ns:
            out.append(f"task {t.name} starts at {st[i]} ns before its release {t.release_ns} ns")
    for p, s, d in problem.edges:
        if st[s] < end[p] + d:
            out.append(f"precedence {tasks[p].name} -> {tasks[s].name}: starts at {st[s]} ns, "
                       f"needs >= {end[p] + d} ns")
    makespan = max(end, default=0)
    if schedule.makespan_ns != makespan:
        out.append(f"makespan_ns {schedule.makespan_ns} != last end {makespan} ns")
    per_res: list[list[int]] = [[] for _ in problem.resources]
    for i, t in enumerate(tasks):
        if t.resource >= 0 and t.duration_ns > 0:
            per_res[t.resource].append(i)
    ii = schedule.initiation_interval_ns
    if mode == "latency":
        if ii != makespan:
            out.append(f"latency mode: initiation_interval_ns {ii} != makespan {makespan} ns")
        for r, ids in enumerate(per_res):
            ids.sort(key=lambda i: st[i])
            for a, b in zip(ids, ids[1:]):
                if st[b] < end[a]:
                    out.append(f"resource {problem.resources[r]}: {tasks[a].name} "
                               f"[{st[a]}, {end[a]}) overlaps {tasks[b].name} starting at {st[b]}")
        return out
    if ii < 1:
        return out + [f"initiation_interval_ns {ii} must be >= 1"]
    for r, ids in enumerate(per_res):
        for i in ids:
            if tasks[i].duration_ns > ii:
                out.append(f"task {tasks[i].name}: duration {tasks[i].duration_ns} ns > II {ii} ns")
        ph = sorted((st[i] % ii, i) for i in ids)
        for k, (pa, a) in enumerate(ph):
            pb, b = ph[(k + 1) % len(ph)]
            gap_end = pb + (ii if k + 1 == len(ph) else 0)
            if len(ph) > 1 and gap_end < pa + tasks[a].duration_ns:
                out.append(f"resource {problem.resources[r]} modulo {ii} ns: {tasks[a].name} "
                           f"(phase {pa}) overlaps {tasks[b].name} (phase {pb})")
    return out


PRIORITY_RULES: tuple[str, ...] = ("bottom-level", "index", "earliest-start")


def _dispatch_list(problem: SchedulingProblem, order: list[int], rule: str) -> list[int]:
    """Giffler-Thompson list scheduling (an active schedule); starts in ns.

    Repeatedly: among ready tasks (all predecessors placed), find the smallest earliest
    completion ``C*`` (start = max(precedence/release bound, resource free time)); on that
    task's resource, among the ready tasks that could start before ``C*``, place the one of
    highest priority as early as possible.  Time only moves forward on each resource (no
    insertion into earlier idle gaps).  Tasks without a resource start as soon as they are ready.
    Priority ``rule``: ``"bottom-level"`` (longest path to a sink incl. delays, ties: smaller
    index), ``"index"`` (smaller index: the op x replica x chunk generation order) or
    ``"earliest-start"`` (smaller precedence/release bound, then bottom level, then index).
    """
    tasks, n = problem.tasks, len(problem.tasks)
    _, tail = heads_and_tails(problem, order)
    succs: list[list[tuple[int, int]]] = [[] for _ in range(n)]
    missing = [0] * n
    for p, s, d in problem.edges:
        succs[p].append((s, d))
        missing[s] += 1
    start, est = [0] * n, [t.release_ns for t in tasks]
    free = [0] * len(problem.resources)
    ready: list[list[int]] = [[] for _ in problem.resources]
    version = [0] * len(problem.resources)
    heap: list[tuple[int, int, int]] = []  # (earliest completion on r, r, version of r)

    def refresh(r: int) -> None:
        version[r] += 1
        if ready[r]:
            c = min(max(est[i], free[r]) + tasks[i].duration_ns for i in ready[r])
            heapq.heappush(heap, (c, r, version[r]))

    def release(i: int) -> None:
        stack = [i]
        while stack:
            j = stack.pop()
            t = tasks[j]
            if t.resource >= 0 and t.duration_ns > 0:
                ready[t.resource].append(j)
                refresh(t.resource)
                continue
            start[j] = est[j]
            for s, d in succs[j]:
                est[s] = max(est[s], start[j] + t.duration_ns + d)
                missing[s] -= 1
                if missing[s] == 0:
                    stack.append(s)

    for i in [k for k in range(n) if missing[k] == 0]:
        release(i)
    while heap:
        c_star, r, v = heapq.heappop(heap)
        if v != version[r]:
            continue
        cands = [i for i in ready[r] if max(est[i], free[r]) < c_star]
        if rule == "bottom-level":
            i = min(cands, key=lambda j: (-(tasks[j].duration_ns + tail[j]), j))
        elif rule == "earliest-start":
            i = min(cands, key=lambda j: (est[j], -(tasks[j].duration_ns + tail[j]), j))
        else:
            i = min(cands)
        ready[r].remove(i)
        start[i] = max(est[i], free[r])
        free[r] = start[i] + tasks[i].duration_ns
        refresh(r)
        for s, d in succs[i]:
            est[s] = max(est[s], free[r] + d)
            missing[s] -= 1
            if missing[s] == 0:
                release(s)
    return start


def make_schedule(problem: SchedulingProblem, start: list[int], ii: int | None) -> Schedule:
    """A :class:`Schedule` from starts (ns); ``ii is None`` means latency mode (II = makespan)."""
    makespan = max((s + t.duration_ns for s, t in zip(start, problem.tasks)), default=0)
    return Schedule(tuple(start), makespan, makespan if ii is None else ii)


def best_list_starts(problem: SchedulingProblem, order: list[int]) -> list[int]:
    """Starts (ns) of the shortest of the :data:`PRIORITY_RULES` list schedules (first on ties).

    Bottom-level priority alone orders the chunks of a pipelined layer by noise in their
    durations (all chunks have nearly equal bottom levels) and stalls the consumers; on the
    layered benchmark it is 1.5-2.5x longer than index order, hence the portfolio.
    """
    best: list[int] | None = None
    best_ms = 0
    for rule in PRIORITY_RULES:
        start = _dispatch_list(problem, order, rule)
        ms = max((s + t.duration_ns for s, t in zip(start, problem.tasks)), default=0)
        if best is None or ms < best_ms:
            best, best_ms = start, ms
    return best if best is not None else []


def list_schedule(problem: SchedulingProblem, mode: Mode) -> Schedule:
    """The list schedule: see :func:`best_list_starts` (latency mode).

    Throughput mode: II = max resource load (optimal), starts from
    :func:`.scheduling_modulo.modulo_starts` following the latency list schedule; its
    ``makespan_ns`` is the latency of one inference.
    """
    _check_mode(mode)
    order = validate(problem)
    start = best_list_starts(problem, order)
    if mode == "latency":
        return make_schedule(problem, start, None)
    ii, _ = lower_bound(problem, "throughput")
    rank = [0] * len(order)
    for k, i in enumerate(order):
        rank[i] = k
    return make_schedule(problem, modulo_starts(problem, start, rank, ii), ii)


def solve(problem: SchedulingProblem, mode: Mode, method: Literal["list"] = "list",
          options: SolverOptions = SolverOptions()) -> tuple[Schedule, SolveStats]:
    """Schedule ``problem`` with the list heuristic; the objective is the makespan (latency mode)
    or the II (throughput mode, latency of one inference in ``note``), both in ns.  The exact
    method is `cimopt.solver.scheduling.exact.solve_exact`."""
    _check_mode(mode)
    if method != "list":
        raise ValueError(f"unknown scheduling heuristic {method!r}; expected 'list'")
    t0 = time.perf_counter()
    sched = list_schedule(problem, mode)
    bound, kind = lower_bound(problem, mode)
    obj = sched.makespan_ns if mode == "latency" else sched.initiation_interval_ns
    status = Status.OPTIMAL if obj <= bound else Status.FEASIBLE
    note = "" if mode == "latency" else f"latency of one inference {sched.makespan_ns} ns"
    return sched, SolveStats("scheduling", f"list-{mode}", status, float(obj), float(bound),
                             time.perf_counter() - t0, kind, False, note)


__all__ = ["Task", "SchedulingProblem", "Schedule", "Mode", "validate", "check", "lower_bound",
           "heads_and_tails", "resource_loads", "list_schedule", "best_list_starts",
           "make_schedule", "solve"]
