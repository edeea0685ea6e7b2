"""Exact buffer offsets with CP-SAT (NoOverlap2D), decomposed so ~1000 buffers solve in seconds.

Everything here works on plain integers: sizes and offsets in *alignment units* (one unit =
``MemoryProblem.alignment`` bytes), live intervals ``[start, end)`` in ns.  `cimopt.solver.memory.heuristic`
converts bytes to units and back, so this module imports nothing of ours but the stats types, the
time budget (`cimopt.solver.budget.Budget`) and the CP-SAT runner
(`cimopt.solver.cpsat.solve_model`), which solves every model here.

Rules of `solve_offsets` (one memory space):

1. The max-live bound (largest sum of sizes live at one instant) is a lower bound on the peak.
   When the hint (greedy) already reaches it, the hint is returned as OPTIMAL with no CP-SAT call.
   Otherwise the hint is replaced by the best of it and first-fit in three other orders
   (`best_hint`), which costs milliseconds.
2. The timeline splits into *segments* at instants where nothing is live; segments are independent
   and the peak is the maximum over segments, so only segments whose hint peak is above the bound
   are solved; the others keep the hint.
3. A segment of at most ``FULL_MODEL_MAX`` buffers is solved whole: y = offset (variable), x = live
   interval (fixed), NoOverlap2D plus one 1-D NoOverlap per maximal clique (redundant, stronger
   propagation), minimising the peak, hinted with the greedy offsets.  Its best bound is valid.
   When CP-SAT finds nothing better in time the segment keeps the hint and ``note`` says so.
4. A larger segment is improved by large-neighbourhood search: repeatedly pick the buffers whose
   top is highest (the peak-critical region) and the time window they span, free every buffer live
   near that buffer's lifetime (nearest in time first, ``LNS_FREE_MAX`` of them), fix the rest as
   obstacles, and minimise lexicographically the freed buffers' highest top, then the units they
   reach above the bound.  A move is kept only when it lowers that pair, so the result is never
   worse than the hint.  The bound reported for such a segment is the max-live bound (LNS proves
   nothing), so the gap it reports is an upper estimate of the true gap.

Preconditions: ``len(sizes) == len(starts) == len(ends) == len(hint)``, sizes >= 0, start <= end, and
the hint is a valid placement (no two time-overlapping buffers overlap in address).
"""
from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from ortools.sat.python import cp_model

from cimopt.solver.budget import Budget, ROUND_ITEM_S
from cimopt.solver.cpsat import solve_model
from cimopt.solver.stats import SolverOptions, Status

#: Largest segment (in buffers) given to CP-SAT whole; bigger ones go through the LNS of rule 4.
FULL_MODEL_MAX = 120
#: Buffers freed per LNS move (the neighbourhood size).
LNS_FREE_MAX = 60
#: CP-SAT time limit of one LNS move, in seconds (deterministic s in deterministic mode).
LNS_MOVE_S = 1.0


@dataclass(frozen=True)
class ExactResult:
    """Offsets for one space.  ``offsets``, ``peak`` and ``bound`` in alignment units."""

    offsets: tuple[int, ...]
    peak: int
    bound: int
    status: Status
    wall_s: float
    cpsat_calls: int
    note: str


def _live(sizes: Sequence[int], starts: Sequence[int], ends: Sequence[int], i: int) -> bool:
    """True when buffer i occupies memory at some instant (non-empty interval, non-zero size)."""
    return sizes[i] > 0 and ends[i] > starts[i]


def max_live_units(sizes: Sequence[int], starts: Sequence[int], ends: Sequence[int],
                   members: Sequence[int] | None = None) -> int:
    """Largest total size (units) live at one instant; intervals are half-open, so ends come first."""
    idx = range(len(sizes)) if members is None else members
    events: list[tuple[int, int]] = []
    for i in idx:
        if _live(sizes, starts, ends, i):
            events.append((starts[i], sizes[i]))
            events.append((ends[i], -sizes[i]))
    events.sort(key=lambda e: (e[0], e[1]))  # at equal time the negative (end) events come first
    live = best = 0
    for _, delta in events:
        live += delta
        best = max(best, live)
    return best


def segments(sizes: Sequence[int], starts: Sequence[int], ends: Sequence[int]) -> list[list[int]]:
    """Buffers grouped into time segments separated by instants where nothing is live, by start."""
    order = sorted((i for i in range(len(sizes)) if _live(sizes, starts, ends, i)),
                   key=lambda i: (starts[i], ends[i], i))
    groups: list[list[int]] = []
    horizon = None
    for i in order:
        if horizon is None or starts[i] >= horizon:
            groups.append([])
            horizon = ends[i]
        groups[-1].append(i)
        horizon = max(horizon, ends[i])
    return groups


def first_fit(sizes: Sequence[int], starts: Sequence[int], ends: Sequence[int],
              order: Sequence[int], fixed: dict[int, int] | None = None,
              limit: int | None = None) -> dict[int, int | None]:
    """Place ``order`` one by one at the lowest offset (units) free of time-overlapping placed buffers.

    ``fixed`` maps already placed buffers to their offsets (obstacles).  With ``limit`` a buffer whose
    top would exceed ``limit`` is left unplaced (``None``).  Returns offsets of the buffers in ``order``.
    """
    placed: dict[int, int] = dict(fixed or {})
    result: dict[int, int | None] = {}
    # the placed buffers with a size, as arrays (numpy: the overlap test is O(placed) per buffer)
    cap = len(placed) + len(order)
    p_start, p_end = np.zeros(cap, dtype=np.int64), np.zeros(cap, dtype=np.int64)
    p_lo, p_hi = np.zeros(cap, dtype=np.int64), np.zeros(cap, dtype=np.int64)
    n = 0

    def add(j: int, offset: int) -> None:
        nonlocal n
        if sizes[j] > 0:
            p_start[n], p_end[n], p_lo[n], p_hi[n] = starts[j], ends[j], offset, offset + sizes[j]
            n += 1

    for j, offset in placed.items():
        add(j, offset)
    for i in order:
        if not _live(sizes, starts, ends, i):
            result[i] = 0
            continue
        hit = (p_start[:n] < ends[i]) & (starts[i] < p_end[:n])
        lo_hit, hi_hit = p_lo[:n][hit], p_hi[:n][hit]
        rank = np.lexsort((hi_hit, lo_hit))  # by offset, then top: as sorted (lo, hi) pairs
        lo_s, top = lo_hit[rank], np.maximum.accumulate(hi_hit[rank]) if len(rank) else hi_hit
        # scanning upwards, the offset before busy interval k is the highest top below it (or 0);
        # the buffer goes into the first gap it fits, else above every busy interval
        before = np.concatenate(([0], np.maximum(top[:-1], 0))) if len(rank) else top
        gap = np.flatnonzero(lo_s >= before + sizes[i])
        offset = int(before[gap[0]]) if len(gap) else max(0, int(top[-1]) if len(rank) else 0)
        if limit is not None and offset + sizes[i] > limit:
            result[i] = None
            continue
        placed[i] = offset
        add(i, offset)
        result[i] = offset
    return result


def _peak(sizes: Sequence[int], offsets: Sequence[int], members: Sequence[int]) -> int:
    return max((offsets[i] + sizes[i] for i in members if sizes[i] > 0), default=0)


def _excess(sizes: Sequence[int], offsets: Sequence[int] | dict[int, int], members: Sequence[int],
            line: int) -> int:
    """Total units that ``members`` reach above ``line``."""
    return sum(max(0, offsets[i] + sizes[i] - line) for i in members)


def best_hint(sizes: Sequence[int], starts: Sequence[int], ends: Sequence[int],
              hint: Sequence[int]) -> list[int]:
    """The lowest-peak placement among ``hint`` and first-fit in a few other orders (units).

    Orders: size x lifetime, lifetime, start (left edge), each largest/earliest first; ties by index.
    """
    n = len(sizes)
    best = [hint[i] if _live(sizes, starts, ends, i) else 0 for i in range(n)]
    keys = (lambda i: (-sizes[i] * (ends[i] - starts[i]), i),
            lambda i: (starts[i] - ends[i], -sizes[i], i),
            lambda i: (starts[i], -sizes[i], i))
    for key in keys:
        placed = first_fit(sizes, starts, ends, sorted(range(n), key=key))
        candidate = [int(placed[i] or 0) for i in range(n)]
        if _peak(sizes, candidate, range(n)) < _peak(sizes, best, range(n)):
            best = candidate
    return best


def _cliques(starts: Sequence[int], ends: Sequence[int], members: Sequence[int]) -> list[list[int]]:
    """Maximal sets of members live at one instant (one per start that follows an end)."""
    points = sorted({starts[i] for i in members})
    cliques: list[list[int]] = []
    previous: set[int] = set()
    for t in points:
        live = {i for i in members if starts[i] <= t < ends[i]}
        if live and not live <= previous:
            cliques.append(sorted(live))
        previous = live
    # drop cliques contained in the next one (a start sweep can grow a clique after a subset)
    return [c for k, c in enumerate(cliques)
            if not (k + 1 < len(cliques) and set(c) <= set(cliques[k + 1]))]


def _solve_model(sizes: Sequence[int], starts: Sequence[int], ends: Sequence[int],
                 free: Sequence[int], fixed: dict[int, int], hint: dict[int, int],
                 lower: int, upper: int, time_limit_s: float, options: SolverOptions,
                 budget: Budget, excess_above: int | None = None,
                 ) -> tuple[dict[int, int] | None, int, int, bool, str]:
    """Minimise the highest top of ``free`` buffers among ``fixed`` obstacles; tops <= ``upper``.

    With ``excess_above`` the objective is lexicographic: highest top, then the total units that
    free buffers reach above ``excess_above`` (so an LNS move progresses even when the top stays).
    ``hint`` (offsets of the free buffers) must be a valid placement with tops <= ``upper``.
    Returns (offsets of free buffers when CP-SAT beat the hint, else None; their highest top;
    a bound on it (CP-SAT's without ``excess_above``, else ``lower``); whether the objective is
    proven optimal; the note that the hint was kept, or that the solve stopped on its
    deterministic limit, or "").  ``time_limit_s`` is in the
    budget's unit; ``budget`` is charged with the solve's deterministic time.
    """
    model = cp_model.CpModel()
    y: dict[int, cp_model.IntVar] = {}  # y[i]: offset of buffer i, units
    y_iv: dict[int, cp_model.IntervalVar] = {}  # y_iv[i]: address interval [y, y + size) of buffer i
    x_iv: dict[int, cp_model.IntervalVar] = {}  # x_iv[i]: fixed live interval [start, end) of buffer i
    for i in free:
        y[i] = model.new_int_var(0, upper - sizes[i], f"y_{i}")
        y_iv[i] = model.new_fixed_size_interval_var(y[i], sizes[i], f"yiv_{i}")
        x_iv[i] = model.new_fixed_size_interval_var(starts[i], ends[i] - starts[i], f"xiv_{i}")
        model.add_hint(y[i], hint[i])
    window_lo = min(starts[i] for i in free)
    window_hi = max(ends[i] for i in free)
    obstacles = [j for j in fixed if starts[j] < window_hi and window_lo < ends[j]]
    for j in obstacles:
        y_iv[j] = model.new_fixed_size_interval_var(fixed[j], sizes[j], f"yiv_{j}")
        x_iv[j] = model.new_fixed_size_interval_var(starts[j], ends[j] - starts[j], f"xiv_{j}")
    boxes = list(free) + obstacles
    model.add_no_overlap_2d([x_iv[i] for i in boxes], [y_iv[i] for i in boxes])
    for clique in _cliques(starts, ends, boxes):
        if any(i in y for i in clique) and len(clique) > 1:
            model.add_no_overlap([y_iv[i] for i in clique])
    top = model.new_int_var(lower, upper, "top")  # top: highest end address of a free buffer, units
    for i in free:
        model.add(y[i] + sizes[i] <= top)
    weight = 1 + sum(sizes[i] for i in free)  # one unit of top outweighs any total excess
    hint_top = max([lower] + [hint[i] + sizes[i] for i in free])
    if excess_above is None:
        model.minimize(top)
        hint_objective = hint_top
    else:
        excess = {i: model.new_int_var(0, upper, f"excess_{i}") for i in free}  # units above line
        for i in free:
            model.add(excess[i] >= y[i] + sizes[i] - excess_above)
            model.add_hint(excess[i], max(0, hint[i] + sizes[i] - excess_above))
        model.minimize(weight * top + sum(excess.values()))
        hint_objective = weight * hint_top + _excess(sizes, hint, free, excess_above)
    model.add_hint(top, hint_top)
    res = solve_model(model, options, name="memory-offsets", time_limit_s=max(0.05, time_limit_s),
                      hint_objective=hint_objective,
                      instance=lambda: {"stage": "memory", "sizes_units": list(sizes),
                                        "starts_ns": list(starts), "ends_ns": list(ends),
                                        "free": list(free), "fixed_units": fixed,
                                        "lower": lower, "upper": upper, "excess_above": excess_above},
                      budget=budget)
    # a bound on the top: CP-SAT's when it minimised the top alone, else the top's lower limit
    bound = max(lower, int(res.bound)) if excess_above is None and math.isfinite(res.bound) else lower
    optimal = res.status is Status.OPTIMAL
    if not res.improved:
        return None, hint_top, bound, optimal, res.kept_note()
    values = {i: res.value(y[i]) for i in free}
    return values, res.value(top), bound, optimal, res.limit_note()


def _lns(sizes: Sequence[int], starts: Sequence[int], ends: Sequence[int], members: list[int],
         offsets: list[int], target: int, budget: Budget, options: SolverOptions) -> int:
    """Improve ``offsets`` of one large segment in place by window moves until ``budget`` runs
    out; returns the CP-SAT calls.  A move costs its CP-SAT deterministic time plus buffers ×
    `ROUND_ITEM_S` deterministic s."""
    calls = 0
    stale: set[int] = set()  # seeds whose last move found nothing better
    while not budget.expired:
        budget.spend(len(members) * ROUND_ITEM_S)
        peak = _peak(sizes, offsets, members)
        if peak <= target:
            break
        # seed of the neighbourhood: buffers reaching above the target, highest first
        high = sorted((i for i in members if offsets[i] + sizes[i] > target),
                      key=lambda i: (-(offsets[i] + sizes[i]), starts[i], i))
        seed = next((i for i in high if i not in stale), None)
        if seed is None:
            break
        lo, hi = starts[seed], ends[seed]

        def distance(i: int) -> tuple[int, int, int]:
            gap = max(0, starts[i] - hi, lo - ends[i])  # ns between buffer i and the seed's life
            return (gap, -(offsets[i] + sizes[i]), i)

        chosen = set(sorted(members, key=distance)[:LNS_FREE_MAX]) | {seed}
        free = sorted(chosen)
        fixed = {j: offsets[j] for j in members if j not in chosen}
        old_top = _peak(sizes, offsets, free)
        old_excess = _excess(sizes, offsets, free, target)
        fixed_top = max((offsets[j] + sizes[j] for j in fixed
                         if any(starts[j] < ends[i] and starts[i] < ends[j] for i in free)),
                        default=0)
        lower = max(0, min(target, old_top))
        move_s = min(LNS_MOVE_S, budget.left())
        values, top, _, _, _ = _solve_model(sizes, starts, ends, free, fixed,
                                            {i: offsets[i] for i in free}, lower, old_top,
                                            move_s, options, budget, target)
        calls += 1
        if values is not None and (top, _excess(sizes, values, free, target)) < (old_top, old_excess):
            for i, v in values.items():
                offsets[i] = v
            stale.clear()
        else:
            stale.add(seed)
        if values is not None and top <= max(target, fixed_top):
            stale.add(seed)
    return calls


def solve_offsets(sizes: Sequence[int], starts: Sequence[int], ends: Sequence[int],
                  hint: Sequence[int], options: SolverOptions) -> ExactResult:
    """Offsets (units) minimising the peak of one memory space, never worse than ``hint``."""
    t0 = time.perf_counter()
    budget = Budget.of(options)
    n = len(sizes)
    offsets = [hint[i] if _live(sizes, starts, ends, i) else 0 for i in range(n)]
    bound = max_live_units(sizes, starts, ends)
    peak = _peak(sizes, offsets, range(n))
    if peak > bound:
        offsets = best_hint(sizes, starts, ends, offsets)
        peak = _peak(sizes, offsets, range(n))
    if peak <= bound:
        return ExactResult(tuple(offsets), peak, bound, Status.OPTIMAL,
                           time.perf_counter() - t0, 0, "hint reaches the max-live bound")
    groups = [g for g in segments(sizes, starts, ends) if _peak(sizes, offsets, g) > bound]
    groups.sort(key=len)
    calls = 0
    proven = True  # every solved segment proven optimal by a whole-segment model
    seg_bounds: list[int] = [bound]
    notes: list[str] = []
    for k, g in enumerate(groups):
        share = budget.left() / (len(groups) - k)
        if len(g) <= FULL_MODEL_MAX:
            old = _peak(sizes, offsets, g)
            values, _, seg_bound, optimal, kept = _solve_model(
                sizes, starts, ends, g, {}, {i: offsets[i] for i in g},
                max_live_units(sizes, starts, ends, g), old, share, options, budget)
            calls += 1
            for i, v in (values or {}).items():
                offsets[i] = v
            if kept and not optimal:
                notes.append(f"segment of {len(g)} buffers: {kept}")
            seg_bounds.append(seg_bound)
            proven = proven and optimal
        else:
            calls += _lns(sizes, starts, ends, g, offsets, bound, budget.share(share), options)
            proven = False
            notes.append(f"LNS on a segment of {len(g)} buffers")
    if budget.stop_note():
        notes.append(budget.stop_note())
    peak = _peak(sizes, offsets, range(n))
    bound = max(seg_bounds)
    status = Status.OPTIMAL if peak <= bound or proven else Status.FEASIBLE
    if status is Status.OPTIMAL:
        bound = peak
    return ExactResult(tuple(offsets), peak, bound, status, time.perf_counter() - t0, calls,
                       "; ".join(notes))
