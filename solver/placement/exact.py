"""Exact and large-neighbourhood placement methods: CP-SAT, Hungarian re-assignment, LNS.

* ``cpsat``: the whole problem as one CP-SAT model.  ``x[g, c]`` says group g sits on core c;
  each core's crossbars are capped; per traffic pair the row and column distances of the two
  groups are ``add_abs_equality`` of linear row/column expressions, so hops = |Δrow| + |Δcol|.
  Bytes are scaled by a power of two and floored to integers, so the integer objective never
  exceeds the true one and CP-SAT's bound divided by the scale stays a valid bound in byte-hops.
  The model is hinted with the best heuristic + local search and solved by
  `cimopt.solver.cpsat.solve_model`; the hint is returned, and ``note`` says so, whenever CP-SAT
  finds nothing better.  OPTIMAL means the float cost is within the runner's tolerance
  (`cimopt.solver.cpsat.within_tolerance`) of the bound.
* ``hungarian`` (`cimopt.solver.placement.assign`): same-size groups with no traffic among them
  re-assigned by linear assignments.
* ``lns``: free the groups of a few neighbouring cores around a random core, re-solve them with
  CP-SAT, keep improvements; until the time limit or many rounds in a row without gain.

``solve_exact(problem, "exact", options)`` runs LNS for half the time and then CP-SAT hinted with
its placement when groups × cores ≤ ``CPSAT_MAX_VARS``, LNS alone otherwise.  Every result
carries a valid lower bound (CP-SAT's, or ``placement.lower_bound``).
"""
from __future__ import annotations

import math
import time
from collections.abc import Sequence

import numpy as np
from ortools.sat.python import cp_model

from cimopt.ir.errors import CapacityError
from cimopt.solver.budget import Budget, ROUND_ITEM_S
from cimopt.solver.cpsat import solve_model, within_tolerance
from cimopt.solver.errors import SolverError
from cimopt.solver.placement.assign import hungarian, weight_scale
from cimopt.solver.placement.bounds import lower_bound
from cimopt.solver.placement.heuristic import best_heuristic, heuristic, HEURISTICS, local_search, STAGE
from cimopt.solver.placement.problem import check, cost, Placement, PlacementProblem
from cimopt.solver.stats import SolverOptions, SolveStats, Status

CPSAT_MAX_VARS = 5000          # groups × cores up to which "exact" runs the full CP-SAT model
LNS_MAX_FREE_GROUPS = 24       # groups freed per LNS round
LNS_MAX_CORES = 6              # cores freed per LNS round
class _NoTimeToBuild(Exception):
    """The time limit ran out while building a CP-SAT model."""


def _build(problem: PlacementProblem, free: Sequence[int], cores: Sequence[int],
           core_of: Sequence[int], scale: float, hinted: bool = True, budget: Budget | None = None,
           ) -> tuple[cp_model.CpModel, dict[tuple[int, int], cp_model.IntVar]]:
    """CP-SAT model placing the ``free`` groups on ``cores``, all other groups fixed at ``core_of``.

    Objective: Σ floor(bytes × scale) × hops over pairs touching a free group (pairs between two
    fixed groups are a constant and left out).  ``hinted``: hint the free groups at ``core_of``.
    ``budget`` (wall mode): raise `_NoTimeToBuild` once it is spent during the build.
    """
    def out_of_time() -> None:
        if budget is not None and not budget.deterministic and budget.expired:
            raise _NoTimeToBuild()

    model = cp_model.CpModel()
    free_set = set(free)
    cap = problem.crossbars_per_core
    fixed_load = {c: 0 for c in cores}
    for g, c in enumerate(core_of):
        if g not in free_set and c in fixed_load:
            fixed_load[c] += problem.groups[g]
    x: dict[tuple[int, int], cp_model.IntVar] = {}
    for g in free:
        out_of_time()
        for c in cores:
            x[g, c] = model.new_bool_var(f"x_{g}_{c}")  # group g sits on core c
        model.add_exactly_one(x[g, c] for c in cores)
    for c in cores:
        model.add(sum(problem.groups[g] * x[g, c] for g in free) <= cap - fixed_load[c])
    row = {g: sum(problem.coords(c)[0] * x[g, c] for c in cores) for g in free}
    col = {g: sum(problem.coords(c)[1] * x[g, c] for c in cores) for g in free}
    terms: list[cp_model.LinearExprT] = []
    linear: dict[tuple[int, int], int] = {}   # (free group, core) -> scaled bytes × hops to fixed
    for k, (a, b, w) in enumerate(problem.traffic):
        if k % 64 == 0:
            out_of_time()
        wi = int(math.floor(w * scale))
        if wi == 0 or (a not in free_set and b not in free_set):
            continue
        if a in free_set and b in free_set:
            dr = model.new_int_var(0, problem.mesh_rows - 1, f"dr_{a}_{b}")  # |row a − row b|
            dc = model.new_int_var(0, problem.mesh_cols - 1, f"dc_{a}_{b}")  # |col a − col b|
            model.add_abs_equality(dr, row[a] - row[b])
            model.add_abs_equality(dc, col[a] - col[b])
            terms.append(wi * (dr + dc))
            if not hinted:
                continue
            (ra, ca), (rb, cb) = problem.coords(core_of[a]), problem.coords(core_of[b])
            model.add_hint(dr, abs(ra - rb))
            model.add_hint(dc, abs(ca - cb))
            continue
        g, h = (a, b) if a in free_set else (b, a)
        for c in cores:
            linear[g, c] = linear.get((g, c), 0) + wi * problem.hops(c, core_of[h])
    terms.extend(v * x[key] for key, v in linear.items() if v)
    model.minimize(sum(terms))
    for g in free if hinted else ():
        for c in cores:
            model.add_hint(x[g, c], core_of[g] == c)
    return model, x


def instance(problem: PlacementProblem, scale: float) -> dict[str, object]:
    """The plain-data description of a placement instance written next to an exported model."""
    return {
        "stage": STAGE, "group_crossbars": list(problem.groups),
        "crossbars_per_core": problem.crossbars_per_core,
        "mesh_rows": problem.mesh_rows, "mesh_cols": problem.mesh_cols,
        "traffic_bytes": [[a, b, w] for a, b, w in problem.traffic], "bytes_scale": scale,
    }


def _model_cost(problem: PlacementProblem, core_of: Sequence[int], scale: float,
                free: set[int] | None = None) -> int:
    """`_build`'s objective at ``core_of``: Σ floor(bytes × scale) × hops over the pairs that
    touch a ``free`` group (every pair when ``free`` is None)."""
    return sum(int(math.floor(w * scale)) * problem.hops(core_of[a], core_of[b])
               for a, b, w in problem.traffic if free is None or a in free or b in free)


def cpsat(problem: PlacementProblem, hint: Placement | None, options: SolverOptions,
          budget: Budget | None = None) -> tuple[Placement, float, str]:
    """Solve the full model; return (placement, bound in byte-hops, note).

    The placement is CP-SAT's if it is cheaper than ``hint``, else ``hint`` (``note`` then says
    so).  The bound is -inf when CP-SAT found nothing.  Raises ``CapacityError`` when CP-SAT
    proves the groups cannot be packed, or finds no packing in time and no hint was given.
    ``budget`` is charged with the solve's deterministic time.
    """
    all_groups = list(range(problem.n_groups))
    cores = list(range(problem.n_cores))
    start = hint.core_of if hint is not None else tuple(0 for _ in all_groups)
    scale = weight_scale([w for _, _, w in problem.traffic],
                         problem.mesh_rows + problem.mesh_cols - 2)
    t0 = time.perf_counter()
    try:
        # with a hint to fall back on, the build may take half the wall time left (CP-SAT needs the rest)
        half = options.wall_left(math.inf) / 2 if hint is not None else None
        model, x = _build(problem, all_groups, cores, start, scale, hinted=hint is not None,
                          budget=Budget.of(options, half))
    except _NoTimeToBuild:
        model = None
    built_s = time.perf_counter() - t0
    # wall mode: CP-SAT loads and presolves a model in about the time it took to build, so a
    # model built in more than half the time left would overrun the limit
    if hint is not None and (model is None or (not options.deterministic
                                               and options.wall_left(math.inf) < 2 * built_s)):
        return hint, -math.inf, (f"the CP-SAT model ({problem.n_groups} groups x {problem.n_cores} cores) "
                                 f"{'could not be built' if model is None else 'took %.3g s to build' % built_s} "
                                 "within the time limit: not solved, hint kept")
    if model is None:
        raise CapacityError(f"core crossbars: no time left to build the CP-SAT placement model of "
                            f"{problem.n_groups} groups and no heuristic packs them; raise the time limit")
    res = solve_model(model, options, name="placement",
                      hint_objective=None if hint is None else _model_cost(problem, start, scale),
                      instance=instance(problem, scale), budget=budget)
    if res.status is Status.INFEASIBLE:
        raise CapacityError(f"core crossbars: the {problem.n_groups} groups "
                            f"({sum(problem.groups)} crossbars) cannot be packed into "
                            f"{problem.n_cores} cores of {problem.crossbars_per_core}; "
                            "use a larger mesh or split the largest groups")
    if res.status is Status.NO_SOLUTION_IN_TIME:
        raise CapacityError(f"core crossbars: no packing of {sum(problem.groups)} crossbars into "
                            f"{problem.n_cores} cores of {problem.crossbars_per_core} found in "
                            f"{res.time_limit_s:g} {'deterministic ' if res.deterministic else ''}"
                            "s; raise the time limit or add cores")
    best, note = hint, res.kept_note()
    if res.found:
        found = Placement(tuple(next(c for c in cores if res.boolean_value(x[g, c]))
                                for g in all_groups))
        if best is None or cost(problem, found) < cost(problem, best):
            best, note = found, ""
    if best is None:  # found is set whenever there is no hint and no error above
        raise SolverError("placement CP-SAT returned neither a solution nor a status")
    bound = max(0.0, res.bound / scale) if problem.traffic else 0.0
    return best, bound, note


def lns(problem: PlacementProblem, start: Placement, options: SolverOptions,
        budget: Budget | None = None) -> Placement:
    """Large-neighbourhood search from ``start``; never worse than it.

    Each round picks the core of a random group (``options.seed``), adds the nearest cores (random
    ties, empty cores included) while at most ``LNS_MAX_FREE_GROUPS`` groups and
    ``LNS_MAX_CORES`` cores are freed, and re-solves the freed groups on those cores with CP-SAT
    (hinted with the current placement).  Stops when ``budget`` (default: ``options.time_limit_s``
    on the options' clock) runs out, after max(20, 2 × cores) rounds in a row without gain, or
    once a round frees every core and solves that whole problem to optimality.  A round costs its
    CP-SAT deterministic time plus groups × `ROUND_ITEM_S` deterministic s.
    """
    check(problem, start)
    budget = budget or Budget.of(options)
    rng = np.random.default_rng(options.seed)
    hop = problem.hop_matrix()
    current, current_cost = start, cost(problem, start)
    scale = weight_scale([w for _, _, w in problem.traffic],
                         problem.mesh_rows + problem.mesh_cols - 2)
    sub_limit = max(0.2, budget.total / 20)
    stalls, max_stalls = 0, max(20, 2 * problem.n_cores)
    on_core: list[list[int]] = [[] for _ in range(problem.n_cores)]
    while stalls < max_stalls and problem.traffic:
        left = budget.left()
        if left <= 0.02:
            break
        budget.spend(problem.n_groups * ROUND_ITEM_S)
        for c in range(problem.n_cores):
            on_core[c].clear()
        for g, c in enumerate(current.core_of):
            on_core[c].append(g)
        seed_core = current.core_of[int(rng.integers(problem.n_groups))]
        order = np.lexsort((rng.random(problem.n_cores), hop[seed_core]))
        cores: list[int] = []
        free: list[int] = []
        for c in order:
            if len(cores) >= LNS_MAX_CORES or (
                    len(cores) >= 2 and len(free) + len(on_core[c]) > LNS_MAX_FREE_GROUPS):
                break
            cores.append(int(c))
            free.extend(on_core[c])
        if not free:
            stalls += 1
            continue
        model, x = _build(problem, sorted(free), cores, current.core_of, scale)
        res = solve_model(model, options, name="placement-lns", time_limit_s=min(sub_limit, left),
                          hint_objective=_model_cost(problem, current.core_of, scale, set(free)),
                          instance={**instance(problem, scale), "free_groups": sorted(free),
                                    "cores": cores, "core_of": list(current.core_of)},
                          budget=budget)
        stalls += 1
        if res.found:  # judged by the float cost: the model's bytes are floored
            new = list(current.core_of)
            for g in free:
                new[g] = next(c for c in cores if res.boolean_value(x[g, c]))
            candidate = Placement(tuple(new))
            c_cost = cost(problem, candidate)
            if c_cost < current_cost and not within_tolerance(current_cost, c_cost):
                current, current_cost, stalls = candidate, c_cost, 0
        if res.status is Status.OPTIMAL and len(cores) == problem.n_cores:
            break  # the whole problem was the neighbourhood and is solved
    return current


def best_start(problem: PlacementProblem, options: SolverOptions,
               budget: Budget | None = None) -> tuple[Placement | None, str]:
    """Cheapest of each heuristic followed by local search (``options.time_limit_s`` split evenly
    between them, the work charged to ``budget``), and its name; (None, "none") if no heuristic
    can pack the groups.  In wall mode the heuristics after the first placement found are
    skipped once ``options.time_limit_s`` has passed (each heuristic itself cannot be stopped)."""
    best: tuple[float, Placement, str] | None = None
    share = options.limited(options.time_limit_s / len(HEURISTICS))
    mine = Budget.of(options)  # wall mode: no further heuristic once this is spent
    for name in HEURISTICS:
        if best is not None and not mine.deterministic and mine.expired:
            break
        try:
            placement = local_search(problem, heuristic(name)(problem), share, budget)
        except CapacityError:
            continue
        c = cost(problem, placement)
        if best is None or c < best[0]:
            best = (c, placement, f"{name}+ls")
    return (None, "none") if best is None else (best[1], best[2])


def solve_exact(problem: PlacementProblem, method: str,
                options: SolverOptions) -> tuple[Placement, SolveStats]:
    """Run "exact", "cpsat", "hungarian" or "lns"; objective and bound in byte-hops per inference.

    "cpsat" and "lns" start from ``best_start`` (10 % of the time limit).  "exact" is, when
    groups × cores ≤ ``CPSAT_MAX_VARS``, LNS for half of the time left and then CP-SAT hinted
    with the LNS placement (to prove it or improve it), else LNS alone; ``note`` says what ran.
    "hungarian" starts from the best plain heuristic.  When no heuristic packs the groups, every
    method but "hungarian" runs CP-SAT without a hint and ``note`` says so.  The reported bound is the larger of
    CP-SAT's bound (when CP-SAT ran on the whole problem) and ``placement.lower_bound``.
    """
    t0 = time.perf_counter()
    limit = options.time_limit_s
    budget = Budget.of(options)

    def remaining(share: float = 1.0) -> tuple[SolverOptions, Budget]:
        left = max(0.05, budget.left()) * share
        return options.limited(left), budget.share(left)

    bound, kind = lower_bound(problem, Budget.of(options, 0.25 * limit))  # its LP radii in a quarter
    exact = method == "cpsat" or (method == "exact"
                                  and problem.n_groups * problem.n_cores <= CPSAT_MAX_VARS)
    if method == "hungarian":
        start, name = best_heuristic(problem, Budget.of(options, 0.5 * limit))
        placement, note = hungarian(problem, start, options, budget), f"hungarian from {name}"
    else:
        hint, name = best_start(problem, options.limited(0.1 * limit), budget)
        note = f"from {name}"
        if exact or hint is None:
            if method == "exact" and hint is not None:
                hint, note = lns(problem, hint, *remaining(0.5)), f"lns {note}, then cpsat"
            elif hint is None:
                note = f"cpsat without a hint (no heuristic packs the groups; {method} asked)"
            else:
                note = f"cpsat {note}"
            placement, sat_bound, kept = cpsat(problem, hint, *remaining())
            note += f"; {kept}" if kept else ""
            if sat_bound > bound:
                bound, kind = sat_bound, "CP-SAT best bound"
        else:
            placement, note = lns(problem, hint, *remaining()), f"lns {note}"
    if budget.stop_note(0.05):
        note += f"; {budget.stop_note(0.05)}"
    check(problem, placement)
    objective = cost(problem, placement)
    status = Status.OPTIMAL if within_tolerance(objective, bound) else Status.FEASIBLE
    stats = SolveStats(STAGE, method, status, objective, bound, time.perf_counter() - t0,
                       bound_kind=kind, exact=exact, note=note)
    return placement, stats
