"""Tests of solver.scheduling (problem, bounds, heuristic, exact): checker, bounds, list scheduling, CP-SAT, modulo schedules."""
from __future__ import annotations

import itertools
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cimopt.solver.scheduling.bounds import lower_bound, resource_loads
from cimopt.solver.scheduling.heuristic import list_schedule, solve
from cimopt.solver.scheduling.problem import check, Schedule, SchedulingProblem, Task
from cimopt.solver.scheduling.stage import solve_schedule
from cimopt.solver.stats import SolverOptions, Status

FAST = SolverOptions(time_limit_s=5.0, seed=3, workers=1, deterministic=True)


def random_dag(n: int, n_res: int, seed: int, p_edge: float = 0.25) -> SchedulingProblem:
    """A random DAG of ``n`` tasks on ``n_res`` resources (some tasks resource-free), in ns."""
    rng = random.Random(seed)
    tasks = tuple(Task(f"t{i}", rng.randint(0, 9), rng.randint(-1, n_res - 1),
                       rng.choice([0, 0, rng.randint(0, 15)])) for i in range(n))
    edges = tuple((i, j, rng.randint(0, 3)) for i in range(n) for j in range(i + 1, n)
                  if rng.random() < p_edge)
    return SchedulingProblem(tasks, edges, tuple(f"r{k}" for k in range(n_res)))


def brute_force_makespan(problem: SchedulingProblem) -> int:
    """Optimal makespan (ns): every order per resource, semi-active timing by longest path."""
    n = len(problem.tasks)
    per_res = [[i for i, t in enumerate(problem.tasks) if t.resource == r and t.duration_ns > 0]
               for r in range(len(problem.resources))]
    best = None
    for orders in itertools.product(*(itertools.permutations(ids) for ids in per_res)):
        arcs = [(p, s, d) for p, s, d in problem.edges]
        for seq in orders:
            arcs += [(a, b, 0) for a, b in zip(seq, seq[1:])]
        start = [t.release_ns for t in problem.tasks]
        for _ in range(n + 1):  # Bellman-Ford style relaxation; a cycle keeps growing
            changed = False
            for p, s, d in arcs:
                need = start[p] + problem.tasks[p].duration_ns + d
                if start[s] < need:
                    start[s], changed = need, True
            if not changed:
                break
        if changed:
            continue  # resource orders contradict precedence
        ms = max(s + t.duration_ns for s, t in zip(start, problem.tasks))
        best = ms if best is None else min(best, ms)
    assert best is not None
    return best


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("mode", ["latency", "throughput"])
def test_list_schedule_is_valid(seed: int, mode: str) -> None:
    problem = random_dag(40, 4, seed)
    sched = list_schedule(problem, mode)  # type: ignore[arg-type]
    assert check(problem, sched, mode) == []  # type: ignore[arg-type]


@pytest.mark.parametrize("seed", range(4))
def test_bound_le_exact_le_list(seed: int) -> None:
    problem = random_dag(25, 3, 100 + seed)
    lb, _ = lower_bound(problem, "latency")
    ls, lstats = solve(problem, "latency", "list")
    ex, estats = solve_schedule(problem, "latency", "cpsat", FAST)
    assert check(problem, ex, "latency") == []
    assert lb <= ex.makespan_ns <= ls.makespan_ns
    assert estats.bound <= estats.objective == ex.makespan_ns
    assert lstats.bound == lb and estats.exact and not lstats.exact
    assert estats.status in (Status.OPTIMAL, Status.FEASIBLE)  # a schedule is returned
    if estats.status == Status.OPTIMAL:
        assert estats.gap == 0.0
    elif ex == ls:
        assert estats.note.endswith("heuristic kept")


tiny_task = st.tuples(st.integers(1, 5), st.integers(-1, 1), st.integers(0, 3))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(tiny_task, min_size=1, max_size=6), st.data())
def test_exact_matches_brute_force(specs: list[tuple[int, int, int]], data: st.DataObject) -> None:
    n = len(specs)
    pairs = [(i, j) for i in range(n) for j in range(i + 1, n)]
    chosen = data.draw(st.lists(st.sampled_from(pairs), unique=True, max_size=6)) if pairs else []
    edges = tuple((i, j, data.draw(st.integers(0, 2))) for i, j in chosen)
    problem = SchedulingProblem(tuple(Task(f"t{k}", d, r, rel) for k, (d, r, rel)
                                      in enumerate(specs)), edges, ("a", "b"))
    ex, stats = solve_schedule(problem, "latency", "cpsat", FAST)
    assert stats.status == Status.OPTIMAL
    assert check(problem, ex, "latency") == []
    optimum = brute_force_makespan(problem)
    assert ex.makespan_ns == optimum
    lb, _ = lower_bound(problem, "latency")
    assert lb <= optimum <= list_schedule(problem, "latency").makespan_ns


@pytest.mark.parametrize("seed", range(6))
def test_throughput_ii_is_max_load(seed: int) -> None:
    problem = random_dag(30, 3, 200 + seed)
    loads = resource_loads(problem)
    for method in ("list", "cpsat"):
        sched, stats = solve_schedule(problem, "throughput", method, FAST)
        assert sched.initiation_interval_ns == max(max(loads), 1)
        assert check(problem, sched, "throughput") == []
        assert stats.status == Status.OPTIMAL and stats.objective == stats.bound
    exact, _ = solve_schedule(problem, "throughput", "cpsat", FAST)
    listed = list_schedule(problem, "throughput")
    assert exact.makespan_ns <= listed.makespan_ns


def test_determinism() -> None:
    problem = random_dag(30, 3, 7)
    runs = [solve_schedule(problem, "latency", "cpsat", FAST)[0] for _ in range(2)]
    assert runs[0].makespan_ns == runs[1].makespan_ns
    assert list_schedule(problem, "latency") == list_schedule(problem, "latency")


def test_cycle_names_a_task_on_it() -> None:
    tasks = tuple(Task(f"t{i}", 1, 0) for i in range(4))
    problem = SchedulingProblem(tasks, ((0, 1, 0), (1, 2, 0), (2, 1, 0), (2, 3, 0)), ("r",))
    with pytest.raises(ValueError, match=r"cycle through task [12] \(t[12]\)"):
        list_schedule(problem, "latency")


def test_check_reports_violations() -> None:
    tasks = (Task("a", 4, 0), Task("b", 3, 0, release_ns=2), Task("c", 2, -1))
    problem = SchedulingProblem(tasks, ((0, 2, 1),), ("xbar",))
    bad = Schedule((0, 1, 4), 6, 6)
    msgs = check(problem, bad, "latency")
    assert any("before its release" in m for m in msgs)
    assert any("precedence a -> c" in m for m in msgs)
    assert any("overlaps" in m for m in msgs)
    good = Schedule((0, 4, 5), 7, 7)
    assert check(problem, good, "latency") == []
    modulo = Schedule((0, 5, 5), 8, 7)  # phases 0 and 5 on a circle of 7: b wraps onto a
    assert any("modulo 7 ns" in m for m in check(problem, modulo, "throughput"))
    assert check(problem, Schedule((0, 4, 5), 7, 7), "throughput") == []


def test_bad_input_raises() -> None:
    with pytest.raises(ValueError, match="resource 3"):
        list_schedule(SchedulingProblem((Task("a", 1, 3),), (), ("r",)), "latency")
    with pytest.raises(ValueError, match="mode"):
        list_schedule(SchedulingProblem((), (), ()), "fast")  # type: ignore[arg-type]


def test_rolling_window_path(monkeypatch: pytest.MonkeyPatch) -> None:
    from cimopt.solver.scheduling import exact as scheduling_exact
    monkeypatch.setattr(scheduling_exact, "FULL_MODEL_MAX_TASKS", 10)
    problem = random_dag(80, 3, 11, p_edge=0.05)
    lb, _ = lower_bound(problem, "latency")
    ls = list_schedule(problem, "latency")
    opts = SolverOptions(time_limit_s=2.0, seed=1, workers=2)
    ex, stats = solve_schedule(problem, "latency", "cpsat", opts)
    assert check(problem, ex, "latency") == []
    assert lb <= ex.makespan_ns <= ls.makespan_ns
    assert stats.method == "cpsat-rolling-window" and stats.bound == lb


def random_links_dag(n: int, seed: int) -> SchedulingProblem:
    """``n`` tasks on 2 ports and 3 links: some tasks (transfers) hold a port and 1-2 links at once."""
    rng = random.Random(seed)
    tasks = []
    for i in range(n):
        res = rng.randint(0, 1)
        also = tuple(sorted(rng.sample([2, 3, 4], rng.randint(0, 2)))) if rng.random() < 0.7 else ()
        tasks.append(Task(f"t{i}", rng.randint(1, 9), res, rng.choice([0, rng.randint(0, 10)]), also))
    edges = tuple((i, j, rng.randint(0, 2)) for i in range(n) for j in range(i + 1, n) if rng.random() < 0.2)
    return SchedulingProblem(tuple(tasks), edges, ("port0", "port1", "link0", "link1", "link2"))


def _semi_active_best(problem: SchedulingProblem) -> int:
    """The least makespan (ns) over every order of the tasks (each task as early as its
    predecessors, release and the resources it holds allow, in that order): optimal, since every
    schedule's order by start time rebuilds to a schedule no longer."""
    n = len(problem.tasks)
    preds = [[(p, d) for p, s, d in problem.edges if s == i] for i in range(n)]
    best = None
    for seq in itertools.permutations(range(n)):
        pos = {i: k for k, i in enumerate(seq)}
        if any(pos[p] > pos[s] for p, s, _ in problem.edges):
            continue
        free = [0] * len(problem.resources)
        start = [0] * n
        for i in seq:
            t = problem.tasks[i]
            s = max([t.release_ns] + [start[p] + problem.tasks[p].duration_ns + d for p, d in preds[i]] +
                    [free[r] for r in t.held])
            for r in t.held:
                free[r] = s + t.duration_ns
            start[i] = s
        ms = max(start[i] + problem.tasks[i].duration_ns for i in range(n))
        best = ms if best is None else min(best, ms)
    return best or 0


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(2, 6), st.integers(0, 10_000))
def test_tasks_holding_several_resources_against_brute_force(n: int, seed: int) -> None:
    p = random_links_dag(n, seed)
    best = _semi_active_best(p)
    for method in ("list", "cpsat"):
        for mode in ("latency", "throughput"):
            sched, stats = solve_schedule(p, mode, method, FAST)
            assert not check(p, sched, mode), check(p, sched, mode)[:3]
            assert stats.bound <= stats.objective
            if mode == "latency":
                assert stats.objective >= best
                assert stats.bound <= best
                if method == "cpsat":
                    assert stats.objective == best and stats.status is Status.OPTIMAL
            else:
                assert sched.initiation_interval_ns >= max(resource_loads(p))


def test_throughput_with_links_on_a_fragmented_circle_grows_ii() -> None:
    """A transfer holding two links whose phases cannot line up at II = max load gets a longer II,
    and the schedule stays valid (never an overlap modulo II)."""
    tasks = (Task("a", 4, 0), Task("b", 4, 1), Task("x", 3, 2, 0, (0, 1)), Task("c", 2, 0), Task("d", 2, 1))
    p = SchedulingProblem(tasks, ((0, 3, 0), (1, 4, 1)), ("p0", "p1", "port"))
    sched = list_schedule(p, "throughput")
    assert not check(p, sched, "throughput")
    assert sched.initiation_interval_ns >= max(resource_loads(p))


def test_a_task_holding_its_own_resource_twice_is_refused() -> None:
    p = SchedulingProblem((Task("x", 3, 0, 0, (0,)),), (), ("r",))
    with pytest.raises(ValueError, match="also"):
        list_schedule(p, "latency")
