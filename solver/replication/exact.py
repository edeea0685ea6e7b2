"""Exact replication with CP-SAT.

Model (per layer ``l``, per useful copy count ``r`` of that layer):

- ``pick[l, k]``: layer ``l`` runs with ``choices[l][k]`` copies, exactly one per layer.  Only
  the breakpoints of ``ceil(units / r)`` are offered (any other count costs more crossbars for
  the same time), up to the most copies the layer could get alone; this keeps the model small.
- crossbars: ``sum crossbars_l * r * pick[l, k] <= budget``.
- throughput: ``dur_l <= T``, minimise ``T``; latency: ``start_v >= start_u + dur_u`` on every
  edge, ``makespan >= start_l + dur_l``, minimise ``makespan``.

Times are integers in units of ``1 / scale`` ns, rounded *down*, so the model's optimum and
bound never exceed the true ones: the reported bound is ``best_objective_bound / scale`` (valid),
and the reported objective is recomputed in float from the chosen copies.  When the times are
not integral in those units a model optimum can be worse than the true optimum by at most the
rounding (``layers / scale`` ns), which ``note`` states.  The model is hinted with the
``balance`` solution, solved by `cimopt.solver.cpsat.solve_model`, and the better of the two in
float is returned, so exact is never worse than it; when CP-SAT finds nothing in time the hint is
returned as FEASIBLE and ``note`` says so.  The status is OPTIMAL only when the bound meets the
objective within the runner's tolerance (a rounded model proved optimal is not enough).
"""
from __future__ import annotations

import math
import time
from dataclasses import asdict

from ortools.sat.python import cp_model

from cimopt.solver.budget import Budget
from cimopt.solver.replication.heuristic import (
    STAGE,
    Replication,
    ReplicationProblem,
    balance_copies,
    check_fits,
    crossbars_used,
    finish_times,
    layer_time,
    lower_bound,
    max_copies_alone,
    objective,
    useful_copies,
)
from cimopt.solver.cpsat import solve_model, within_tolerance
from cimopt.solver.stats import SolverOptions, SolveStats, Status

_MAX_SCALED = 1e12  # largest scaled time (model units) we let CP-SAT see


def time_scale(times: list[float]) -> int:
    """Model units per ns: 1 if all ``times`` are whole ns, else up to 1000 (ps resolution)."""
    if all(float(t).is_integer() for t in times):
        return 1
    top = max(times, default=1.0)
    scale = 1000
    while scale > 1 and top * scale > _MAX_SCALED:
        scale //= 10
    return scale


def hint_index(choices: list[int], copies: int) -> int:
    """Index of the largest offered copy count <= ``copies`` (same time, no more crossbars)."""
    best = 0
    for k, r in enumerate(choices):
        if r <= copies:
            best = k
    return best


def instance(problem: ReplicationProblem, scale: int) -> dict[str, object]:
    """The plain-data description of a replication instance written next to an exported model."""
    return {
        "stage": STAGE, "mode": problem.mode, "budget_crossbars": problem.budget,
        "layers": [asdict(layer) for layer in problem.layers],
        "edges": [list(e) for e in problem.edges], "model_units_per_ns": scale,
    }


def solve_exact(
    problem: ReplicationProblem, options: SolverOptions, hint: Replication | None = None,
    budget: Budget | None = None,
) -> tuple[Replication, SolveStats]:
    """Optimal copies by CP-SAT, hinted with ``hint`` (default: ``balance``); times in ns.

    ``budget``: charged with the solve's deterministic time (the limit is ``options``')."""
    check_fits(problem)
    start = time.perf_counter()
    layers = problem.layers
    n = len(layers)
    # wall mode: the balance hint gets at most half the limit (it returns its copies so far)
    hint = hint or Replication(balance_copies(
        problem, None if options.deterministic else Budget.of(options, 0.5 * options.time_limit_s)))
    hint_value = objective(problem, hint)
    analytic, kind = lower_bound(problem)
    rmax = max_copies_alone(problem)
    choices = [useful_copies(layer, rmax[l]) for l, layer in enumerate(layers)]
    real = [[layer_time(layer, r) for r in choices[l]] for l, layer in enumerate(layers)]
    scale = time_scale([t for row in real for t in row])
    dur_table = [[math.floor(t * scale) for t in row] for row in real]
    horizon = sum(max(row) for row in dur_table) if n else 0

    model = cp_model.CpModel()
    pick: dict[tuple[int, int], cp_model.IntVar] = {}  # (layer, k): layer runs with choices[layer][k] copies
    dur: dict[int, cp_model.IntVar] = {}  # layer: its time in model units
    for l in range(n):
        for k in range(len(choices[l])):
            pick[l, k] = model.new_bool_var(f"pick_{l}_{k}")
        model.add_exactly_one(pick[l, k] for k in range(len(choices[l])))
        dur[l] = model.new_int_var(min(dur_table[l]), max(dur_table[l]), f"dur_{l}")
        model.add(dur[l] == sum(d * pick[l, k] for k, d in enumerate(dur_table[l])))
    model.add(
        sum(layers[l].crossbars * r * pick[l, k] for l in range(n) for k, r in enumerate(choices[l]))
        <= problem.budget
    )
    hint_k = [hint_index(choices[l], hint.copies[l]) for l in range(n)]
    for l in range(n):
        for k in range(len(choices[l])):
            model.add_hint(pick[l, k], int(k == hint_k[l]))
    hint_dur = [dur_table[l][hint_k[l]] for l in range(n)]
    if problem.mode == "throughput":
        peak = model.new_int_var(0, max((max(r) for r in dur_table), default=0), "bottleneck")  # max dur
        for l in range(n):
            model.add(dur[l] <= peak)
        hint_objective = max(hint_dur, default=0)
        model.add_hint(peak, hint_objective)
        model.minimize(peak)
    else:
        begin: dict[int, cp_model.IntVar] = {}  # layer: start time in model units
        end: dict[int, cp_model.IntVar] = {}  # layer: finish time in model units
        makespan = model.new_int_var(0, horizon, "makespan")  # critical path length
        hint_finish = finish_times([float(d) for d in hint_dur], problem.edges)
        for l in range(n):
            begin[l] = model.new_int_var(0, horizon, f"start_{l}")
            end[l] = model.new_int_var(0, horizon, f"finish_{l}")
            model.add(end[l] == begin[l] + dur[l])
            model.add(makespan >= end[l])
            model.add_hint(begin[l], int(hint_finish[l]) - hint_dur[l])
            model.add_hint(end[l], int(hint_finish[l]))
        for u, v in problem.edges:
            model.add(begin[v] >= end[u])
        hint_objective = int(max(hint_finish, default=0.0))
        model.add_hint(makespan, hint_objective)
        model.minimize(makespan)

    res = solve_model(model, options, name=f"replication-{problem.mode}",
                      hint_objective=hint_objective, instance=instance(problem, scale),
                      budget=budget)
    rep, value = hint, hint_value
    note = ""
    if res.found:  # compared in float: the model's times are rounded down
        found = Replication(
            tuple(choices[l][next(k for k in range(len(choices[l])) if res.boolean_value(pick[l, k]))]
                  for l in range(n))
        )
        found_value = objective(problem, found)
        if found_value <= hint_value:
            rep, value = found, found_value
        else:
            note = "CP-SAT's answer is worse in float than the rounded model says; balance hint kept; "
    else:
        note = res.kept_note() + "; "
    note += f"{res.limit_note()}; " if res.limit_note() else ""
    cp_bound = res.bound / scale
    bound = max(analytic, cp_bound)  # each bounds the instance; not clamped to the value
    # OPTIMAL only when the bound meets the value: a rounded model proved optimal may still be
    # above the real optimum by its rounding (then FEASIBLE, the gap at most that rounding)
    status = Status.OPTIMAL if within_tolerance(value, bound) else Status.FEASIBLE
    if cp_bound >= analytic:
        kind = "cp_sat"
    if scale != 1 or not all(float(t).is_integer() for row in real for t in row):
        note += f"times rounded down to 1/{scale} ns in the model (optimal within {n / scale:g} ns); "
    note += (
        f"mode={problem.mode}; {crossbars_used(problem, rep.copies)}/{problem.budget} crossbars; "
        f"{len(pick)} choices; seed={options.seed}, workers={options.workers}"
    )
    stats = SolveStats(
        stage=STAGE,
        method="exact",
        status=status,
        objective=value,
        bound=bound,
        wall_s=time.perf_counter() - start,
        bound_kind=kind,
        exact=True,
        note=note,
    )
    return rep, stats
