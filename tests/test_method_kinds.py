"""Labels: a method is "exact" only if it proves optimality given time; the stats name the
method's kind and, when a fallback produced the solution, that fallback; the summary and the
program's record say both."""
from __future__ import annotations

import json
import subprocess
import sys

from cimopt.solver.interface import KINDS
from cimopt.solver.placement import problem as pl
from cimopt.solver.placement.stage import PlacementInstance, PlacementStage
from cimopt.solver.registry import stage, STAGES
from cimopt.solver.stats import SolverOptions

FAST = SolverOptions(time_limit_s=0.5, seed=0, workers=1, deterministic=True)


def test_only_proving_methods_are_exact() -> None:
    kinds = {(st.name, m.name): m.kind for st in STAGES for m in st.methods}
    assert set(kinds.values()) <= set(KINDS)
    # LNS, Hungarian re-assignment and local search prove nothing about the whole instance
    assert kinds["placement", "lns"] == "LNS"
    assert kinds["placement", "hungarian"] == "local search"
    assert kinds["placement", "exact"] == "exact/LNS"          # LNS first, CP-SAT only on small meshes
    assert all(kinds["placement", f"{h}+ls"] == "local search" for h in ("inorder", "snake", "greedy", "pack"))
    assert kinds["memory", "cpsat"] == kinds["scheduling", "cpsat"] == "exact/LNS"
    assert kinds["replication", "segment-dp"] == "heuristic"   # optimal over one topological order only
    exact = sorted(k for k, v in kinds.items() if v == "exact")
    assert exact == [("granularity", "cpsat"), ("placement", "cpsat"), ("replication", "cpsat"),
                     ("replication", "segment-cpsat")]


def test_methods_command_prints_kinds() -> None:
    out = subprocess.run([sys.executable, "-m", "cimopt.cli.main", "methods", "--json"], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    placement = next(s for s in json.loads(out.stdout) if s["stage"] == "placement")
    got = {m["name"]: (m["kind"], m["exact"]) for m in placement["methods"]}
    assert got["lns"] == ("LNS", False) and got["hungarian"] == ("local search", False)
    assert got["cpsat"] == ("exact", True)
    text = subprocess.run([sys.executable, "-m", "cimopt.cli.main", "methods"], capture_output=True, text=True,
                          timeout=120).stdout
    assert "lns                LNS" in text and "hungarian          local search" in text


def _greedy_cannot_pack() -> PlacementInstance:
    # 2 cores of 4 crossbars: the communication greedy strands the 3-crossbar group, best fit packs
    p = pl.PlacementProblem((2, 1, 3, 2), ((0, 3, 47.0), (1, 2, 9.0), (1, 3, 59.0), (2, 3, 51.0)), 1, 2, 4)
    return PlacementInstance((p,), (tuple((f"g{i}", 0, 0, g) for i, g in enumerate(p.groups)),))


def test_fallback_that_produced_the_solution_is_named() -> None:
    st = stage("placement")
    _, s = st.run(_greedy_cannot_pack(), "greedy", FAST)
    assert s.method == "greedy" and s.kind == "heuristic"
    assert s.produced_by == "pack+ls"                 # the first fallback that packs
    assert [a.what for a in s.attempts] == ["segment 0: greedy"]
    _, own = st.run(_greedy_cannot_pack(), "pack+ls", FAST)
    assert own.produced_by == "" and own.kind == "local search"


def test_summary_and_program_record_name_kind_and_fallback() -> None:
    from dataclasses import replace

    from cimopt.program_build import solver_record
    from cimopt.options import CompileOptions
    from cimopt.report.summary import stats_line

    _, s = PlacementStage().run(_greedy_cannot_pack(), "greedy", FAST)
    line = stats_line(s)
    assert line.split()[1:3] == ["greedy*", "heuristic"]
    record = solver_record({"placement": s}, CompileOptions())["placement"]
    assert record.startswith("greedy (heuristic, ") and "solution from pack+ls (fallback)" in record
    assert "fallback: segment 0: greedy" in record
    assert stats_line(replace(s, produced_by="")).split()[1] == "greedy"


def test_compare_rows_print_the_largest_bound_unclamped() -> None:
    from types import SimpleNamespace

    from cimopt.report.summary import compare_rows
    from cimopt.solver.stats import SolveStats, Status

    heur = SolveStats("memory", "greedy", Status.FEASIBLE, 120.0, 90.0, 0.1, "max-live", kind="heuristic")
    exact = SolveStats("memory", "cpsat", Status.FEASIBLE, 100.0, 95.0, 0.1, "max-live", kind="exact/LNS")
    prog = SimpleNamespace(metrics=(("inferences_per_s", 1.0), ("energy_pj", 1.0), ("memory_peak_bytes", 1.0),
                                    ("compile_s", 1.0)), makespan_ns=1, initiation_interval_ns=1, extra=())
    h = SimpleNamespace(stats={"memory": heur}, compare={"memory": {"cpsat": exact}}, program=prog)
    rows, _ = compare_rows(h, h)  # type: ignore[arg-type]
    assert rows[0]["bound"] == 95.0 and rows[0]["bound_method"] == "cpsat" and rows[0]["exact"] == 100.0
    # a bound above an objective is printed as it is (a bug to see), never clamped to the objective
    wrong = SolveStats("memory", "cpsat", Status.FEASIBLE, 100.0, 110.0, 0.1, "max-live", kind="exact/LNS")
    h.compare = {"memory": {"cpsat": wrong}}
    assert compare_rows(h, h)[0][0]["bound"] == 110.0  # type: ignore[arg-type]
