"""Memory allocation: where every intermediate buffer sits, in which space and at which offset.

Buffer lifetimes come from the schedule: buffer i is live on ``[start_ns, end_ns)`` in its memory
space.  Two buffers of one space whose intervals overlap must not overlap in address.  Sizes are
rounded up to ``alignment`` bytes and offsets are multiples of it.

Methods (`plan`):

* ``"greedy"`` — greedy-by-size (TFLite's arena planner, Pisarchyk & Lee 2020): largest buffer first,
  each at the lowest offset free of the time-overlapping buffers already placed.
* ``"exact"`` — CP-SAT NoOverlap2D per space (`cimopt.solver.memory.exact`), hinted with greedy,
  never worse than greedy.

Lower bound per space: *max-live*, the largest sum of aligned sizes live at one instant.
Slots: the interval graph of lifetimes is coloured by a start-ordered sweep that reuses the smallest
freed colour; for interval graphs this uses exactly max-clique colours, which is optimal.

Spilling is part of the instance, not of a method (`assign_spaces`): when a space is full,
buffers move to ``spill_to[space]`` (core local -> global -> dram) by one fixed rule, before any
method runs.  First, while the live bytes at some instant exceed the capacity, the buffer live at
the worst instant with the largest size x lifetime (bytes x ns) moves: it relieves the most pressure
over time per spill.  Then, while greedy-by-size cannot pack the rest below the capacity
(fragmentation), the buffers it cannot place even in a gap below the capacity move.  Every method
then places the same buffers in the same spaces, so the bound (sum over spaces of max-live) is a
lower bound of the instance whatever method runs.  (A bound valid over *every* spill choice would be
the max-live of all buffers in one space: moving every buffer to DRAM is feasible and never raises
the sum of peaks, so spill choices are not something to optimise this objective over.)
With no next level, `CapacityError` names the space, the need, the shortfall and the buffer.
"""
from __future__ import annotations

import heapq
import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Literal

from cimopt.ir.errors import CapacityError
from cimopt.ir.units import nbytes as format_bytes
from cimopt.solver.memory import exact as memory_exact
from cimopt.solver.memory.problem import (  # the problem model, re-exported: memory.Buffer, ...
    STAGE,
    Buffer,
    FrozenMap,
    MemoryPlan,
    MemoryProblem,
    units,
)
from cimopt.solver.stats import SolverOptions, SolveStats, Status

Method = Literal["greedy", "exact"]


def max_live(buffers: Sequence[Buffer], alignment: int) -> int:
    """Max-live lower bound, bytes: the largest sum of aligned sizes live at one instant."""
    return alignment * memory_exact.max_live_units(
        [units(b.size_bytes, alignment) for b in buffers],
        [b.start_ns for b in buffers], [b.end_ns for b in buffers])


def colour_slots(buffers: Sequence[Buffer]) -> tuple[int, ...]:
    """Slot (colour) per buffer: time-overlapping buffers get distinct slots.

    Sweep by start; a buffer takes the smallest colour freed by a buffer that ended at or before its
    start.  On an interval graph this uses max-clique colours (the most buffers live at once), which
    is the optimum.
    """
    order = sorted(range(len(buffers)), key=lambda i: (buffers[i].start_ns, buffers[i].end_ns, i))
    busy: list[tuple[int, int]] = []  # (end_ns, colour) of live buffers
    free: list[int] = []  # freed colours, min-heap
    slot = [0] * len(buffers)
    count = 0
    for i in order:
        while busy and busy[0][0] <= buffers[i].start_ns:
            heapq.heappush(free, heapq.heappop(busy)[1])
        if free:
            slot[i] = heapq.heappop(free)
        else:
            slot[i] = count
            count += 1
        if buffers[i].end_ns > buffers[i].start_ns:
            heapq.heappush(busy, (buffers[i].end_ns, slot[i]))
        else:
            heapq.heappush(free, slot[i])
    return tuple(slot)


def _arrays(buffers: Sequence[Buffer], alignment: int) -> tuple[list[int], list[int], list[int]]:
    return ([units(b.size_bytes, alignment) for b in buffers],
            [b.start_ns for b in buffers], [b.end_ns for b in buffers])


def _size_order(sizes: Sequence[int], starts: Sequence[int], ends: Sequence[int]) -> list[int]:
    """Largest first; ties: longer lifetime, earlier start, index (deterministic)."""
    return sorted(range(len(sizes)), key=lambda i: (-sizes[i], starts[i] - ends[i], starts[i], i))


def greedy_by_size(buffers: Sequence[Buffer], alignment: int) -> tuple[int, ...]:
    """Offsets (bytes) by greedy-by-size: largest first, lowest offset free of placed overlaps."""
    sizes, starts, ends = _arrays(buffers, alignment)
    placed = memory_exact.first_fit(sizes, starts, ends, _size_order(sizes, starts, ends))
    return tuple(alignment * int(placed[i] or 0) for i in range(len(buffers)))


def peak_bytes(buffers: Sequence[Buffer], offsets: Sequence[int], alignment: int) -> int:
    """Highest end address (bytes) over buffers: max(offset + aligned size), 0 when none."""
    return max((o + alignment * units(b.size_bytes, alignment)
                for b, o in zip(buffers, offsets) if b.size_bytes > 0), default=0)


def _fmt(size_bytes: int) -> str:
    return format_bytes(size_bytes, 4)


def check(problem: MemoryProblem, plan: MemoryPlan) -> list[str]:
    """Every violation of ``plan``: live buffers overlapping in address, capacity excess, bad fields."""
    bufs, align = problem.buffers, problem.alignment
    errors: list[str] = []
    if not (len(plan.space_of) == len(plan.offset) == len(plan.slot) == len(bufs)):
        return [f"plan has {len(plan.space_of)}/{len(plan.offset)}/{len(plan.slot)} entries "
                f"(space/offset/slot) for {len(bufs)} buffers"]
    for i, b in enumerate(bufs):
        if plan.space_of[i] not in problem.chain(b.space):
            errors.append(f"buffer {b.name}: in {plan.space_of[i]}, not on the spill chain "
                          f"{' -> '.join(problem.chain(b.space))}")
        if plan.offset[i] < 0 or plan.offset[i] % align:
            errors.append(f"buffer {b.name}: offset {plan.offset[i]} B is not a non-negative "
                          f"multiple of {align} B")
    for space, cap in problem.capacity.items():
        members = [i for i in range(len(bufs)) if plan.space_of[i] == space
                   and bufs[i].size_bytes > 0 and bufs[i].end_ns > bufs[i].start_ns]
        members.sort(key=lambda i: (bufs[i].start_ns, i))
        top = peak_bytes([bufs[i] for i in members], [plan.offset[i] for i in members], align)
        if top > int(cap):
            errors.append(f"{space}: peak {_fmt(top)} exceeds capacity {_fmt(int(cap))}")
        if int(plan.peak.get(space, 0)) != top:
            errors.append(f"{space}: plan says peak {plan.peak.get(space, 0)} B, buffers reach {top} B")
        for k, i in enumerate(members):
            lo_i = plan.offset[i]
            hi_i = lo_i + align * units(bufs[i].size_bytes, align)
            for j in members[k + 1:]:
                if bufs[j].start_ns >= bufs[i].end_ns:
                    break
                lo_j = plan.offset[j]
                hi_j = lo_j + align * units(bufs[j].size_bytes, align)
                if lo_i < hi_j and lo_j < hi_i:
                    errors.append(f"{space}: buffers {bufs[i].name} [{lo_i}, {hi_i}) B and "
                                  f"{bufs[j].name} [{lo_j}, {hi_j}) B overlap while both live at "
                                  f"t={max(bufs[i].start_ns, bufs[j].start_ns)} ns")
        for k, i in enumerate(members):
            for j in members[k + 1:]:
                if bufs[j].start_ns >= bufs[i].end_ns:
                    break
                if plan.slot[i] == plan.slot[j]:
                    errors.append(f"{space}: buffers {bufs[i].name} and {bufs[j].name} share slot "
                                  f"{plan.slot[i]} while both live")
    return errors


def _worst_instant(sizes: Sequence[int], starts: Sequence[int], ends: Sequence[int],
                   members: Sequence[int]) -> tuple[int, int]:
    """(most units live at one instant, the earliest instant with that many) over ``members``."""
    events = sorted([(starts[i], sizes[i]) for i in members if sizes[i] and ends[i] > starts[i]]
                    + [(ends[i], -sizes[i]) for i in members if sizes[i] and ends[i] > starts[i]])
    live = best = 0
    when = 0
    for t, delta in events:
        live += delta
        if live > best:
            best, when = live, t
    return best, when


def _shortfall(space: str, need_bytes: int, t_ns: int, cap: int, name: str) -> CapacityError:
    return CapacityError(f"{space}: needs {_fmt(need_bytes)} at t={t_ns} ns, has {_fmt(cap)} "
                         f"(short by {_fmt(need_bytes - cap)}); buffer {name}")


def _greedy_fit(sizes: Sequence[int], starts: Sequence[int], ends: Sequence[int], members: Sequence[int],
                cap_u: int) -> tuple[dict[int, int], list[int], int]:
    """Greedy-by-size offsets (units) of ``members`` below ``cap_u`` units.

    Largest first at the lowest free offset; buffers whose top ends above the capacity are taken
    out and put back (largest first) into a gap below it where one fits.  Returns (offsets of the
    placed buffers, the buffers that found no gap, the plain greedy-by-size peak in units).
    """
    order = sorted(members, key=lambda i: (-sizes[i], starts[i] - ends[i], starts[i], i))
    first = memory_exact.first_fit(sizes, starts, ends, order)
    placed = {i: int(first[i] or 0) for i in members}
    peak = max((placed[i] + sizes[i] for i in members if sizes[i]), default=0)
    over = [i for i in members if sizes[i] and placed[i] + sizes[i] > cap_u]
    if not over:
        return placed, [], peak
    keep = {i: placed[i] for i in members if i not in set(over)}
    refill = memory_exact.first_fit(sizes, starts, ends, sorted(over, key=lambda i: (-sizes[i], i)), keep, cap_u)
    unplaced = [i for i in over if refill[i] is None]
    return {**keep, **{i: int(refill[i] or 0) for i in over if refill[i] is not None}}, unplaced, peak


def assign_spaces(problem: MemoryProblem) -> tuple[MemoryProblem, tuple[tuple[str, str, int], ...]]:
    """The spill rule (module docstring): ``problem`` with every buffer in the space it is planned
    in, and the moves made, as (from space, to space, buffers).

    Method-independent and idempotent: the result is its own assignment, so the instance a stage
    exports already holds it.  Raises `CapacityError` when a full space has nowhere to spill.
    """
    bufs, align = problem.buffers, problem.alignment
    sizes, starts, ends = _arrays(bufs, align)
    where = [b.space for b in bufs]
    moves: list[tuple[str, str, int]] = []
    for space in sorted(problem.capacity, key=lambda s: (-len(problem.chain(s)), s)):
        cap = int(problem.capacity[space])
        cap_u = cap // align
        nxt = problem.spill_to.get(space)
        members = [i for i in range(len(bufs)) if where[i] == space]
        moved = 0
        while True:  # live bytes above capacity at some instant
            need, when = _worst_instant(sizes, starts, ends, members)
            if need <= cap_u:
                break
            live = [i for i in members if starts[i] <= when < ends[i] and sizes[i]]
            victim = max(live, key=lambda i: (sizes[i] * (ends[i] - starts[i]), -i))
            if nxt is None:
                raise _shortfall(space, need * align, when, cap, bufs[victim].name)
            where[victim] = str(nxt)
            members.remove(victim)
            moved += 1
        while True:  # fragmentation: what greedy-by-size cannot pack below the capacity
            _, unplaced, peak = _greedy_fit(sizes, starts, ends, members, cap_u)
            if not unplaced:
                break
            if nxt is None:
                raise _shortfall(space, peak * align, starts[unplaced[0]], cap, bufs[unplaced[0]].name)
            for i in unplaced:
                where[i] = str(nxt)
                members.remove(i)
                moved += 1
        if moved:
            moves.append((space, str(nxt), moved))
    assigned = tuple(b if b.space == w else Buffer(b.name, b.size_bytes, b.start_ns, b.end_ns, w)
                     for b, w in zip(bufs, where))
    return MemoryProblem(assigned, problem.capacity, problem.spill_to, align), tuple(moves)


def _allocate(sizes: list[int], starts: list[int], ends: list[int], members: list[int],
              method: Method, options: SolverOptions, space: str, cap: int,
              align: int) -> tuple[dict[int, int], SolveStats]:
    """Offsets (units) of ``members`` of one space of ``cap`` bytes by ``method``, with that
    space's stats (objective: peak, bound: max-live of ``members``, bytes)."""
    t0 = time.perf_counter()
    placed, unplaced, _ = _greedy_fit(sizes, starts, ends, members, cap // align)
    if unplaced:  # `assign_spaces` moved such buffers: only a caller that skipped it gets here
        raise CapacityError(f"{space}: greedy-by-size cannot pack {len(unplaced)} buffer(s) below its capacity "
                            f"{_fmt(cap)}; take the spaces from `assign_spaces`")
    sub = [sizes[i] for i in members], [starts[i] for i in members], [ends[i] for i in members]
    greedy = [placed[i] for i in members]
    bound = memory_exact.max_live_units(*sub)
    if method == "greedy":
        peak = max((greedy[k] + sub[0][k] for k in range(len(members)) if sub[0][k]), default=0)
        stats = SolveStats(STAGE, "greedy-by-size", Status.OPTIMAL if peak <= bound
                           else Status.FEASIBLE, float(peak * align), float(bound * align),
                           time.perf_counter() - t0, "max-live", False, space)
        return dict(zip(members, greedy)), stats
    res = memory_exact.solve_offsets(*sub, greedy, options)
    note = f"{space}: {res.cpsat_calls} CP-SAT calls" + (f"; {res.note}" if res.note else "")
    stats = SolveStats(STAGE, "cp-sat-nooverlap2d", res.status, float(res.peak * align),
                       float(res.bound * align), time.perf_counter() - t0, "max-live", True, note)
    return dict(zip(members, res.offsets)), stats


def plan_spaces(problem: MemoryProblem, method: Method = "greedy",
                options: SolverOptions = SolverOptions()) -> tuple[MemoryPlan, dict[str, SolveStats]]:
    """Plan every space; stats per space (peak and bound in bytes).

    The spaces are those of `assign_spaces` (the spill rule, the same for every method), so a
    space's bound, the max-live of its buffers, holds whatever method runs.  Raises
    `CapacityError` when a space overflows and has nowhere to spill.
    """
    if method not in ("greedy", "exact"):
        raise ValueError(f"memory method must be 'greedy' or 'exact', got {method!r}")
    assigned, moves = assign_spaces(problem)
    bufs, align = assigned.buffers, assigned.alignment
    sizes, starts, ends = _arrays(bufs, align)
    where = [b.space for b in bufs]
    moved = {src: f"{n} buffers spilled to {dst}" for src, dst, n in moves}
    offset = [0] * len(bufs)
    stats: dict[str, SolveStats] = {}
    for space in sorted(problem.capacity, key=lambda s: (-len(problem.chain(s)), s)):
        members = [i for i in range(len(bufs)) if where[i] == space]
        placed, st = _allocate(sizes, starts, ends, members, method, options, space,
                               int(problem.capacity[space]), align)
        for i in members:
            offset[i] = placed[i] * align
        note = f"{st.note}; {moved[space]}" if space in moved else st.note
        stats[space] = replace(st, note=note or space)
    slot = [0] * len(bufs)
    for space in problem.capacity:
        members = [i for i in range(len(bufs)) if where[i] == space]
        for i, c in zip(members, colour_slots([bufs[i] for i in members])):
            slot[i] = c
    peak = {s: int(stats[s].objective) for s in problem.capacity}
    return MemoryPlan(tuple(where), tuple(offset), tuple(slot), peak), stats


def aggregate(stats: Mapping[str, SolveStats]) -> SolveStats:
    """One SolveStats for all spaces: objective = total peak, bound = total max-live (bytes)."""
    items = list(stats.values())
    status = Status.OPTIMAL if all(s.status is Status.OPTIMAL for s in items) else Status.FEASIBLE
    return SolveStats(STAGE, items[0].method if items else "greedy-by-size", status,
                      sum(s.objective for s in items), sum(s.bound for s in items),
                      sum(s.wall_s for s in items), "max-live", any(s.exact for s in items),
                      _grouped_notes(stats))


def _grouped_notes(stats: Mapping[str, SolveStats]) -> str:
    """The spaces' notes, spaces with the same note named together ("core0.local, core1.local
    and 34 more: 0 CP-SAT calls; hint reaches the max-live bound"); a note that is only the
    space's name says nothing and is left out."""
    by_text: dict[str, list[str]] = {}
    for space, st in stats.items():
        text = st.note.removeprefix(f"{space}: ").removeprefix(space).strip("; ")
        if text:
            by_text.setdefault(text, []).append(space)
    parts = []
    for text, spaces in by_text.items():
        names = ", ".join(spaces[:3]) + (f" and {len(spaces) - 3} more" if len(spaces) > 3 else "")
        parts.append(f"{names}: {text}")
    return "; ".join(parts)


def plan(problem: MemoryProblem, method: Method = "greedy",
         options: SolverOptions = SolverOptions()) -> tuple[MemoryPlan, SolveStats]:
    """Plan all spaces; the stats aggregate them (per space: `plan_spaces`)."""
    result, per_space = plan_spaces(problem, method, options)
    return result, aggregate(per_space)
