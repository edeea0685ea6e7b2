"""List scheduling of a `SchedulingProblem` (`cimopt.solver.scheduling.problem`): Giffler-Thompson
dispatch with three priority rules, the shortest kept (latency mode), and the modulo placement
of `cimopt.solver.scheduling.modulo` at II = the largest resource load (throughput mode).
"""
from __future__ import annotations

import heapq
import time
from typing import Literal

from cimopt.solver.scheduling.bounds import heads_and_tails, lower_bound
from cimopt.solver.scheduling.modulo import modulo_starts
from cimopt.solver.scheduling.problem import check_mode, make_schedule, Mode, Schedule, SchedulingProblem, validate
from cimopt.solver.stats import SolverOptions, SolveStats, Status

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
    ``makespan_ns`` is the latency of one inference.
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
    return make_schedule(problem, modulo_starts(problem, start, rank, ii), ii)


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
