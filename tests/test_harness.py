"""The solver harness: `solve -o` writes a solution, `check` verifies any solution against its
instance (objective recomputed, violations named, malformed input refused), instance schemas define
their objective, and the standard-format exports parse back with the objective preserved."""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as hs

import models
from cimopt.cli.main import main
from cimopt.compiler import compile_model
from cimopt.cost.adc_error import AdcOption
from cimopt.ir.workload import Matrix
from cimopt.options import CompileOptions
from cimopt.solver.accuracy import knapsack as ab
from cimopt.solver.harness import exports, instances, solutions
from cimopt.solver.memory import heuristic as mem
from cimopt.solver.memory.problem import MemoryInstance
from cimopt.solver.placement import problem as pl
from cimopt.solver.placement.generator import layered_chain
from cimopt.solver.placement.problem import PlacementInstance
from cimopt.solver.registry import stage, STAGES
from cimopt.solver.replication.generator import random_layers
from cimopt.solver.replication.problem import ReplicationInstance
from cimopt.solver.scheduling import problem as sch
from cimopt.solver.scheduling.problem import SchedulingInstance
from cimopt.solver.tiling.problem import TilingProblem
from cimopt.targets.load import load_target

#: small generated instances: (stage, size, mode)
GENERATED = [("scheduling", 14, "latency"), ("scheduling", 14, "throughput"), ("placement", 8, "latency"),
             ("memory", 10, "latency"), ("replication", 6, "latency"), ("replication", 6, "throughput")]


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def _solve(capsys: pytest.CaptureFixture[str], inst: Path, method: str, sol: Path) -> dict[str, Any]:
    code, out, err = _cli(capsys, "solve", str(inst), "--method", method, "--time-limit", "1", "--workers", "1",
                          "--json", "-o", str(sol))
    assert code == 0, err
    return dict(json.loads(out))


def _check(capsys: pytest.CaptureFixture[str], inst: Path, sol: Path) -> tuple[int, dict[str, Any]]:
    code, out, err = _cli(capsys, "check", str(inst), str(sol), "--json")
    return code, dict(json.loads(out)) if out else {}


def _generated(tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, size: int, mode: str,
               seed: int = 0) -> Path:
    path = tmp_path / f"{name}-{mode}-{size}-{seed}.json"
    assert _cli(capsys, "instances", "--stage", name, "--size", str(size), "--seed", str(seed), "--mode", mode,
                "-o", str(path))[0] == 0
    return path


@pytest.mark.parametrize("name,size,mode", GENERATED)
def test_round_trip_every_method_on_generated_instances(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                        name: str, size: int, mode: str) -> None:
    inst = _generated(tmp_path, capsys, name, size, mode)
    for m in stage(name).methods:
        sol = tmp_path / f"{m.name}.sol.json"
        solved = _solve(capsys, inst, m.name, sol)
        code, checked = _check(capsys, inst, sol)
        assert code == 0 and checked["feasible"], (m.name, checked)
        assert checked["objective"] == pytest.approx(solved["objective"], rel=1e-9), (name, mode, m.name)
        assert checked["claimed_objective"] == solved["objective"]
        jsonschema.validate(json.loads(sol.read_text()), solutions.stage_schema(name))


def test_round_trip_segmented_replication(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A model that does not fit is segmented by every method: segments reprogrammed, same objective."""
    p = random_layers(8, 3, budget_per_layer=0.4, mode="latency")
    inst = tmp_path / "segmented.json"
    problem = ReplicationInstance(p, tuple(x.name for x in p.layers))
    assert not problem.fits
    instances.save(stage("replication"), problem, inst)
    for m in ("balance", "segment-greedy", "segment-dp-balance", "segment-dp"):
        sol = tmp_path / f"{m}.sol.json"
        solved = _solve(capsys, inst, m, sol)
        doc = json.loads(sol.read_text())
        assert doc["solution"]["reprogrammed"] and len(doc["solution"]["segments"]) > 1
        code, checked = _check(capsys, inst, sol)
        assert code == 0 and checked["objective"] == pytest.approx(solved["objective"], rel=1e-9), m


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("instances")
    compile_model(models.small_cnn(), load_target("pimcomp"), CompileOptions(export_instances=str(folder), workers=1, deterministic=True))
    return folder


def test_round_trip_on_a_compiles_exported_instances(exported: Path, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    for name in ("tiling", "replication", "placement", "scheduling", "memory"):
        st = stage(name)
        for method in dict.fromkeys((st.heuristic, st.exact)):
            sol = tmp_path / f"{name}.{method}.json"
            solved = _solve(capsys, exported / f"{name}.json", method, sol)
            code, checked = _check(capsys, exported / f"{name}.json", sol)
            assert code == 0 and checked["objective"] == pytest.approx(solved["objective"], rel=1e-9), name


def _accuracy_problem() -> ab.AccuracyProblem:
    opts = tuple(tuple(AdcOption(r, 100.0 * (5 - k) + i, 10.0 * r, 1e-4 * r * (i + 1)) for k, r in
                       enumerate((64, 32, 16, 8, 4))) for i in range(3))
    return ab.AccuracyProblem(("a", "b", "c"), opts, 2.5e-3, "latency", floor=1e-4)


def test_round_trip_accuracy(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    inst = tmp_path / "accuracy.json"
    instances.save(stage("accuracy"), _accuracy_problem(), inst)
    for m in ("greedy", "dp"):
        sol = tmp_path / f"{m}.json"
        solved = _solve(capsys, inst, m, sol)
        code, checked = _check(capsys, inst, sol)
        assert code == 0 and checked["objective"] == pytest.approx(solved["objective"], rel=1e-9)
    doc = json.loads(sol.read_text())
    doc["solution"]["rows_per_conversion"] = {"a": 64, "b": 64, "c": 64}
    sol.write_text(json.dumps(doc))
    code, checked = _check(capsys, inst, sol)
    assert code == 1 and "exceeds the budget" in checked["violations"][0]


def _edit(sol: Path, change: Any) -> None:
    doc = json.loads(sol.read_text())
    change(doc["solution"])
    sol.write_text(json.dumps(doc))


def _solved(tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, size: int, method: str,
            mode: str = "latency") -> tuple[Path, Path, Any]:
    inst = _generated(tmp_path, capsys, name, size, mode)
    sol = tmp_path / "sol.json"
    _solve(capsys, inst, method, sol)
    return inst, sol, instances.load(inst, STAGES)[1]


def _violations(capsys: pytest.CaptureFixture[str], inst: Path, sol: Path) -> list[str]:
    code, checked = _check(capsys, inst, sol)
    assert code == 1 and not checked["feasible"]
    text_code, out, _ = _cli(capsys, "check", str(inst), str(sol))
    assert text_code == 1 and "INFEASIBLE" in out
    return list(checked["violations"])


def test_memory_buffers_overlapping_are_rejected(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    inst, sol, problem = _solved(tmp_path, capsys, "memory", 20, "greedy")
    bufs = problem.problem.buffers
    a, b = next((i, j) for i in range(len(bufs)) for j in range(i + 1, len(bufs))
                if bufs[i].start_ns < bufs[j].end_ns and bufs[j].start_ns < bufs[i].end_ns)
    _edit(sol, lambda s: s["offset_bytes"].__setitem__(b, s["offset_bytes"][a]))
    v = _violations(capsys, inst, sol)
    assert any(f"buffers {bufs[min(a, b)].name} " in x and "overlap" in x for x in v), v


def test_memory_over_capacity_and_misaligned_are_rejected(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    inst, sol, _ = _solved(tmp_path, capsys, "memory", 5, "greedy")
    _edit(sol, lambda s: s["offset_bytes"].__setitem__(0, (1 << 40) + 64))
    assert any("exceeds capacity" in x for x in _violations(capsys, inst, sol))
    _edit(sol, lambda s: s["offset_bytes"].__setitem__(0, 3))
    assert any("is not a non-negative multiple of 64" in x for x in _violations(capsys, inst, sol))


def test_scheduling_task_before_its_predecessor_ends_is_rejected(tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    inst, sol, problem = _solved(tmp_path, capsys, "scheduling", 14, "list")
    p, s, _ = problem.problem.edges[0]
    _edit(sol, lambda x: x["start_ns"].__setitem__(s, x["start_ns"][p]))
    v = _violations(capsys, inst, sol)
    names = problem.problem.tasks
    assert any(x.startswith(f"precedence {names[p].name} -> {names[s].name}") for x in v), v


def test_scheduling_resource_overlap_and_modulo_overlap_are_rejected(tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    inst, sol, problem = _solved(tmp_path, capsys, "scheduling", 14, "list")
    _edit(sol, lambda x: x.__setitem__("start_ns", [0] * len(x["start_ns"])))
    assert any(x.startswith("resource ") and "overlaps" in x for x in _violations(capsys, inst, sol))
    inst, sol, problem = _solved(tmp_path, capsys, "scheduling", 14, "list", mode="throughput")
    _edit(sol, lambda x: x.__setitem__("initiation_interval_ns", x["initiation_interval_ns"] - 1))
    assert any("modulo" in x or "> II" in x for x in _violations(capsys, inst, sol))


def test_placement_core_over_capacity_is_rejected(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # 20 generated groups hold about 170 crossbars: more than one 64-crossbar core
    inst, sol, _ = _solved(tmp_path, capsys, "placement", 20, "greedy")
    _edit(sol, lambda s: s.__setitem__("cores", [[0] * len(s["cores"][0])]))
    assert any("core 0 holds" in x and "capacity 64" in x for x in _violations(capsys, inst, sol))
    _edit(sol, lambda s: s["cores"][0].__setitem__(0, 999))
    v = _violations(capsys, inst, sol)
    assert any("on core 999" in x for x in v)
    assert _check(capsys, inst, sol)[1]["objective"] is None   # byte-hops of a group off the mesh: undefined


def test_replication_over_budget_and_order_are_rejected(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    inst, sol, problem = _solved(tmp_path, capsys, "replication", 6, "balance")
    _edit(sol, lambda s: s.__setitem__("copies", [layer.copy_cap for layer in problem.problem.layers]))
    assert any("the budget is" in x for x in _violations(capsys, inst, sol))
    _edit(sol, lambda s: (s.__setitem__("copies", [1] * 6), s.__setitem__("segments", [[5, 4, 3, 2, 1, 0]])))
    assert any(x.startswith("precedence") for x in _violations(capsys, inst, sol))
    _edit(sol, lambda s: (s.__setitem__("segments", [[0, 1, 2], [3, 4, 5]])))
    assert any("without reprogramming" in x for x in _violations(capsys, inst, sol))


def test_tiling_gaps_and_oversized_tiles_are_rejected(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    problem = TilingProblem((("fc", Matrix(1, 300, 100, 4)), ("dw", Matrix(16, 9, 1, 4))), 128, 128, 2)
    inst = tmp_path / "tiling.json"
    instances.save(stage("tiling"), problem, inst)
    sol = tmp_path / "sol.json"
    assert _solve(capsys, inst, "block", sol)["objective"] == _check(capsys, inst, sol)[1]["objective"]
    _edit(sol, lambda s: s["tiles"]["fc"].pop())
    assert any("weights are in no tile (first: groups 0:1, rows 256:300" in x for x in _violations(capsys, inst, sol))
    _edit(sol, lambda s: s["tiles"]["fc"].append({"group0": 0, "ngroups": 1, "row0": 0, "row1": 300,
                                                  "col0": 0, "col1": 100}))
    v = _violations(capsys, inst, sol)
    assert any("a crossbar has 128 x 128" in x for x in v) and any("hold the same weights" in x for x in v)


@pytest.mark.parametrize("text,message", [
    ("not json", "not a readable JSON solution"),
    ('{"format": "cimopt.instance/1"}', "not a cimopt solution"),
    ('{"format": "cimopt.solution/1", "stage": "memory", "solution": {"space": ["global"], "offset_bytes": ["0"]}}',
     "does not match the solution schema"),
    ('{"format": "cimopt.solution/1", "stage": "memory", "solution": {"space": ["global"], "offset_bytes": [0]}}',
     "1 entries for the instance's 10 buffers"),
    ('{"format": "cimopt.solution/1", "stage": "placement", "solution": {"cores": [[0]]}}',
     "the solution is for stage placement"),
    ('{"format": "cimopt.solution/1", "stage": "memory", "instance_sha256": "' + "0" * 64 + '", '
     '"solution": {"space": [], "offset_bytes": []}}', "written for another instance"),
])
def test_malformed_solutions_exit_2_with_a_typed_error(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                       text: str, message: str) -> None:
    inst = _generated(tmp_path, capsys, "memory", 10, "latency")
    sol = tmp_path / "bad.json"
    sol.write_text(text)
    code, out, err = _cli(capsys, "check", str(inst), str(sol))
    assert code == 2 and out == "" and err.startswith("cimopt: error:") and message in err, err
    assert _cli(capsys, "check", str(inst), str(tmp_path / "missing.json"))[0] == 2


def test_schemas_define_the_objective(capsys: pytest.CaptureFixture[str]) -> None:
    for st in STAGES:
        s = instances.schema(st)
        assert s["description"].startswith("Objective (") and "inimise" in s["description"], st.name
        code, out, _ = _cli(capsys, "check", "--schema", st.name)
        sol_schema = json.loads(out)
        jsonschema.Draft7Validator.check_schema(sol_schema)
        assert code == 0 and sol_schema["description"] == s["description"]
    jsonschema.Draft7Validator.check_schema(solutions.schema())


# --- exports: small readers of each format ----------------------------------------------------

def _read_psplib(text: str) -> tuple[int, list[dict[int, int]], list[int], list[list[int]], list[int]]:
    """(n, lags per activity, durations, requests, capacities) of an RCPSP/max .sch file."""
    lines = [x.split() for x in text.strip().splitlines()]
    n, k = int(lines[0][0]), int(lines[0][1])
    assert lines[0][2:] == ["0", "0"]
    lags: list[dict[int, int]] = []
    for j, row in enumerate(lines[1:n + 3]):
        assert int(row[0]) == j and row[1] == "1"
        m = int(row[2])
        succ = [int(x) for x in row[3:3 + m]]
        lag = [int(re.fullmatch(r"\[(-?\d+)\]", x).group(1)) for x in row[3 + m:]]  # type: ignore[union-attr]
        assert len(lag) == m
        lags.append(dict(zip(succ, lag)))
    dur, req = [], []
    for j, row in enumerate(lines[n + 3:2 * n + 5]):
        assert int(row[0]) == j and len(row) == 3 + k
        dur.append(int(row[2]))
        req.append([int(x) for x in row[3:]])
    caps = [int(x) for x in lines[2 * n + 5]]
    assert len(lines) == 2 * n + 6 and len(caps) == k
    return n, lags, dur, req, caps


def test_psplib_export_parses_back_and_keeps_the_makespan(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    inst, sol, problem = _solved(tmp_path, capsys, "scheduling", 40, "cpsat")
    out = tmp_path / "x.sch"
    assert _cli(capsys, "export-instance", str(inst), "--format", "psplib", "-o", str(out))[0] == 0
    n, lags, dur, req, caps = _read_psplib(out.read_text())
    p = problem.problem
    assert n == len(p.tasks) and dur[1:n + 1] == [t.duration_ns for t in p.tasks] and dur[0] == dur[n + 1] == 0
    start = json.loads(sol.read_text())["solution"]["start_ns"]
    s = [0] + start + [0]
    s[n + 1] = max(s[i] + lag for i in range(n + 1) for j, lag in lags[i].items() if j == n + 1)
    for i, succ in enumerate(lags):        # every generalised precedence holds for our schedule
        assert all(s[j] >= s[i] + lag for j, lag in succ.items())
    for r, cap in enumerate(caps):        # and every renewable resource's capacity at every start
        for t in {s[i] for i in range(n + 2)}:
            assert sum(req[i][r] for i in range(n + 2) if s[i] <= t < s[i] + dur[i]) <= cap
    assert s[n + 1] == _check(capsys, inst, sol)[1]["objective"]
    thr = _generated(tmp_path, capsys, "scheduling", 10, "throughput")
    code, _, err = _cli(capsys, "export-instance", str(thr), "--format", "psplib")
    assert code == 2 and "throughput-mode" in err


def _read_qaplib(text: str) -> tuple[np.ndarray, np.ndarray]:
    nums = text.split()
    n = int(nums[0])
    assert len(nums) == 1 + 2 * n * n
    vals = np.array([float(x) for x in nums[1:]])
    return vals[:n * n].reshape(n, n), vals[n * n:].reshape(n, n)


def test_qaplib_export_objective_equals_byte_hops(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    inst, sol, problem = _solved(tmp_path, capsys, "placement", 10, "greedy+ls")
    out = tmp_path / "x.dat"
    assert _cli(capsys, "export-instance", str(inst), "--format", "qaplib", "-o", str(out))[0] == 0
    flow, dist = _read_qaplib(out.read_text())
    p: pl.PlacementProblem = problem.problems[0]
    assert (dist == dist.T).all() and not dist.diagonal().any()
    cores = json.loads(sol.read_text())["solution"]["cores"][0]
    perm = np.array(exports.qap_assignment(p, cores))
    assert sorted(perm) == list(range(len(perm)))
    qap = float((flow * dist[np.ix_(perm, perm)]).sum())
    assert qap == pl.cost(p, pl.Placement(tuple(cores))) == _check(capsys, inst, sol)[1]["objective"]
    # a permutation that splits a group costs more than any placement's byte-hops
    g = next(g for g, s in enumerate(p.groups) if s > 1)
    lead = exports.qap_leads(p)[g]
    far = next(x for x in range(len(perm)) if dist[perm[lead], perm[x]] > 0)
    split = perm.copy()
    split[lead + 1], split[far] = perm[far], perm[lead + 1]
    assert float((flow * dist[np.ix_(split, split)]).sum()) > sum(w for *_, w in p.traffic) * (
        p.mesh_rows + p.mesh_cols - 2)


def _read_dzn(text: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for line in text.splitlines():
        if line.startswith("%") or not line.strip():
            continue
        key, value = line.rstrip(";").split(" = ", 1)
        out[key] = json.loads(value)
    return out


def test_dzn_export_parses_back_and_keeps_the_peak(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                   exported: Path) -> None:
    for inst, method in ((_generated(tmp_path, capsys, "memory", 25, "latency"), "cpsat"),
                         (exported / "memory.json", "greedy")):
        sol = tmp_path / "sol.json"
        _solve(capsys, inst, method, sol)
        out = tmp_path / "x.dzn"
        assert _cli(capsys, "export-instance", str(inst), "--format", "dzn", "-o", str(out))[0] == 0
        d = _read_dzn(out.read_text())
        p = instances.load(inst, STAGES)[1].problem
        assert d["n_buffers"] == len(d["size_units"]) == len(d["home"]) == len(p.buffers)
        assert d["n_spaces"] == len(d["space_name"]) == len(d["capacity_units"]) == len(d["spill_to"])
        body = json.loads(sol.read_text())["solution"]
        align = d["alignment"]
        space = [d["space_name"].index(s) + 1 for s in body["space"]]
        for i in range(len(space)):        # each buffer sits on its home space's spill chain
            chain, at = [], d["home"][i]
            while at:
                chain.append(at)
                at = d["spill_to"][at - 1]
            assert space[i] in chain
        peak = [max([body["offset_bytes"][i] // align + d["size_units"][i] for i in range(len(space))
                     if space[i] == s + 1 and d["size_units"][i] and d["end_ns"][i] > d["start_ns"][i]], default=0)
                for s in range(d["n_spaces"])]
        assert all(x <= c for x, c in zip(peak, d["capacity_units"]))
        assert align * sum(peak) == _check(capsys, inst, sol)[1]["objective"]


def test_export_refuses_the_wrong_stage(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    inst = _generated(tmp_path, capsys, "memory", 5, "latency")
    code, _, err = _cli(capsys, "export-instance", str(inst), "--format", "qaplib")
    assert code == 2 and "placement instances" in err and "its formats: dzn" in err


# --- check against brute force on tiny instances ------------------------------------------------

@settings(max_examples=150, deadline=None)
@given(hs.data())
def test_memory_check_agrees_with_an_address_time_grid(data: hs.DataObject) -> None:
    n = data.draw(hs.integers(1, 5))
    bufs = []
    for i in range(n):
        start = data.draw(hs.integers(0, 5))
        bufs.append(mem.Buffer(f"b{i}", data.draw(hs.integers(0, 3)), start, start + data.draw(hs.integers(0, 3)),
                               "global"))
    problem = mem.MemoryProblem(tuple(bufs), {"global": 5, "dram": 100}, {"global": "dram", "dram": None}, 1)
    space = [data.draw(hs.sampled_from(("global", "dram"))) for _ in bufs]
    offset = [data.draw(hs.integers(0, 5)) for _ in bufs]
    verdict = solutions.check(stage("memory"), MemoryInstance(problem, 1),
                              {"stage": "memory", "solution": {"space": space, "offset_bytes": offset}})
    # the spill rule is part of the instance: every buffer where `assign_spaces` plans it
    planned = [b.space for b in mem.assign_spaces(problem)[0].buffers]
    feasible, total = space == planned, 0
    for s, cap in (("global", 5), ("dram", 100)):
        mine = [i for i in range(n) if space[i] == s and bufs[i].size_bytes and bufs[i].end_ns > bufs[i].start_ns]
        top = max((offset[i] + bufs[i].size_bytes for i in mine), default=0)
        total += top
        feasible &= top <= cap
        for t in range(10):
            for a in range(12):
                feasible &= sum(1 for i in mine if bufs[i].start_ns <= t < bufs[i].end_ns
                                and offset[i] <= a < offset[i] + bufs[i].size_bytes) <= 1
    assert verdict.feasible == feasible and verdict.objective == total, verdict


@settings(max_examples=150, deadline=None)
@given(hs.data())
def test_scheduling_check_agrees_with_a_time_grid(data: hs.DataObject) -> None:
    n = data.draw(hs.integers(1, 5))
    tasks = tuple(sch.Task(f"t{i}", data.draw(hs.integers(0, 3)), data.draw(hs.integers(-1, 1)),
                           data.draw(hs.integers(0, 2))) for i in range(n))
    edges = tuple((i, j, data.draw(hs.integers(0, 2))) for i in range(n) for j in range(i + 1, n)
                  if data.draw(hs.booleans()))
    problem = sch.SchedulingProblem(tasks, edges, ("r0", "r1"))
    start = [data.draw(hs.integers(0, 8)) for _ in tasks]
    verdict = solutions.check(stage("scheduling"), SchedulingInstance(problem, "latency"),
                              {"stage": "scheduling", "solution": {"start_ns": start}})
    end = [s + t.duration_ns for s, t in zip(start, tasks)]
    feasible = all(s >= t.release_ns for s, t in zip(start, tasks)) and all(
        start[j] >= end[i] + d for i, j, d in edges) and all(
        sum(1 for i, t in enumerate(tasks) if t.resource == r and start[i] <= x < end[i]) <= 1
        for r in (0, 1) for x in range(12))
    assert verdict.feasible == feasible and verdict.objective == max(end), verdict


def test_two_segment_placement_checks_and_exports_per_segment(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    a, b = layered_chain(9, 3, 3, 16, 1), layered_chain(7, 3, 3, 16, 2)
    problem = PlacementInstance((a, b), tuple(tuple((n, 0, 0, g) for n, g in zip(p.names, p.groups)) for p in (a, b)))
    inst = tmp_path / "two.json"
    instances.save(stage("placement"), problem, inst)
    sol = tmp_path / "two.sol.json"
    solved = _solve(capsys, inst, "pack+ls", sol)
    code, checked = _check(capsys, inst, sol)
    cores = json.loads(sol.read_text())["solution"]["cores"]
    assert code == 0 and checked["objective"] == solved["objective"] == sum(
        pl.cost(p, pl.Placement(tuple(c))) for p, c in zip((a, b), cores))
    code, _, err = _cli(capsys, "export-instance", str(inst), "--format", "qaplib")
    assert code == 2 and "--segment 0..1" in err
    out = tmp_path / "seg1.dat"
    assert _cli(capsys, "export-instance", str(inst), "--format", "qaplib", "--segment", "1", "-o", str(out))[0] == 0
    flow, dist = _read_qaplib(out.read_text())
    perm = np.array(exports.qap_assignment(b, cores[1]))
    assert float((flow * dist[np.ix_(perm, perm)]).sum()) == pl.cost(b, pl.Placement(tuple(cores[1])))
