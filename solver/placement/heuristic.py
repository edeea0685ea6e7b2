"""Placement heuristics for a `PlacementProblem` (`cimopt.solver.placement.problem`: groups of
crossbars to cores, minimising byte-hops per inference).

Heuristics (each ``f(problem) -> Placement``): ``inorder`` (PUMA-like first fit over cores
0, 1, 2, …), ``snake`` (MNSIM-like first fit over the cores in boustrophedon order), ``greedy``
(communication-greedy), ``pack`` (best-fit decreasing along the snake order), and
``local_search`` (move / swap improvement of a start).  Exact methods
(CP-SAT, Hungarian re-assignment, LNS) live in `cimopt.solver.placement.exact`; ``solve`` runs
the heuristics and local search.

Every method reports a valid lower bound: `cimopt.solver.placement.bounds.lower_bound`.
"""
from __future__ import annotations

import heapq
import time
from collections.abc import Callable

import numpy as np

from cimopt.ir.errors import CapacityError
from cimopt.solver.budget import Budget, LOCAL_SEARCH_VISIT_S
from cimopt.solver.placement.bounds import lower_bound
from cimopt.solver.placement.problem import check, cost, Placement, PlacementProblem, require_fit
from cimopt.solver.stats import SolverOptions, SolveStats, Status

STAGE = "placement"
HEURISTICS = ("inorder", "snake", "greedy", "pack")
METHODS = ("inorder", "snake", "greedy", "pack", "inorder+ls", "snake+ls", "greedy+ls", "pack+ls")
_EPS = 1e-9


def _first_fit(problem: PlacementProblem, core_order: list[int], method: str) -> Placement:
    """Each group in index order to the first core of ``core_order`` with room."""
    require_fit(problem)
    free = [problem.crossbars_per_core] * problem.n_cores
    core_of: list[int] = []
    for g, s in enumerate(problem.groups):
        core = next((c for c in core_order if free[c] >= s), None)
        if core is None:
            raise CapacityError(f"{method}: {problem.label(g)} needs {s} crossbars but the largest "
                                f"free space left in a core is {max(free)}; the packing is too "
                                "fragmented, try method 'exact'")
        free[core] -= s
        core_of.append(core)
    return Placement(tuple(core_of))


def inorder(problem: PlacementProblem) -> Placement:
    """PUMA-like: groups in index order, first fit over cores 0, 1, 2, … (row-major)."""
    return _first_fit(problem, list(range(problem.n_cores)), "inorder")


def snake_order(problem: PlacementProblem) -> list[int]:
    """Cores in boustrophedon order: row 0 left→right, row 1 right→left, …"""
    order: list[int] = []
    for r in range(problem.mesh_rows):
        cols = range(problem.mesh_cols) if r % 2 == 0 else range(problem.mesh_cols - 1, -1, -1)
        order.extend(r * problem.mesh_cols + c for c in cols)
    return order


def snake(problem: PlacementProblem) -> Placement:
    """MNSIM-like: first fit over cores in snake order, so consecutive groups stay adjacent."""
    return _first_fit(problem, snake_order(problem), "snake")


def pack(problem: PlacementProblem) -> Placement:
    """Bin packing first: groups by decreasing size (ties: index), each to the core with the least
    room that still fits it (best fit; ties: snake order, so neighbours stay close).  Packs where
    the first-fit orders fragment the cores."""
    require_fit(problem)
    rank = {c: k for k, c in enumerate(snake_order(problem))}
    free = [problem.crossbars_per_core] * problem.n_cores
    core_of = [-1] * problem.n_groups
    for g in sorted(range(problem.n_groups), key=lambda h: (-problem.groups[h], h)):
        s = problem.groups[g]
        fits = [c for c in range(problem.n_cores) if free[c] >= s]
        if not fits:
            raise CapacityError(f"pack: {problem.label(g)} needs {s} crossbars but the largest free space "
                                f"left in a core is {max(free)}; best-fit decreasing cannot pack these groups")
        core = min(fits, key=lambda c: (free[c], rank[c]))
        free[core] -= s
        core_of[g] = core
    return Placement(tuple(core_of))


def greedy(problem: PlacementProblem) -> Placement:
    """Communication-greedy placement.

    Next group: the unplaced one with the most bytes to already placed groups (ties: most total
    bytes, then lowest index).  It goes to the core with room that minimises the added
    bytes × hops to placed groups (ties: lowest core index).
    """
    require_fit(problem)
    n, hop, adj = problem.n_groups, problem.hop_matrix(), problem.neighbours()
    free = np.full(problem.n_cores, problem.crossbars_per_core, dtype=np.int64)
    total = [sum(w for _, w in nb) for nb in adj]
    to_placed = [0.0] * n
    core_of = [-1] * n
    # the next group: most bytes to placed groups, then most bytes, then lowest index (a heap of
    # (-to_placed, -total, index), stale entries skipped)
    heap = [(-0.0, -total[h], h) for h in range(n)]
    heapq.heapify(heap)
    for _ in range(n):
        while True:
            key, _, g = heapq.heappop(heap)
            if core_of[g] < 0 and -key == to_placed[g]:
                break
        added = np.zeros(problem.n_cores)
        for h, w in adj[g]:
            if core_of[h] >= 0:
                added += w * hop[:, core_of[h]]
        added[free < problem.groups[g]] = np.inf
        core = int(np.argmin(added))
        if not np.isfinite(added[core]):
            raise CapacityError(f"greedy: {problem.label(g)} needs {problem.groups[g]} crossbars "
                                "but the largest free space left in a core is "
                                f"{int(free.max())}; try method 'exact'")
        core_of[g] = core
        free[core] -= problem.groups[g]
        for h, w in adj[g]:
            to_placed[h] += w
            if core_of[h] < 0:
                heapq.heappush(heap, (-to_placed[h], -total[h], h))
    return Placement(tuple(core_of))


#: most group visits of one local search: a deterministic cap on its work (about a pass of a
#: thousand groups in about a second on the idle 2-core machine)
MAX_VISITS = 1500


def local_search(problem: PlacementProblem, start: Placement, options: SolverOptions,
                 budget: Budget | None = None) -> Placement:
    """Improve ``start`` by single-group moves and pairwise swaps until no move gains or the
    work cap is reached: `MAX_VISITS` group visits (so the result does not depend on the machine's
    speed when the time limit is long enough for them), and the time limit.

    Groups are visited in an order shuffled with ``options.seed``; for each, the best move to a
    core with room is applied if it gains, else the best swap with a group on another core whose
    sizes still fit.  In deterministic mode the work is counted, not timed: each group visited
    costs `LOCAL_SEARCH_VISIT_S` deterministic s out of ``options.time_limit_s``, so the result
    depends only on the instance, the seed and the limit; otherwise it stops on the wall clock
    (``options.time_limit_s``, cut to the options' deadline).  ``budget``: a budget the work is
    charged to as well (the caller's, so its other steps see what is left).
    """
    check(problem, start)
    work = (Budget.counted(options.time_limit_s, parent=budget) if options.deterministic
            else Budget.of(options))
    rng = np.random.default_rng(options.seed)
    n, hop = problem.n_groups, problem.hop_matrix().astype(float)
    sizes = np.array(problem.groups, dtype=np.int64)
    core = np.array(start.core_of, dtype=np.int64)
    free = np.full(problem.n_cores, problem.crossbars_per_core, dtype=np.int64)
    np.subtract.at(free, core, sizes)
    weight = np.zeros((n, n))                  # bytes between two groups
    for a, b, w in problem.traffic:
        weight[a, b] = weight[b, a] = w
    at = _byte_hops(weight, hop[core])         # at[g, c]: g's byte-hops if it sat on core c

    def relocate(g: int, target: int) -> None:
        old = int(core[g])
        free[old] += sizes[g]
        free[target] -= sizes[g]
        core[g] = target
        partners = np.flatnonzero(weight[:, g])     # only they see g's move
        at[partners] += np.outer(weight[partners, g], hop[target] - hop[old])

    improved, visits = True, 0
    while improved and not work.expired and visits < MAX_VISITS:
        improved = False
        for g in (int(v) for v in rng.permutation(n)):
            if work.expired or visits >= MAX_VISITS:
                break
            visits += 1
            work.spend(LOCAL_SEARCH_VISIT_S)
            here = int(core[g])
            tol = _EPS * max(1.0, at[g, here])
            gain_move = np.where(free >= sizes[g], at[g, here] - at[g], -np.inf)
            target = int(np.argmax(gain_move))
            if gain_move[target] > tol:
                relocate(g, target)
                improved = True
                continue
            there = core
            fits = (there != here) & (free[there] + sizes >= sizes[g]) \
                & (free[here] + sizes[g] >= sizes)
            gain_swap = (at[g, here] - at[g, there] + at[np.arange(n), there] - at[:, here]
                         - 2.0 * weight[g] * hop[here, there])
            gain_swap = np.where(fits, gain_swap, -np.inf)
            h = int(np.argmax(gain_swap)) if n else -1
            if h >= 0 and gain_swap[h] > tol:
                other = int(core[h])
                relocate(g, other)
                relocate(h, here)
                improved = True
    return Placement(tuple(int(c) for c in core))


#: rows of one matrix product in `_byte_hops`
_ROWS_PER_PRODUCT = 16


def _byte_hops(weight: np.ndarray, hop_to: np.ndarray) -> np.ndarray:
    """``weight @ hop_to`` in blocks of `_ROWS_PER_PRODUCT` rows.  One product of the whole
    matrices is split between threads by BLAS when large, and its rounding (so the ties between
    local-search moves) then depends on the thread count: one in a Dask worker, every core in a
    process pool.  Blocks of 16 rows gave the same local search with 1 and 2 BLAS threads on the
    sweep's instances and keep the golden programs; a product with many more groups × cores can
    still be split."""
    out = np.zeros((weight.shape[0], hop_to.shape[1]))
    rows = np.flatnonzero(weight.any(axis=1))  # groups with traffic (the rest stay 0)
    for lo in range(0, len(rows), _ROWS_PER_PRODUCT):
        block = rows[lo:lo + _ROWS_PER_PRODUCT]
        cols = np.flatnonzero(weight[block].any(axis=0))  # their partners only: the rest add 0
        out[block] = weight[np.ix_(block, cols)] @ hop_to[cols]
    return out


def best_heuristic(problem: PlacementProblem, budget: Budget | None = None) -> tuple[Placement, str]:
    """The cheapest of the heuristics that finds a placement, and its name; once ``budget`` is
    spent no further heuristic is tried after the first placement found.

    Raises ``CapacityError`` (from the last heuristic) when none of them can pack the groups.
    """
    best: tuple[float, Placement, str] | None = None
    errors: list[CapacityError] = []
    for name in HEURISTICS:
        if best is not None and budget is not None and budget.expired:
            break
        try:
            p = _HEURISTIC[name](problem)
        except CapacityError as exc:
            errors.append(exc)
            continue
        c = cost(problem, p)
        if best is None or c < best[0] - _EPS:
            best = (c, p, name)
    if best is None:
        raise errors[-1]
    return best[1], best[2]


_HEURISTIC = {"inorder": inorder, "snake": snake, "greedy": greedy, "pack": pack}


def heuristic(name: str) -> Callable[[PlacementProblem], Placement]:
    """The heuristic called ``name`` (one of ``HEURISTICS``)."""
    if name not in _HEURISTIC:
        raise ValueError(f"unknown placement heuristic {name!r}; "
                         f"choose one of {', '.join(HEURISTICS)}")
    return _HEURISTIC[name]


def solve(problem: PlacementProblem, method: str,
          options: SolverOptions) -> tuple[Placement, SolveStats]:
    """Place with ``method`` (one of ``METHODS``); return the placement and its stats.

    ``objective`` is in byte-hops per inference; ``bound`` is a valid lower bound on the optimum.
    Heuristics report FEASIBLE (OPTIMAL if they reach the bound); "+ls" adds local search with
    ``options.time_limit_s``.  The exact methods ("exact", "cpsat", "hungarian", "lns") are
    `cimopt.solver.placement.exact.solve_exact`.
    """
    if method not in METHODS:
        raise ValueError(f"unknown placement heuristic {method!r}; choose one of {', '.join(METHODS)}")
    require_fit(problem)
    t0 = time.perf_counter()
    base = method.removesuffix("+ls")
    placement = _HEURISTIC[base](problem)
    if method.endswith("+ls"):
        placement = local_search(problem, placement, options)
    check(problem, placement)
    return placement, heuristic_stats(problem, placement, method, time.perf_counter() - t0,
                                      Budget.of(options))


def heuristic_stats(problem: PlacementProblem, placement: Placement, method: str,
                    wall_s: float, budget: Budget | None = None) -> SolveStats:
    """Stats for a placement found without a proof: objective, the cheap lower bound (its ball
    LP cut by ``budget``), status."""
    obj = cost(problem, placement)
    bound, kind = lower_bound(problem, budget)  # valid for the instance: never clamped to this method's value
    status = Status.OPTIMAL if obj - bound <= _EPS * max(1.0, obj) else Status.FEASIBLE
    return SolveStats(STAGE, method, status, obj, bound, wall_s, bound_kind=kind,
                      exact=False)
