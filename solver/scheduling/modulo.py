"""Modulo-schedule construction for throughput mode (a new inference every II ns).

Given II >= every resource load (ns), :func:`modulo_starts` returns start times (ns) of one
inference such that, on every resource, the intervals ``[start mod II, start mod II + duration)``
are disjoint on the circle of length II, precedence (with delays) and releases hold.

Construction, tasks taken in the order of a reference (latency) schedule, which is topological:

1. Greedy: each task starts at the earliest time >= its precedence/release bound whose phase
   interval is free on its resource's circle.
2. If some resource's circle is too fragmented to take a task (possible when its load is close
   to II), that resource is switched to *packed* phases and the construction restarts: its tasks
   are laid back-to-back on the circle in reference order, starting at the reference phase of
   its first task; they then cover at most its load <= II without overlap whatever the
   iteration offsets, and each task takes the smallest start ``phase + k * II`` (integer ``k``)
   not before its bound.  Since ``k`` is unbounded, a resource never fails once packed, so at
   most one restart per resource is needed and II = max load is always achievable for a DAG
   whose tasks hold one resource each.
3. A task holding several resources (``Task.also``: a transfer and its links) needs a phase free
   on all of them; a resource such a task holds is never packed.  When one finds none, every
   task on those resources gets its phase first, the most constrained first (resources held x
   duration), and the construction runs again with them fixed; when that fails too, None: the
   caller retries a longer II.
"""
from __future__ import annotations

import bisect

from cimopt.solver.scheduling.problem import SchedulingProblem


def _free_start(segs: list[tuple[int, int]], est: int, dur: int, ii: int) -> int | None:
    """Earliest start >= ``est`` (ns) whose phase interval of ``dur`` ns avoids ``segs``.

    ``segs``: sorted disjoint occupied phase segments ``[a, b)`` within ``[0, ii]``.  Returns
    None when no start within one revolution fits.
    """
    t, p = est, est % ii
    for _ in range(2 * len(segs) + 2):
        if t - est >= ii:
            return None
        parts = [(p, min(p + dur, ii))] + ([(0, p + dur - ii)] if p + dur > ii else [])
        jump = None
        for k, (a, b) in enumerate(parts):
            idx = bisect.bisect_left(segs, (b,)) - 1
            if idx >= 0 and segs[idx][1] > a:
                jump = segs[idx][1] - p if k == 0 else ii - p + segs[idx][1]
                break
        if jump is None:
            return t
        t += jump
        p = (p + jump) % ii
    return None


def modulo_starts(problem: SchedulingProblem, ref_start: list[int], topo_rank: list[int],
                  ii: int) -> list[int] | None:
    """Starts (ns) of a valid modulo schedule with initiation interval ``ii`` ns (module doc);
    None when the tasks holding several resources (transfers and their links) find no phases
    free on all of them (the caller tries a longer II)."""
    tasks = problem.tasks
    seq = sorted(range(len(tasks)), key=lambda i: (ref_start[i], topo_rank[i]))
    preds: list[list[tuple[int, int]]] = [[] for _ in tasks]
    for p, s, d in problem.edges:
        preds[s].append((p, d))
    shared = {r for t in tasks if t.also for r in t.held}   # resources a multi-resource task holds
    out = _place(problem, seq, preds, ref_start, ii, shared, {})
    if out is not None or not shared:
        return out
    fixed = _shared_phases(problem, seq, ref_start, ii, shared)
    return None if fixed is None else _place(problem, seq, preds, ref_start, ii, shared, fixed)


def _shared_phases(problem: SchedulingProblem, seq: list[int], ref_start: list[int], ii: int,
                   shared: set[int]) -> dict[int, int] | None:
    """Phases (ns) for every task on a resource a multi-resource task holds, the most constrained
    first (resources held x duration, largest first; ties in ``seq`` order), each the first phase
    from its reference start's that is free on all it holds; None when one finds none."""
    tasks = problem.tasks
    rank = {i: k for k, i in enumerate(seq)}
    items = sorted((i for i in seq if shared & set(tasks[i].held)),
                   key=lambda i: (-len(tasks[i].held) * tasks[i].duration_ns, rank[i]))
    segs: list[list[tuple[int, int]]] = [[] for _ in problem.resources]
    out: dict[int, int] = {}
    for i in items:
        t = tasks[i]
        found = _common_free_start(segs, t.held, ref_start[i], t.duration_ns, ii)
        if found is None:
            return None
        out[i] = p = found % ii
        for r in t.held:
            bisect.insort(segs[r], (p, min(p + t.duration_ns, ii)))
            if p + t.duration_ns > ii:
                bisect.insort(segs[r], (0, p + t.duration_ns - ii))
    return out


def _place(problem: SchedulingProblem, seq: list[int], preds: list[list[tuple[int, int]]], ref_start: list[int],
           ii: int, shared: set[int], fixed: dict[int, int]) -> list[int] | None:
    """The construction of the module doc in ``seq`` order; ``fixed``: phases (ns) given to tasks
    beforehand (each then starts at the first time of its phase not before its bound)."""
    tasks = problem.tasks
    packed: set[int] = set()
    while True:
        phase: dict[int, int] = dict(fixed)  # packed resources' and fixed tasks: task -> phase (ns)
        for r in packed:
            ids = [i for i in seq if tasks[i].resource == r and tasks[i].duration_ns > 0]
            cursor = ref_start[ids[0]] if ids else 0
            for i in ids:
                phase[i] = cursor % ii
                cursor += tasks[i].duration_ns
        segs: list[list[tuple[int, int]]] = [[] for _ in problem.resources]
        start = [0] * len(tasks)
        failed = -1
        for i in seq:
            t = tasks[i]
            est = max([t.release_ns] + [start[p] + tasks[p].duration_ns + d for p, d in preds[i]])
            if not t.held:
                start[i] = est
            elif i in phase:
                start[i] = est + (phase[i] - est) % ii
            else:
                found = _common_free_start(segs, t.held, est, t.duration_ns, ii)
                if found is None:
                    failed = t.resource
                    break
                start[i] = found
                p = found % ii
                for r in t.held:
                    bisect.insort(segs[r], (p, min(p + t.duration_ns, ii)))
                    if p + t.duration_ns > ii:
                        bisect.insort(segs[r], (0, p + t.duration_ns - ii))
        if failed < 0:
            return start
        if failed in shared:
            return None   # packing cannot hold a task to the phases of two resources
        packed.add(failed)


def _common_free_start(segs: list[list[tuple[int, int]]], held: tuple[int, ...], est: int, dur: int,
                       ii: int) -> int | None:
    """Earliest start >= ``est`` (ns) whose phase interval is free on every resource of ``held``;
    None when none within one revolution."""
    t = est
    while t - est < ii:
        moved = False
        for r in held:
            f = _free_start(segs[r], t, dur, ii)
            if f is None:
                return None
            if f != t:
                t, moved = f, True
                break
        if not moved:
            return t
    return None
