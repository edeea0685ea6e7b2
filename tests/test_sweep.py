"""`cimopt sweep`: spec validation, a local pool and a real Dask cluster giving the same table,
error and timeout rows, and resuming a killed sweep."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import onnx
import pandas as pd
import pytest

import models
from cimopt.cli.main import main
from cimopt.sweep.errors import SpecError
from cimopt.sweep.grid import expand, load_spec
from cimopt.sweep.results import JOURNAL, read_journal
from cimopt.sweep.runner import run_sweep
from cimopt.sweep.task import is_timing_column

GRID = """
models = ["light:squeezenet", "light:shufflenet"]
targets = ["isaac", "pimcomp"]
solvers = ["heuristic", "exact"]
time_limit_s = 1
workers = 1
"""


def _spec(tmp: Path, text: str, name: str = "spec.toml") -> Path:
    """The spec file, beside a small CNN ``cnn.onnx`` that specs can name by a relative path."""
    onnx.save(models.small_cnn(), tmp / "cnn.onnx")
    p = tmp / name
    p.write_text(text)
    return p


@pytest.mark.parametrize("text, needle", [
    ("targets = ['isaac']", "models: required"),
    ("models = ['a.onnx']\ntargets = ['isaac']\nmodez = ['latency']", "unknown key 'modez'"),
    ("models = ['a.onnx']\ntargets = ['isaac']\nmodes = ['fast']", "modes: 'fast' is not one of"),
    ("models = ['a.onnx']\ntargets = ['isaac']\nmethods = ['lns']", "methods[0]: expected a table"),
    ("models = ['a.onnx']\ntargets = ['isaac']\nmethods = [{placement = 3}]", "methods[0].placement"),
    ("models = ['a.onnx']\ntargets = ['isaac']\nseeds = [-1]", "seeds: expected integers >= 0"),
    ("models = ['a.onnx']\ntargets = ['isaac']\ntime_limit_s = 0", "time_limit_s"),
    ("models = ['a.onnx']\ntargets = ['isaac']\nworkers = 'all'", "workers"),
    ("models = ['a.onnx']\ntargets = ['isaac']\nrun = 'yes'", "run: expected true or false"),
    ("models = ['a.onnx', 'a.onnx']\ntargets = ['isaac']", "same combination twice"),
    ("models = [", "not valid TOML"),
    # names that do not exist are refused before any task runs, each named
    ("models = ['nowhere.onnx']\ntargets = ['isaac']", "models: 'nowhere.onnx': no such model file"),
    ("models = ['light:squeezenett']\ntargets = ['isaac']", "'light:squeezenett': no such light graph"),
    ("models = ['light:squeezenett']\ntargets = ['isaac']", "light:squeezenet,"),   # the choices are listed
    ("models = ['cnn.onnx']\ntargets = ['isacc']", "targets: 'isacc'"),
    ("models = ['cnn.onnx']\ntargets = ['isaac', 'my.toml']", "targets: 'my.toml'"),
    ("models = ['cnn.onnx']\ntargets = ['isaac']\nmethods = [{placment = 'lns'}]", "no stage 'placment'"),
    ("models = ['cnn.onnx']\ntargets = ['isaac']\nmethods = [{}, {placement = 'lnss'}]", "no method 'lnss'"),
])
def test_bad_spec_names_the_key(tmp_path: Path, text: str, needle: str) -> None:
    with pytest.raises(SpecError, match=None) as e:
        load_spec(_spec(tmp_path, text))
    assert needle in str(e.value)


def test_bad_spec_on_the_command_line_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sweep", str(tmp_path / "none.toml"), "-o", str(tmp_path / "R")]) == 2
    assert "no such sweep spec" in capsys.readouterr().err


def test_grid_expands_with_stable_keys(tmp_path: Path) -> None:
    raw = {"models": ["light:squeezenet", "nets/a.onnx"], "targets": ["isaac"], "solvers": ["heuristic", "exact"],
           "methods": [{"placement": "lns"}, {}], "seeds": [0, 1], "time_limit_s": [1, 5]}
    tasks = expand(raw, tmp_path)
    assert len(tasks) == 2 * 2 * 2 * 2 * 2
    assert tasks[0].methods == (("placement", "lns"),) and tasks[0].methods_text() == "placement=lns"
    assert tasks[-1].model_path == str(tmp_path / "nets" / "a.onnx")
    assert tasks[0].model_path.endswith(os.path.join("light", "light_squeezenet.onnx"))
    again = expand(raw, tmp_path / "elsewhere")   # a key does not depend on where the spec lives
    assert [t.key for t in tasks] == [t.key for t in again]
    assert len({t.key for t in tasks}) == len(tasks)


def test_deterministic_key_defaults_to_one_worker_and_keeps_keys(tmp_path: Path) -> None:
    one = expand({"models": ["light:squeezenet"], "targets": ["isaac"]}, tmp_path)[0]
    assert one.deterministic is True
    wall = expand({"models": ["light:squeezenet"], "targets": ["isaac"], "deterministic": False}, tmp_path)[0]
    assert wall.deterministic is False and wall.key != one.key
    eight = expand({"models": ["light:squeezenet"], "targets": ["isaac"], "workers": 8}, tmp_path)[0]
    assert eight.deterministic is False and "deterministic" not in eight.key


def _comparable(a: pd.DataFrame, b: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Both tables without their timing columns, rows in key order.  With ``workers = 1`` every
    solve is deterministic (the spec's ``deterministic`` defaults to true then:
    `SolverOptions.deterministic`, deterministic-time limits, counted work), so everything else
    must agree."""
    out = []
    for x in (a, b):
        x = x.set_index("key").sort_index()
        x = x.drop(columns=[c for c in x.columns if is_timing_column(c)]).astype(object)
        out.append(x.where(x.notna(), None))
    return out[0], out[1]


def _dask_equals_local(tmp_path: Path, text: str, tasks: int) -> pd.DataFrame:
    """Run the spec on a local pool and on a real 2-worker Dask cluster; the tables must agree."""
    import distributed

    spec = load_spec(_spec(tmp_path, text))
    local = run_sweep(spec, tmp_path / "local", jobs=2)
    assert (local.tasks, local.ran, local.errors) == (tasks, tasks, 0)
    with distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1, host="127.0.0.1",
                                  dashboard_address=None) as cluster:
        assert main(["sweep", spec.path, "-o", str(tmp_path / "dask"), "--scheduler", cluster.scheduler_address]) == 0
    a = pd.read_parquet(tmp_path / "local" / "results.parquet")
    b = pd.read_parquet(tmp_path / "dask" / "results.parquet")
    assert len(pd.read_csv(tmp_path / "dask" / "results.csv")) == tasks
    assert len(a) == len(b) == tasks and set(a["status"]) == set(b["status"]) == {"ok"}
    assert list(a["key"]) == list(b["key"]) == [t.key for t in spec.tasks]
    pd.testing.assert_frame_equal(*_comparable(a, b), check_dtype=False)
    assert (a["makespan_ns"] > 0).all() and a["model_sha256"].str.len().eq(64).all()
    return a


def test_dask_cluster_and_local_pool_give_the_same_table(tmp_path: Path) -> None:
    a = _dask_equals_local(tmp_path, 'models = ["cnn.onnx"]\ntargets = ["edge", "pimcomp"]\n', 2)
    assert (a["model_path"] == str(tmp_path / "cnn.onnx")).all()


@pytest.mark.slow
def test_dask_grid_heuristic_and_exact(tmp_path: Path) -> None:
    a = _dask_equals_local(tmp_path, GRID, 8)
    assert (a.loc[a["solver"] == "exact", "scheduling.method"] != a.loc[a["solver"] == "heuristic",
                                                                        "scheduling.method"].iloc[0]).all()


def test_short_budget_is_a_timeout_row(tmp_path: Path) -> None:
    spec = load_spec(_spec(tmp_path, """
models = ["light:squeezenet"]
targets = ["pimcomp"]
budget_s = 0.3
"""))
    s = run_sweep(spec, tmp_path / "R", jobs=2)
    assert (s.tasks, s.ran, s.errors) == (1, 1, 1)
    df = pd.read_csv(s.csv)
    by_model = df.set_index("model")
    assert by_model.loc["light:squeezenet", "status"] == "timeout"
    assert "budget of 0.3 s" in by_model.loc["light:squeezenet", "error"]
    assert len(pd.read_parquet(s.parquet)) == 1


def test_missing_model_is_refused_before_any_task(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = _spec(tmp_path, 'models = ["cnn.onnx", "nowhere.onnx"]\ntargets = ["pimcomp"]\n')
    assert main(["sweep", str(spec), "-o", str(tmp_path / "R")]) == 2
    out, err = capsys.readouterr()
    assert out == "" and "nowhere.onnx" in err and "no such model file" in err
    assert not (tmp_path / "R" / "results.csv").exists()          # nothing ran


def test_unreadable_model_is_an_error_row_naming_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "bad.onnx").write_bytes(b"not a model")
    spec = _spec(tmp_path, 'models = ["bad.onnx"]\ntargets = ["pimcomp"]\n')
    assert main(["sweep", str(spec), "-o", str(tmp_path / "R")]) == 0
    out, err = capsys.readouterr()
    assert "1 row(s) with an error" in out
    # stderr is not a terminal here: a line at the start and one per task, naming it
    assert err.splitlines()[0] == "sweep: 1 task(s) to run" and "[1/1, " in err and "bad.onnx" in err
    assert main(["sweep", str(spec), "-o", str(tmp_path / "R2"), "--quiet"]) == 0
    assert capsys.readouterr().err == ""
    row = pd.read_csv(tmp_path / "R" / "results.csv").iloc[0]
    assert row["status"] == "error" and "bad.onnx" in row["error"]
    assert row["target_hash"] and row["v_ortools"] and row["v_onnx"] and row["v_cimopt"]


def test_rerun_finishes_only_the_missing_rows(tmp_path: Path) -> None:
    spec = load_spec(_spec(tmp_path, 'models = ["cnn.onnx"]\ntargets = ["edge", "pimcomp"]\nrun = true\n'))
    out = tmp_path / "R"
    first = run_sweep(spec, out, jobs=2)
    assert first.ran == 2 and first.errors == 0
    lines = (out / JOURNAL).read_text().splitlines()
    kept = json.loads(lines[0])
    # as if killed after the first row, mid-way through writing the second
    (out / JOURNAL).write_text(lines[0] + "\n" + lines[1][: len(lines[1]) // 2])
    second = run_sweep(spec, out)
    assert (second.skipped, second.ran) == (1, 1)
    rows = read_journal(out)
    assert rows[kept["key"]] == kept                       # the finished row is kept, not recomputed
    df = pd.read_csv(second.csv)
    assert list(df["key"]) == [t.key for t in spec.tasks] and df["run_ok"].all()
    assert run_sweep(spec, out).ran == 0


def _stat(pid: int) -> list[str]:
    """Fields of /proc/PID/stat after the command name (state first), [] when it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()
    except OSError:
        return []


def _state(pid: int) -> str:
    fields = _stat(pid)
    return fields[0] if fields else "X"


def _children(pid: int) -> list[int]:
    """Processes whose parent is ``pid`` (Linux /proc)."""
    return [int(d) for d in os.listdir("/proc") if d.isdigit() and (f := _stat(int(d))) and int(f[1]) == pid]


def test_killed_sweep_process_resumes(tmp_path: Path) -> None:
    spec = _spec(tmp_path, 'models = ["cnn.onnx"]\ntargets = ["edge", "pimcomp", "puma"]\n')
    out = tmp_path / "R"
    proc = subprocess.Popen([sys.executable, "-m", "cimopt.cli.main", "sweep", str(spec), "-o", str(out)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    journal = out / JOURNAL
    give_up = time.monotonic() + 600   # a guard against a hung child, not a check of speed
    while proc.poll() is None and not (journal.exists() and journal.read_text().count("\n") >= 1) \
            and time.monotonic() < give_up:
        time.sleep(0.2)
    workers = _children(proc.pid)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    # its pool workers notice and exit (`sweep._exit_with_parent`) instead of waiting for tasks for ever
    while any(os.path.exists(f"/proc/{w}") and _state(w) != "Z" for w in workers) and time.monotonic() < give_up:
        time.sleep(0.2)
    assert not [w for w in workers if os.path.exists(f"/proc/{w}") and _state(w) != "Z"]
    had = len(read_journal(out))
    assert 1 <= had < 3
    s = run_sweep(load_spec(spec), out, jobs=2)
    assert (s.skipped, s.ran, s.errors) == (had, 3 - had, 0)
    assert len(pd.read_csv(s.csv)) == 3


def test_progress_bar_counts_tasks_and_errors(capsys: pytest.CaptureFixture[str]) -> None:
    from cimopt.cli.sweep_cmd import _bar

    show = _bar(True)
    show(0, 3, None)                                  # drawn before the first task ends
    assert "0/3" in capsys.readouterr().err
    for k, status in enumerate(("ok", "error", "ok"), 1):
        show(k, 3, {"status": status})
    err = capsys.readouterr().err
    assert err.endswith("\n")                         # closed after the last task
    assert "3/3" in err and "1 error(s)" in err.rsplit("\r", 1)[-1]


def test_no_progress_bar_when_disabled(capsys: pytest.CaptureFixture[str]) -> None:
    from cimopt.cli.sweep_cmd import _bar

    show = _bar(False)
    show(0, 1, None)
    show(1, 1, {"status": "ok"})
    assert capsys.readouterr().err == ""