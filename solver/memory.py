"""Memory allocation: where every intermediate buffer sits, in which space and at which offset.

Buffer lifetimes come from the schedule: buffer i is live on ``[start_ns, end_ns)`` in its memory
space.  Two buffers of one space whose intervals overlap must not overlap in address.  Sizes are
rounded up to ``alignment`` bytes and offsets are multiples of it.

Methods (`plan`):

* ``"greedy"`` — greedy-by-size (TFLite's arena planner, Pisarchyk & Lee 2020): largest buffer first,
  each at the lowest offset free of the time-overlapping buffers already placed.
* ``"exact"`` — CP-SAT NoOverlap2D per space (`cimopt.solver.memory_exact`), hinted with greedy,
  never worse than greedy.

Lower bound per space: *max-live*, the largest sum of aligned sizes live at one instant.
Slots: the interval graph of lifetimes is coloured by a start-ordered sweep that reuses the smallest
freed colour; for interval graphs this uses exactly max-clique colours, which is optimal.

Spilling: when a space's peak exceeds its capacity, buffers move to ``spill_to[space]`` (core local ->
global -> dram).  First, while the live bytes at some instant exceed the capacity, the buffer live at
the worst instant with the largest size x lifetime (bytes x ns) moves: it relieves the most pressure
over time per spill.  Then, if the placement still overflows (fragmentation), buffers whose top is
above the capacity move, and each is put back (largest first) if a gap below the capacity fits it.
With no next level, `CapacityError` names the space, the need, the shortfall and the buffer.
"""
from __future__ import annotations

import heapq
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from cimopt.ir.units import nbytes as format_bytes
from cimopt.ir.errors import CapacityError
from cimopt.solver import memory_exact
from cimopt.solver.stats import SolverOptions, SolveStats, Status

Method = Literal["greedy", "exact"]
STAGE = "memory"


class FrozenMap(Mapping[str, object]):
    """An immutable, hashable str-keyed mapping (so problems and plans stay frozen and hashable)."""

    __slots__ = ("_data",)

    def __init__(self, items: Mapping[str, object] | Iterable[tuple[str, object]] = ()) -> None:
        pairs = items.items() if isinstance(items, Mapping) else items
        self._data: dict[str, object] = dict(sorted(pairs, key=lambda kv: kv[0]))

    def __getitem__(self, key: str) -> object:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __hash__(self) -> int:
        return hash(tuple(self._data.items()))

    def __repr__(self) -> str:
        return f"FrozenMap({self._data!r})"


@dataclass(frozen=True)
class Buffer:
    """One intermediate buffer: ``size_bytes`` live on ``[start_ns, end_ns)`` in memory ``space``."""

    name: str
    size_bytes: int
    start_ns: int
    end_ns: int
    space: str

    def __post_init__(self) -> None:
        if self.size_bytes < 0 or self.end_ns < self.start_ns:
            raise ValueError(f"buffer {self.name}: needs size_bytes >= 0 and start_ns <= end_ns, "
                             f"got {self.size_bytes} B on [{self.start_ns}, {self.end_ns}) ns")


@dataclass(frozen=True)
class MemoryProblem:
    """Buffers, capacity (bytes) per space, the spill chain and the alignment (bytes)."""

    buffers: tuple[Buffer, ...]
    capacity: Mapping[str, int]
    spill_to: Mapping[str, str | None]
    alignment: int = 64

    def __post_init__(self) -> None:
        object.__setattr__(self, "buffers", tuple(self.buffers))
        object.__setattr__(self, "capacity", FrozenMap(self.capacity))
        object.__setattr__(self, "spill_to", FrozenMap(self.spill_to))
        if self.alignment <= 0:
            raise ValueError(f"alignment must be a positive byte count, got {self.alignment}")
        for b in self.buffers:
            if b.space not in self.capacity:
                raise ValueError(f"buffer {b.name}: space {b.space!r} has no capacity")
        for space in self.capacity:
            seen = [space]
            nxt = self.spill_to.get(space)
            while nxt is not None:
                if nxt not in self.capacity or nxt in seen:
                    raise ValueError(f"spill chain {' -> '.join(seen + [nxt])} is not a path of "
                                     "spaces with a capacity")
                seen.append(nxt)
                nxt = self.spill_to.get(nxt)

    def chain(self, space: str) -> list[str]:
        """``space`` and the spaces it spills to, in order."""
        out = [space]
        while (nxt := self.spill_to.get(out[-1])) is not None:
            out.append(str(nxt))
        return out


@dataclass(frozen=True)
class MemoryPlan:
    """Final space, offset (bytes, aligned) and slot (colour) per buffer; peak bytes per space."""

    space_of: tuple[str, ...]
    offset: tuple[int, ...]
    slot: tuple[int, ...]
    peak: Mapping[str, int]

    def __post_init__(self) -> None:
        object.__setattr__(self, "peak", FrozenMap(self.peak))

    @property
    def total_peak(self) -> int:
        """Sum of the per-space peaks, bytes."""
        return sum(int(v) for v in self.peak.values())


def units(size_bytes: int, alignment: int) -> int:
    """Size in alignment units, rounded up."""
    return -(-size_bytes // alignment)


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


def _allocate(sizes: list[int], starts: list[int], ends: list[int], members: list[int],
              method: Method, options: SolverOptions, space: str,
              align: int) -> tuple[dict[int, int], SolveStats]:
    """Offsets (units) of ``members`` of one space by ``method``, with that space's stats."""
    t0 = time.perf_counter()
    sub = [sizes[i] for i in members], [starts[i] for i in members], [ends[i] for i in members]
    hint = memory_exact.first_fit(*sub, _size_order(*sub))
    greedy = [int(hint[k] or 0) for k in range(len(members))]
    bound = memory_exact.max_live_units(*sub)
    if method == "greedy":
        peak = max((greedy[k] + sub[0][k] for k in range(len(members))), default=0)
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
    """Plan every space (spilling where a space is full); stats per space (peak and bound in bytes).

    A space's bound is the max-live of the buffers that end up in it, so it holds for the spill
    decisions taken.  Raises `CapacityError` when a space overflows and has nowhere to spill.
    """
    if method not in ("greedy", "exact"):
        raise ValueError(f"memory method must be 'greedy' or 'exact', got {method!r}")
    bufs, align = problem.buffers, problem.alignment
    sizes, starts, ends = _arrays(bufs, align)
    where = [b.space for b in bufs]
    offset = [0] * len(bufs)
    stats: dict[str, SolveStats] = {}
    for space in sorted(problem.capacity, key=lambda s: (-len(problem.chain(s)), s)):
        cap = int(problem.capacity[space])
        cap_u = cap // align
        nxt = problem.spill_to.get(space)
        members = [i for i in range(len(bufs)) if where[i] == space]
        spilled = 0
        while True:  # phase A: live bytes above capacity at some instant
            need, when = _worst_instant(sizes, starts, ends, members)
            if need <= cap_u:
                break
            live = [i for i in members if starts[i] <= when < ends[i] and sizes[i]]
            victim = max(live, key=lambda i: (sizes[i] * (ends[i] - starts[i]), -i))
            if nxt is None:
                raise _shortfall(space, need * align, when, cap, bufs[victim].name)
            where[victim] = str(nxt)
            members.remove(victim)
            spilled += 1
        placed, st = _allocate(sizes, starts, ends, members, method, options, space, align)
        over = [i for i in members if sizes[i] and placed[i] + sizes[i] > cap_u]
        if over:  # phase B: fragmentation; keep what fits below capacity, refill the rest
            keep = {i: placed[i] for i in members if i not in set(over)}
            refill = memory_exact.first_fit(sizes, starts, ends,
                                            sorted(over, key=lambda i: (-sizes[i], i)), keep, cap_u)
            for i in over:
                if refill[i] is not None:
                    placed[i] = int(refill[i] or 0)
                    continue
                if nxt is None:
                    need = max(placed[j] + sizes[j] for j in members) * align
                    raise _shortfall(space, need, starts[i], cap, bufs[i].name)
                where[i] = str(nxt)
                spilled += 1
            members = [i for i in members if where[i] == space]
            peak = max((placed[i] + sizes[i] for i in members if sizes[i]), default=0)
            bound = memory_exact.max_live_units(*_arrays([bufs[i] for i in members], align))
            st = SolveStats(STAGE, st.method, Status.OPTIMAL if peak <= bound else Status.FEASIBLE,
                            float(peak * align), float(bound * align), st.wall_s, st.bound_kind,
                            st.exact, st.note)
        for i in members:
            offset[i] = placed[i] * align
        note = f"{st.note or space}; {spilled} buffers spilled to {nxt}" if spilled else st.note
        stats[space] = SolveStats(st.stage, st.method, st.status, st.objective, st.bound,
                                  st.wall_s, st.bound_kind, st.exact, note or space)
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
                      "; ".join(s.note for s in items if s.note))


def plan(problem: MemoryProblem, method: Method = "greedy",
         options: SolverOptions = SolverOptions()) -> tuple[MemoryPlan, SolveStats]:
    """Plan all spaces; the stats aggregate them (per space: `plan_spaces`)."""
    result, per_space = plan_spaces(problem, method, options)
    return result, aggregate(per_space)
