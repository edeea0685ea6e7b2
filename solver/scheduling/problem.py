"""Task scheduling on unary resources: the problem and schedule types, `validate` and the checker
`check`; the stage's instance (the problem in a mode) and solution (`ScheduleResult`), each with
the compile's task graph it was made from.

Tasks are op x replica x chunk of output rows; an edge ``(pred, succ, delay_ns)`` requires
``start[succ] >= start[pred] + duration[pred] + delay_ns``.  Every task occupies at most one
unary resource (crossbar group, vector unit, host, port), and may hold further resources at the
same time (``also``: a NoC transfer's links); ``resource == -1`` is a pure delay.

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
from dataclasses import dataclass, field
from typing import Literal

from cimopt.solver.scheduling.tasks import TaskGraph

Mode = Literal["latency", "throughput"]
MODES: tuple[str, ...] = ("latency", "throughput")


@dataclass(frozen=True)
class Task:
    """One task: ``duration_ns`` (integer ns) on ``resource`` (-1: none), from ``release_ns`` on,
    holding the resources of ``also`` too for its whole duration (a transfer's links)."""

    name: str
    duration_ns: int
    resource: int
    release_ns: int = 0
    also: tuple[int, ...] = ()

    @property
    def held(self) -> tuple[int, ...]:
        """Every resource the task holds (none for a pure delay or a task of no duration)."""
        if self.resource < 0 or self.duration_ns <= 0:
            return ()
        return (self.resource,) + self.also


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


def check_mode(mode: str) -> None:
    """A `ValueError` unless ``mode`` is one of `MODES`."""
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
        if t.also and (t.resource < 0 or len(set(t.held)) != len(t.held)
                       or not all(0 <= r < len(problem.resources) for r in t.also)):
            raise ValueError(f"task {i} ({t.name}): also {t.also}: distinct resources in range, "
                             f"other than its own, and only for a task with a resource")
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


def check(problem: SchedulingProblem, schedule: Schedule, mode: Mode) -> list[str]:
    """All violations of ``schedule`` (precedence, release, overlap, modulo overlap, metrics)."""
    check_mode(mode)
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
        for r in t.held:
            per_res[r].append(i)
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


def make_schedule(problem: SchedulingProblem, start: list[int], ii: int | None) -> Schedule:
    """A :class:`Schedule` from starts (ns); ``ii is None`` means latency mode (II = makespan)."""
    makespan = max((s + t.duration_ns for s, t in zip(start, problem.tasks)), default=0)
    return Schedule(tuple(start), makespan, makespan if ii is None else ii)


@dataclass(frozen=True)
class SchedulingInstance:
    """Tasks, precedence and resources, and the mode: makespan (latency) or interval (throughput);
    ``task_graph``: the compile's tasks the problem was made from (None for an instance read from
    a file; not part of the instance's data)."""

    problem: SchedulingProblem
    mode: str
    #: metadata data=False: `cimopt.solver.harness.instances` neither writes, reads nor hashes it
    task_graph: TaskGraph | None = field(default=None, compare=False, repr=False, metadata={"data": False})


@dataclass(frozen=True)
class ScheduleResult:
    """A schedule of a `SchedulingInstance` and the instance's task graph (what the stage records)."""

    schedule: Schedule
    task_graph: TaskGraph | None = None
