"""List scheduling of a `SchedulingProblem` (`cimopt.solver.scheduling.problem`): Giffler-Thompson
dispatch with three priority rules, the shortest kept (latency mode), and the modulo placement
of `cimopt.solver.scheduling.modulo` at II = the largest resource load (throughput mode).
"""
from __future__ import annotations

import heapq
import math
import time
from typing import Literal

from cimopt.solver.scheduling.bounds import heads_and_tails, lower_bound
from cimopt.solver.scheduling.modulo import modulo_starts
from cimopt.solver.scheduling.problem import check_mode, make_schedule, Mode, Schedule, SchedulingProblem, validate
from cimopt.solver.stats import SolverOptions, SolveStats, Status

PRIORITY_RULES: tuple[str, ...] = ("bottom-level", "index", "earliest-start")
#: throughput mode: the factor II grows by when multi-resource tasks find no common free phase
II_STEP = 1.03
#: throughput mode: the longest one inference may get (x the latency list schedule's makespan, + II)
#: before a longer II is tried (inferences in flight, and their buffers, grow with it), unless
#: at most `MAX_IN_FLIGHT` inferences are then in flight
MAX_LATENCY_GROWTH = 2.0
MAX_IN_FLIGHT = 128


def _dispatch_list(problem: SchedulingProblem, order: list[int], rule: str) -> list[int]:
    """Giffler-Thompson list scheduling (an active schedule); starts in ns.

    Repeatedly: among ready tasks (all predecessors placed), find the smallest earliest
    completion ``C*`` (start = max(precedence/release bound, resource free time)); on that
    task's resource, among the ready tasks that could start before ``C*``, place the one of
    highest priority as early as possible (every resource it holds free: a transfer's links).  Time only moves forward on each resource (no
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

    def ready_at(i: int) -> int:
        """When task i can start: its precedence bound and every resource it holds free."""
        return max([est[i]] + [free[x] for x in tasks[i].held])

    def refresh(r: int) -> None:
        version[r] += 1
        if ready[r]:
            c = min(ready_at(i) + tasks[i].duration_ns for i in ready[r])
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
        cands = [i for i in ready[r] if ready_at(i) < c_star]
        if not cands:   # a resource another task holds too got busier since r's entry was made
            refresh(r)
            continue
        if rule == "bottom-level":
            i = min(cands, key=lambda j: (-(tasks[j].duration_ns + tail[j]), j))
        elif rule == "earliest-start":
            i = min(cands, key=lambda j: (est[j], -(tasks[j].duration_ns + tail[j]), j))
        else:
            i = min(cands)
        ready[r].remove(i)
        start[i] = ready_at(i)
        for x in tasks[i].held:
            free[x] = start[i] + tasks[i].duration_ns
        for x in tasks[i].held:
            refresh(x)
        for s, d in succs[i]:
            est[s] = max(est[s], start[i] + tasks[i].duration_ns + d)
            missing[s] -= 1
            if missing[s] == 0:
                release(s)
    return start


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
    `cimopt.solver.scheduling.modulo.modulo_starts` following the latency list schedule; its
    ``makespan_ns`` is the latency of one inference.  When tasks holding several resources (NoC
    transfers and their links) find no common free phase, or only at phases that make one
    inference (of a problem with such tasks) longer than `MAX_LATENCY_GROWTH` x the latency schedule's makespan + II
    and than `MAX_IN_FLIGHT` intervals, II grows by
    `II_STEP` until they do, at most to the latency schedule's makespan, which always repeats
    without overlap.
    """
    check_mode(mode)
    order = validate(problem)
    start = best_list_starts(problem, order)
    if mode == "latency":
        return make_schedule(problem, start, None)
    ii, _ = lower_bound(problem, "throughput")
    rank = [0] * len(order)
    for k, i in enumerate(order):
        rank[i] = k
    latency = make_schedule(problem, start, None)
    capped = any(t.also for t in problem.tasks)   # packing single-resource tasks keeps II = max load
    while ii < latency.makespan_ns:
        starts = modulo_starts(problem, start, rank, ii)
        if starts is not None:
            sched = make_schedule(problem, starts, ii)
            # transfers at fixed phases may each wait up to II: refuse an inference that long
            if not capped or sched.makespan_ns <= MAX_LATENCY_GROWTH * latency.makespan_ns + ii \
                    or sched.makespan_ns <= MAX_IN_FLIGHT * ii:
                return sched
        ii = min(latency.makespan_ns, math.ceil(ii * II_STEP))
    # one inference after the other: the latency schedule repeats without meeting itself
    return make_schedule(problem, list(start), max(1, latency.makespan_ns))


def solve(problem: SchedulingProblem, mode: Mode, method: Literal["list"] = "list",
          options: SolverOptions = SolverOptions()) -> tuple[Schedule, SolveStats]:
    """Schedule ``problem`` with the list heuristic; the objective is the makespan (latency mode)
    or the II (throughput mode, latency of one inference in ``note``), both in ns.  The exact
    method is `cimopt.solver.scheduling.exact.solve_exact`."""
    check_mode(mode)
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
