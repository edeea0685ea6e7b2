"""Placement by linear assignment: integer byte weights, and the Hungarian re-assignment.

* `weight_scale`: bytes are scaled by a power of two and floored to integers for CP-SAT and the
  assignment solver, so an integer objective never exceeds the true one.
* `hungarian` (local search): with every other group fixed, a set of same-size groups with no
  traffic among them is re-assigned to the free crossbar slots by a linear assignment
  (``SimpleLinearSumAssignment``); repeated over such sets until no set improves.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from ortools.graph.python.linear_sum_assignment import SimpleLinearSumAssignment

from cimopt.solver.budget import ASSIGNMENT_ENTRY_S, ASSIGNMENT_SET_S, Budget
from cimopt.solver.cpsat import within_tolerance
from cimopt.solver.errors import SolverError
from cimopt.solver.placement.problem import check, Placement, PlacementProblem
from cimopt.solver.stats import SolverOptions

HUNGARIAN_MAX_SET = 16         # groups re-assigned together by one linear assignment
_INT_LIMIT = 2.0 ** 50         # largest integer objective we let CP-SAT / the assignment see


def weight_scale(weights: Sequence[float], max_hops: int) -> float:
    """Largest power of two s with Σ w × s × max_hops ≤ 2**50, but s = 1 when all bytes are
    integers that fit: floor(w × s) then loses at most 1 / s byte per pair."""
    total = sum(weights) * max(1, max_hops)
    if total <= 0:
        return 1.0
    k = math.floor(math.log2(_INT_LIMIT / total))
    integral = all(float(w).is_integer() for w in weights)
    return 2.0 ** min(k, 0) if integral else 2.0 ** k


def _independent_sets(problem: PlacementProblem) -> list[list[int]]:
    """Groups split into sets of equal size with no traffic inside a set (greedy colouring in
    index order), at most ``HUNGARIAN_MAX_SET`` groups each."""
    adj = [set(h for h, _ in nb) for nb in problem.neighbours()]
    sets: list[list[int]] = []
    by_size: dict[int, list[int]] = {}
    for g, s in enumerate(problem.groups):
        by_size.setdefault(s, []).append(g)
    for members in by_size.values():
        own: list[list[int]] = []
        for g in members:
            home = next((s for s in own if len(s) < HUNGARIAN_MAX_SET and not adj[g] & set(s)),
                        None)
            if home is None:
                own.append([g])
            else:
                home.append(g)
        sets.extend(own)
    return sets


def _assign(costs: np.ndarray, slots: np.ndarray) -> list[int]:
    """Min-cost assignment of each row (group) of ``costs[group, core]`` to a distinct slot, core c
    offering ``slots[c]`` slots.  Each group keeps only its n cheapest slots (n = groups; an
    optimal assignment never needs more), dummy rows of cost 0 square the matrix for
    ``SimpleLinearSumAssignment``.  Returns the core of each group."""
    n = costs.shape[0]
    slot_of: dict[tuple[int, int], int] = {}   # (core, k-th slot on it) -> slot index
    arcs: list[tuple[int, int, float]] = []
    for i in range(n):
        taken = 0
        for c in np.argsort(costs[i], kind="stable"):
            for k in range(min(int(slots[c]), n - taken)):
                j = slot_of.setdefault((int(c), k), len(slot_of))
                arcs.append((i, j, float(costs[i, c])))
            taken += min(int(slots[c]), n - taken)
            if taken == n:
                break
    n_slots = len(slot_of)
    scale = weight_scale([max(a[2] for a in arcs)] * n, 1)
    left = [a[0] for a in arcs] + [n + d for d in range(n_slots - n) for _ in range(n_slots)]
    right = [a[1] for a in arcs] + [j for _ in range(n_slots - n) for j in range(n_slots)]
    weight = [int(round(a[2] * scale)) for a in arcs] + [0] * ((n_slots - n) * n_slots)
    lsa = SimpleLinearSumAssignment()
    lsa.add_arcs_with_cost(np.array(left), np.array(right), np.array(weight, dtype=np.int64))
    code = lsa.solve()
    if code != SimpleLinearSumAssignment.OPTIMAL:  # the current cores are a feasible assignment
        raise SolverError(f"linear assignment of {n} placement groups ended with status {code} "
                          "on a feasible instance (a cimopt bug)")
    core_of_slot = {j: c for (c, _), j in slot_of.items()}
    return [core_of_slot[lsa.right_mate(i)] for i in range(n)]


def hungarian(problem: PlacementProblem, start: Placement, options: SolverOptions,
              budget: Budget | None = None) -> Placement:
    """Repeated linear re-assignment of independent same-size sets; never worse than ``start``.

    For a set S (equal sizes s, no traffic inside S) with every other group fixed, a core with
    f free crossbars offers floor(f / s) slots; placing g in a slot of core c costs its bytes ×
    hops to the fixed groups, which is exact since S has no inner traffic.  A reassignment is kept
    only if it lowers the cost.  Stops after a pass without gain or when ``budget`` (default:
    ``options.time_limit_s`` on the options' clock) runs out; each set re-assigned costs
    `ASSIGNMENT_SET_S` + set size × cores × `ASSIGNMENT_ENTRY_S` deterministic s.
    """
    check(problem, start)
    budget = budget or Budget.of(options)
    hop, adj, sizes = problem.hop_matrix(), problem.neighbours(), problem.groups
    core = np.array(start.core_of, dtype=np.int64)
    sets = _independent_sets(problem)
    improved = True
    while improved and not budget.expired:
        improved = False
        for group_set in sets:
            if budget.expired:
                break
            budget.spend(ASSIGNMENT_SET_S + len(group_set) * problem.n_cores * ASSIGNMENT_ENTRY_S)
            size = sizes[group_set[0]]
            free = np.full(problem.n_cores, problem.crossbars_per_core, dtype=np.int64)
            for g in range(problem.n_groups):
                free[core[g]] -= sizes[g]
            for g in group_set:
                free[core[g]] += size
            slots = np.minimum(free // size, len(group_set))
            costs = np.zeros((len(group_set), problem.n_cores))
            for i, g in enumerate(group_set):
                for h, w in adj[g]:
                    costs[i] += w * hop[:, core[h]]
            current = float(sum(costs[i, core[g]] for i, g in enumerate(group_set)))
            new = _assign(costs, slots)
            after = float(sum(costs[i, c] for i, c in enumerate(new)))
            if after < current and not within_tolerance(current, after):
                core[group_set] = new
                improved = True
    return Placement(tuple(int(c) for c in core))
