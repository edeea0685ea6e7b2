"""The one CP-SAT runner: status mapping, the hint rule, errors, export and determinism."""
from __future__ import annotations

import json
import math
import random

import pytest
from ortools.sat import cp_model_pb2
from ortools.sat.python import cp_model

from cimopt.ir.errors import CimoptError
from cimopt.solver.cpsat import solve_model, within_tolerance
from cimopt.solver.errors import SolverError
from cimopt.solver.replication import heuristic as rp
from cimopt.solver.replication.exact import solve_exact
from cimopt.solver.stats import SolverOptions, Status

ONE = SolverOptions(time_limit_s=5.0, seed=0, workers=1, deterministic=True)


def small() -> tuple[cp_model.CpModel, cp_model.IntVar]:
    """min x + y with x + y >= 7, x, y in [0, 10]: optimum 7."""
    model = cp_model.CpModel()
    x = model.new_int_var(0, 10, "x")
    y = model.new_int_var(0, 10, "y")
    model.add(x + y >= 7)
    model.minimize(x + y)
    return model, x


def subset_sum() -> cp_model.CpModel:
    """A 50-item subset sum with 40-bit weights: CP-SAT neither solves nor refutes it in seconds."""
    rng = random.Random(1)
    weights = [rng.randrange(1 << 39, 1 << 40) for _ in range(50)]
    model = cp_model.CpModel()
    pick = [model.new_bool_var(f"pick_{i}") for i in range(50)]
    model.add(sum(w * p for w, p in zip(weights, pick)) == sum(weights) // 2 + 1)
    model.minimize(sum(pick))
    return model


def test_optimal() -> None:
    model, x = small()
    res = solve_model(model, ONE, name="small")
    assert res.status is Status.OPTIMAL and res.objective == 7 and res.bound == 7
    assert res.found and res.improved and res.hint_objective is None
    assert 0 <= res.value(x) <= 7


def test_infeasible() -> None:
    model, x = small()
    model.add(x >= 7)
    model.add(x <= 3)
    res = solve_model(model, ONE, name="contradiction")
    assert res.status is Status.INFEASIBLE and not res.found and math.isinf(res.bound)
    with pytest.raises(SolverError, match="contradiction"):
        res.value(x)


def test_infeasible_with_a_hint_is_a_bug() -> None:
    model, x = small()
    model.add(x >= 7)
    model.add(x <= 3)
    with pytest.raises(SolverError, match="hinted|hint"):
        solve_model(model, ONE, name="hinted", hint_objective=8)


def test_time_limit_before_any_solution() -> None:
    res = solve_model(subset_sum(), SolverOptions(time_limit_s=0.05, seed=0, workers=1, deterministic=True), name="hard")
    assert res.status is Status.NO_SOLUTION_IN_TIME and not res.found and not res.improved
    assert math.isinf(res.objective) and res.bound == -math.inf


def test_time_limit_keeps_the_hint() -> None:
    res = solve_model(subset_sum(), SolverOptions(time_limit_s=0.05, seed=0, workers=1, deterministic=True), name="hard",
                      hint_objective=30)
    assert res.status is Status.FEASIBLE and res.objective == 30 and not res.improved
    assert res.kept_note().startswith("CP-SAT found nothing better in ")
    assert res.kept_note().endswith("s; heuristic kept")


def test_hint_kept_when_cp_sat_is_not_better() -> None:
    model, _ = small()
    res = solve_model(model, ONE, name="small", hint_objective=7)
    assert res.status is Status.OPTIMAL and not res.improved and res.found and res.objective == 7
    res = solve_model(model, ONE, name="small", hint_objective=9)
    assert res.improved and res.objective == 7 and res.hint_objective == 9


def test_model_invalid_raises_solver_error() -> None:
    model = cp_model.CpModel()
    x = model.new_int_var(5, 1, "x")  # an empty domain: CP-SAT's validation rejects the model
    model.minimize(x)
    with pytest.raises(SolverError, match="broken") as err:
        solve_model(model, ONE, name="broken")
    assert isinstance(err.value, CimoptError)


def test_bad_name() -> None:
    with pytest.raises(ValueError):
        solve_model(small()[0], ONE, name="a b")


def test_tolerance() -> None:
    assert within_tolerance(7.0, 7.0) and within_tolerance(1e12, 1e12 - 100)
    assert not within_tolerance(7.0, 6.9) and not within_tolerance(math.inf, 0.0)


def test_export_writes_model_and_record(tmp_path) -> None:
    options = SolverOptions(time_limit_s=5.0, seed=4, workers=1, export_dir=str(tmp_path / "out"))
    for _ in range(2):
        model, _ = small()
        res = solve_model(model, options, name="small", hint_objective=9, instance={"need": 7})
    assert res.export_stem is not None and res.export_stem.endswith("small-1")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "small-0.json", "small-0.pb", "small-1.json", "small-1.pb"]
    proto = cp_model_pb2.CpModelProto()
    proto.ParseFromString((tmp_path / "out" / "small-1.pb").read_bytes())
    assert [v.name for v in proto.variables] == ["x", "y"] and proto.HasField("objective")
    record = json.loads((tmp_path / "out" / "small-1.json").read_text())
    assert record["instance"] == {"need": 7} and record["status"] == "OPTIMAL"
    assert record["objective"] == 7 and record["bound"] == 7 and record["hint_objective"] == 9
    assert record["parameters"]["seed"] == 4 and record["parameters"]["workers"] == 1
    assert record["model_file"] == "small-1.pb"


def test_deterministic_with_one_worker() -> None:
    def run() -> tuple[Status, float, list[int]]:
        model = cp_model.CpModel()
        rng = random.Random(5)
        pick = [model.new_bool_var(f"pick_{i}") for i in range(30)]
        model.add(sum(rng.randrange(1, 50) * p for p in pick) <= 200)
        model.minimize(sum(-rng.randrange(1, 60) * p for p in pick))
        res = solve_model(model, SolverOptions(time_limit_s=5.0, seed=3, workers=1, deterministic=True), name="knapsack")
        return res.status, res.objective, [res.value(p) for p in pick]

    assert run() == run()


def test_a_stage_exports_its_model_and_instance(tmp_path) -> None:
    layers = (rp.Layer("a", 2, 10, 3.0, 1.0), rp.Layer("b", 1, 20, 2.0))
    problem = rp.ReplicationProblem(layers, ((0, 1),), 8, "latency")
    options = SolverOptions(time_limit_s=5.0, seed=0, workers=1, export_dir=str(tmp_path))
    _, stats = solve_exact(problem, options)
    record = json.loads((tmp_path / "replication-latency-0.json").read_text())
    assert record["instance"]["budget_crossbars"] == 8
    assert [layer["name"] for layer in record["instance"]["layers"]] == ["a", "b"]
    assert record["status"] == stats.status.value == "OPTIMAL"
    assert (tmp_path / "replication-latency-0.pb").stat().st_size > 0
