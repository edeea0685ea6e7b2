"""Exact scheduling with CP-SAT: interval variables, one NoOverlap per resource, hinted.

Latency mode, up to ``FULL_MODEL_MAX_TASKS`` tasks: one model over all tasks.  Start domains are
``[head, horizon - duration - tail]`` (heads and tails of `cimopt.solver.scheduling.bounds`) with
``horizon`` = the list schedule's makespan (ns); every start is hinted with the list schedule,
the objective is the makespan and the reported bound is ``max(best_objective_bound, analytic
lower bound)``.  Every model is solved by `cimopt.solver.cpsat.solve_model`.  The result is
never worse than the list schedule, which is returned as FEASIBLE (OPTIMAL when a bound meets it),
with ``note`` saying so, when CP-SAT finds nothing better in time; no status here is INFEASIBLE,
since a problem without deadlines always has a schedule.

Larger instances: rolling-window large-neighbourhood search (`cimopt.solver.scheduling.window`); the
global bound there is the analytic lower bound only.

Throughput mode: II = max resource load is optimal (the list schedule achieves it), so the status
is OPTIMAL; the latency of one inference is then minimised by CP-SAT over the exact modulo
resource constraint (see :func:`_modulo_latency`) for instances up to the same size.
"""
from __future__ import annotations

import time

from ortools.sat.python import cp_model

from cimopt.solver.budget import Budget
from cimopt.solver.cpsat import CpResult, kept_note, solve_model
from cimopt.solver.scheduling.bounds import heads_and_tails, lower_bound, strengthen
from cimopt.solver.scheduling.heuristic import list_schedule
from cimopt.solver.scheduling.problem import make_schedule, Mode, Schedule, SchedulingProblem, validate
from cimopt.solver.scheduling.window import instance, rolling_window
from cimopt.solver.stats import SolverOptions, SolveStats, Status

FULL_MODEL_MAX_TASKS = 1500


def _full_latency(problem: SchedulingProblem, order: list[int], hint: Schedule,
                  options: SolverOptions) -> tuple[CpResult, list[int] | None]:
    """Solve the whole latency model; returns (the run, starts in ns when CP-SAT improved)."""
    tasks, horizon = problem.tasks, hint.makespan_ns
    head, tail = strengthen(problem, order, *heads_and_tails(problem, order))
    model = cp_model.CpModel()
    start: dict[int, cp_model.IntVar] = {}  # start[i]: start time of task i (ns)
    per_res: dict[int, list[cp_model.IntervalVar]] = {}  # per resource: its tasks' intervals
    for i, t in enumerate(tasks):
        hi = max(head[i], horizon - t.duration_ns - tail[i])
        start[i] = model.new_int_var(head[i], hi, f"start_{i}")
        if t.held:
            iv = model.new_fixed_size_interval_var(start[i], t.duration_ns, f"run_{i}")
            for r in t.held:
                per_res.setdefault(r, []).append(iv)
        model.add_hint(start[i], hint.start_ns[i])
    for ivs in per_res.values():
        model.add_no_overlap(ivs)
    for p, s, d in problem.edges:
        model.add(start[s] >= start[p] + tasks[p].duration_ns + d)
    makespan = model.new_int_var(0, horizon, "makespan")  # end of the last task (ns)
    for i, t in enumerate(tasks):
        model.add(makespan >= start[i] + t.duration_ns)
    model.add_hint(makespan, horizon)
    model.minimize(makespan)
    res = solve_model(model, options, name="scheduling-latency", hint_objective=horizon,
                      instance=lambda: instance(problem, "latency"))
    if not res.improved:
        return res, None
    return res, [res.value(start[i]) for i in range(len(tasks))]


def _modulo_latency(problem: SchedulingProblem, order: list[int], hint: Schedule,
                    options: SolverOptions, time_limit_s: float) -> tuple[CpResult, list[int] | None]:
    """Minimise one inference's latency (ns) at fixed II under the modulo resource constraint.

    Each task gets a phase ``p in [0, II)`` and an iteration ``k >= 0`` with ``start = k*II + p``;
    the circle constraint is exact: on the line ``[0, 2*II)`` each task occupies ``[p, p+d)`` and
    its copy ``[p+II, p+II+d)`` and one NoOverlap per resource forbids every overlap modulo II
    (durations <= II).  Returns (the run, starts in ns when CP-SAT improved on ``hint``).
    """
    tasks, ii, horizon = problem.tasks, hint.initiation_interval_ns, hint.makespan_ns
    head, tail = strengthen(problem, order, *heads_and_tails(problem, order))
    model = cp_model.CpModel()
    start: dict[int, cp_model.IntVar] = {}  # start[i]: start of task i in one inference (ns)
    per_res: dict[int, list[cp_model.IntervalVar]] = {}  # per resource: phase intervals + copies
    for i, t in enumerate(tasks):
        start[i] = model.new_int_var(head[i], max(head[i], horizon - t.duration_ns - tail[i]),
                                     f"start_{i}")
        model.add_hint(start[i], hint.start_ns[i])
        if t.resource < 0 or t.duration_ns == 0:
            continue
        phase = model.new_int_var(0, ii - 1, f"phase_{i}")  # start mod II (ns)
        k = model.new_int_var(0, horizon // ii + 1, f"iter_{i}")  # start div II
        model.add(start[i] == k * ii + phase)
        model.add_hint(phase, hint.start_ns[i] % ii)
        model.add_hint(k, hint.start_ns[i] // ii)
        copy = model.new_int_var(ii, 2 * ii - 1, f"phase_copy_{i}")  # phase + II (ns)
        model.add(copy == phase + ii)
        ring = [model.new_fixed_size_interval_var(phase, t.duration_ns, f"ring_{i}"),
                model.new_fixed_size_interval_var(copy, t.duration_ns, f"ring_copy_{i}")]
        for r in t.held:
            per_res.setdefault(r, []).extend(ring)
    for ivs in per_res.values():
        model.add_no_overlap(ivs)
    for p, s, d in problem.edges:
        model.add(start[s] >= start[p] + tasks[p].duration_ns + d)
    latency = model.new_int_var(0, horizon, "latency")  # end of one inference's last task (ns)
    for i, t in enumerate(tasks):
        model.add(latency >= start[i] + t.duration_ns)
    model.add_hint(latency, horizon)
    model.minimize(latency)
    res = solve_model(model, options, name="scheduling-modulo", time_limit_s=time_limit_s,
                      hint_objective=horizon, instance=lambda: {**instance(problem, "throughput"),
                                                                "initiation_interval_ns": ii})
    if not res.improved:
        return res, None
    return res, [res.value(start[i]) for i in range(len(tasks))]


def _throughput(problem: SchedulingProblem, order: list[int], options: SolverOptions,
                t0: float) -> tuple[Schedule, SolveStats]:
    """II at its bound (OPTIMAL) when the list schedule's modulo placement reaches it (always, unless
    tasks hold several resources); latency improved by CP-SAT when the instance is small enough."""
    sched = list_schedule(problem, "throughput")
    bound, kind = lower_bound(problem, "throughput")
    note = ("II = max resource load is optimal; latency of one inference: "
            f"list {sched.makespan_ns} ns")
    if len(problem.tasks) <= FULL_MODEL_MAX_TASKS:
        res, starts = _modulo_latency(problem, order, sched, options, options.time_limit_s)
        if starts is not None:
            sched = make_schedule(problem, starts, sched.initiation_interval_ns)
            note += f", CP-SAT {sched.makespan_ns} ns"
        else:
            note += f"; {res.kept_note()}"
        note += f"; {res.limit_note()}" if res.limit_note() else ""
    else:
        note += " (too large for the CP-SAT latency model)"
    if sched.initiation_interval_ns > bound:   # transfers holding links found no common phase at the bound
        note = note.replace("II = max resource load is optimal", f"II above the max resource load {bound} ns "
                                                                  "(transfers and their links)")
    return sched, SolveStats("scheduling", "cpsat-throughput",
                             Status.OPTIMAL if sched.initiation_interval_ns <= bound else Status.FEASIBLE,
                             float(sched.initiation_interval_ns), float(bound),
                             time.perf_counter() - t0, kind, True, note)


def solve_exact(problem: SchedulingProblem, mode: Mode,
                options: SolverOptions) -> tuple[Schedule, SolveStats]:
    """CP-SAT (full model or rolling window) hinted with the list schedule; never worse than it."""
    t0 = time.perf_counter()
    budget = Budget.of(options)  # the rolling window's; its wall clock starts with the call
    order = validate(problem)
    if mode == "throughput":
        return _throughput(problem, order, options, t0)
    hint = list_schedule(problem, "latency")
    lb, kind = lower_bound(problem, "latency")
    if hint.makespan_ns <= lb:
        return hint, SolveStats("scheduling", "cpsat-latency", Status.OPTIMAL,
                                float(hint.makespan_ns), float(lb), time.perf_counter() - t0,
                                kind, True, "list schedule meets the lower bound")
    if len(problem.tasks) > FULL_MODEL_MAX_TASKS:
        starts, windows, improved = rolling_window(problem, order, list(hint.start_ns), lb,
                                                   budget, options)
        sched = make_schedule(problem, starts, None)
        status = Status.OPTIMAL if sched.makespan_ns <= lb else Status.FEASIBLE
        wall = time.perf_counter() - t0
        spent = budget.spent() if budget.deterministic else wall
        kept = (f"; {kept_note(spent, budget.deterministic)}"
                if sched.start_ns == hint.start_ns else "")
        return sched, SolveStats(
            "scheduling", "cpsat-rolling-window", status, float(sched.makespan_ns), float(lb),
            wall, kind, True,
            f"{windows} windows re-optimised, {improved} improved; list makespan "
            f"{hint.makespan_ns} ns; bound is analytic only{kept}"
            + (f"; {budget.stop_note(0.05)}" if budget.stop_note(0.05) else ""))
    res, starts = _full_latency(problem, order, hint, options)
    wall = time.perf_counter() - t0
    if starts is None:
        sched, note = hint, res.kept_note()
    else:
        sched, note = make_schedule(problem, starts, None), ""
    if res.limit_note():
        note = f"{note}; {res.limit_note()}" if note else res.limit_note()
    bound = max(float(lb), res.bound)
    if res.bound >= lb and res.bound > 0:
        kind = "CP-SAT best objective bound"
    optimal = res.status is Status.OPTIMAL or sched.makespan_ns <= bound
    if optimal:
        bound = sched.makespan_ns
    return sched, SolveStats("scheduling", "cpsat-latency",
                             Status.OPTIMAL if optimal else Status.FEASIBLE,
                             float(sched.makespan_ns), float(bound), wall, kind, True, note)
