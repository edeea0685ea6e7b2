"""Deterministic mode: the `Budget`, CP-SAT's deterministic limit, and every exact method giving
the same result twice for a seed and a limit that stops its search, one of the two runs while
another process burns CPU."""
from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from test_cpsat import subset_sum

from cimopt.solver.budget import Budget
from cimopt.solver.cpsat import solve_model
from cimopt.solver.memory import heuristic as memory
from cimopt.solver.memory.generator import memory_instance
from cimopt.solver.placement import exact as px
from cimopt.solver.placement.generator import layered_chain
from cimopt.solver.placement.heuristic import local_search, snake
from cimopt.solver.replication import exact as rx
from cimopt.solver.replication.generator import random_layers
from cimopt.solver.scheduling import exact as sx
from cimopt.solver.scheduling.generator import scheduling_instance
from cimopt.solver.segmentation.heuristic import segment
from cimopt.solver.stats import SolverOptions, Status


def det(limit: float, seed: int = 0) -> SolverOptions:
    return SolverOptions(time_limit_s=limit, seed=seed, workers=1, deterministic=True)


@contextmanager
def cpu_burner() -> Iterator[None]:
    """Another process spinning on a core for the duration of the block."""
    proc = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        yield
    finally:
        proc.kill()
        proc.wait()


def twice(run: Callable[[], tuple[object, object]]) -> tuple[object, object]:
    """``run()`` on a quiet machine and again while another process burns CPU; both results
    (solution, stats) must agree, timing aside.  Returns the first."""
    quiet_sol, quiet_stats = run()
    with cpu_burner():
        busy_sol, busy_stats = run()
    assert busy_sol == quiet_sol
    strip = {"wall_s": 0.0, "attempts": ()}
    assert dataclasses.replace(busy_stats, **strip) == dataclasses.replace(quiet_stats, **strip)
    return quiet_sol, quiet_stats


# --- the budget and the options ------------------------------------------------------------

def test_counted_budget_is_spent_only_by_charges() -> None:
    b = Budget.counted(1.0)
    assert (b.left(), b.spent(), b.expired) == (1.0, 0.0, False)
    b.spend(0.25)
    part = b.share(0.5)
    part.spend(0.5)
    assert part.expired and part.stop_note().startswith("stopped on its deterministic limit")
    assert b.spent() == 0.75 and not b.expired and b.stop_note() == ""
    b.spend(0.3)
    assert b.expired and b.left() == pytest.approx(-0.05)


def test_wall_budget_ignores_charges() -> None:
    b = Budget(3600.0, deterministic=False)
    b.spend(7200.0)
    assert not b.expired and b.spent() < 60 and b.stop_note(3600.0) == ""
    assert Budget(0.0, deterministic=False).expired


def test_deterministic_only_when_asked() -> None:
    assert SolverOptions(workers=1).deterministic is False   # one worker no longer implies it
    assert SolverOptions(workers=8).deterministic is False
    assert SolverOptions(1.0, 0, 1).deterministic is False
    assert SolverOptions(workers=8, deterministic=True).deterministic is True
    assert SolverOptions(workers=1, deterministic=False).deterministic is False
    assert det(1.0).limited(2.0).deterministic is True
    assert Budget.of(det(2.0)).deterministic and not Budget.of(SolverOptions(workers=2)).deterministic


# --- the CP-SAT runner ---------------------------------------------------------------------

def test_runner_limits_deterministic_time_and_records_it(tmp_path: Path) -> None:
    options = dataclasses.replace(det(0.02), export_dir=str(tmp_path))
    budget = Budget.of(det(1.0))
    res = solve_model(subset_sum(), options, name="hard", budget=budget)
    assert res.deterministic and res.status is Status.NO_SOLUTION_IN_TIME
    assert res.deterministic_s >= 0.02 and res.stopped_on_limit
    assert res.limit_note() == "stopped on its deterministic limit of 0.02 deterministic s"
    assert budget.spent() == res.deterministic_s
    record = json.loads((tmp_path / "hard-0.json").read_text())
    assert record["deterministic_s"] == res.deterministic_s and record["parameters"]["deterministic"]
    again = solve_model(subset_sum(), det(0.02), name="hard")
    assert (again.objective, again.bound, again.deterministic_s) == (res.objective, res.bound,
                                                                    res.deterministic_s)


def test_wall_mode_records_deterministic_time_but_stops_on_the_clock() -> None:
    res = solve_model(subset_sum(), SolverOptions(time_limit_s=0.05, workers=1,
                                                   deterministic=False), name="hard")
    assert not res.deterministic and res.limit_note() == "" and res.deterministic_s >= 0


# --- every exact method, twice -------------------------------------------------------------

def test_replication_exact_is_reproducible() -> None:
    problem = random_layers(24, 1, mode="latency")
    rep, stats = twice(lambda: rx.solve_exact(problem, det(0.03)))
    assert stats.status is Status.FEASIBLE and "deterministic limit" in stats.note


@pytest.mark.parametrize("method", ["dp", "cpsat"])
def test_segmentation_is_reproducible(method: str) -> None:
    problem = random_layers(18 if method == "cpsat" else 14, 2, budget_per_layer=0.35,
                            mode="latency")
    seg, stats = twice(lambda: segment(problem, method, det(0.1)))
    assert stats.status is Status.FEASIBLE


@pytest.mark.parametrize("method", ["exact", "cpsat", "lns", "hungarian"])
def test_placement_exact_is_reproducible(method: str) -> None:
    problem = layered_chain(60, 4, 4, 48, 3)
    placement, stats = twice(lambda: px.solve_exact(problem, method, det(0.1, seed=2)))
    assert stats.status is Status.FEASIBLE
    assert "deterministic limit" in stats.note


def test_local_search_counts_moves_not_time() -> None:
    problem = layered_chain(120, 6, 6, 32, 0)
    start = snake(problem)
    short = local_search(problem, start, det(0.005))
    with cpu_burner():
        assert local_search(problem, start, det(0.005)) == short
    full = local_search(problem, start, det(100.0))
    assert short != full and full == local_search(problem, start, SolverOptions(workers=8))


def test_scheduling_full_model_is_reproducible() -> None:
    problem = scheduling_instance(400, 4)
    sched, stats = twice(lambda: sx.solve_exact(problem, "latency", det(0.05)))
    assert stats.method == "cpsat-latency"


def test_scheduling_rolling_window_is_reproducible() -> None:
    problem = scheduling_instance(3000, 5)
    assert len(problem.tasks) > sx.FULL_MODEL_MAX_TASKS
    sched, stats = twice(lambda: sx.solve_exact(problem, "latency", det(0.1)))
    assert stats.method == "cpsat-rolling-window" and stats.status is Status.FEASIBLE
    assert "deterministic limit" in stats.note


def test_memory_exact_is_reproducible() -> None:
    problem = memory_instance(600, 1)
    mem_plan, stats = twice(lambda: memory.plan(problem, "exact", det(0.1)))
    assert stats.status is Status.FEASIBLE and "deterministic limit" in stats.note


def test_deterministic_with_two_workers_interleaves_them() -> None:
    problem = layered_chain(60, 4, 4, 48, 3)
    options = SolverOptions(time_limit_s=0.05, seed=2, workers=2, deterministic=True)
    placement, stats = twice(lambda: px.solve_exact(problem, "cpsat", options))
    assert "deterministic limit" in stats.note


def test_wall_deadline_cuts_every_budget_and_cpsat_limit() -> None:
    wall = SolverOptions(time_limit_s=5.0, workers=1).with_deadline()
    assert wall.deadline is not None and 4.0 < wall.wall_left(100.0) <= 5.0
    assert Budget.of(wall, 100.0).total <= 5.0 and wall.limited(50.0).wall_left(50.0) <= 5.0
    assert det(5.0).with_deadline().deadline is None and det(5.0).wall_left(100.0) == 100.0
    past = SolverOptions(time_limit_s=5.0, workers=1, deadline=0.0)
    assert Budget.of(past).expired
    res = solve_model(subset_sum(), past, name="hard")
    assert res.time_limit_s == 0.01  # the runner's floor, not the options' 5 s
