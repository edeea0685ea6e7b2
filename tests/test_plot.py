"""`cimopt plot`: every kind renders a non-blank picture; the Gantt chart spans the makespan."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

import light_program
from cimopt import plot, plot_sweep
from cimopt.cli import main
from cimopt.ir import program as prog
from cimopt.targets.load import load_target


def _not_blank(path: Path) -> None:
    img = plt.imread(path)
    assert img.ndim == 3 and img.shape[0] > 100 and img.shape[1] > 100
    assert img[..., :3].std() > 0.02, f"{path} is (nearly) one colour"


def test_gantt_spans_the_makespan(tmp_path: Path) -> None:
    p = light_program.squeezenet()[1].program
    fig = plot.gantt_figure(p)
    ax = fig.axes[0]
    assert ax.get_xlim() == (0.0, p.makespan_ns / 1e3)
    ends = [v[:, 0].max() for c in ax.collections for path in c.get_paths() for v in [path.vertices]]
    starts = [v[:, 0].min() for c in ax.collections for path in c.get_paths() for v in [path.vertices]]
    assert max(ends) == pytest.approx(p.makespan_ns / 1e3) and min(starts) == pytest.approx(0.0)
    assert sum(len(c.get_paths()) for c in ax.collections) == len(p.instructions)
    plot.save(fig, tmp_path / "g.png")
    _not_blank(tmp_path / "g.png")


def test_memory_against_capacity_and_bound(tmp_path: Path) -> None:
    p = light_program.squeezenet()[1].program
    target = load_target(light_program.TARGET)
    fig = plot.memory_figure(p, target)
    top, bottom = fig.axes
    total = top.lines[0].get_ydata()
    bound = top.lines[1].get_ydata()[0]
    assert max(total) <= bound + 1e-9 and max(total) > 0          # never above the max-live bound
    assert bound == p.metric("memory_bound_bytes") / (1 << 20)
    caps = {line.get_label(): line.get_ydata()[0] for line in bottom.lines if line.get_label().endswith("capacity")}
    assert caps["global capacity"] == target.chip.global_buffer_bytes / (1 << 20)
    plot.save(fig, tmp_path / "m.svg")
    assert (tmp_path / "m.svg").read_text().lstrip().startswith("<?xml")
    plot.save(plot.memory_figure(p, target), tmp_path / "m.png")
    _not_blank(tmp_path / "m.png")


def test_crossbar_map_holds_the_programming(tmp_path: Path) -> None:
    p = light_program.squeezenet()[1].program
    target = load_target(light_program.TARGET)
    grid, ops = plot.crossbar_map(p, target)
    assert int((grid > 0).sum()) == len(p.programming)
    for t in p.programming[:50]:
        assert ops[grid[t.core, t.crossbar] - 1] == t.op
    plot.save(plot.crossbars_figure(p, target), tmp_path / "x.png")
    _not_blank(tmp_path / "x.png")


def _table() -> pd.DataFrame:
    """A sweep-shaped table: two instances x heuristic / exact, stage columns as the sweep writes them."""
    stats = light_program.squeezenet()[1].stats
    rows = []
    for k, target in enumerate(("isaac", "pimcomp")):
        for solver, better in (("heuristic", 1.0), ("exact", 0.9)):
            row = {"key": f"{k}{solver}", "model": "light:squeezenet", "target": target, "mode": "latency",
                   "methods": "", "time_limit_s": 1.0, "seed": 0, "solver": solver, "status": "ok",
                   "makespan_ns": 1e6 * better * (k + 1), "tasks": 900.0 * (k + 1)}
            for st, s in stats.items():
                obj = s.objective * better
                row.update({f"{st}.objective": obj, f"{st}.bound": s.bound, f"{st}.gap": (obj - s.bound) / obj,
                            f"{st}.wall_s": 0.01 * (k + 1) * (2 if solver == "exact" else 1)})
            rows.append(row)
    rows.append({"key": "err", "model": "missing.onnx", "target": "isaac", "solver": "exact", "status": "error"})
    return pd.DataFrame(rows)


def test_compare_and_scaling_from_a_table(tmp_path: Path) -> None:
    df = _table()
    df.to_csv(tmp_path / "results.csv", index=False)
    t = plot_sweep.compare_table(df)
    e2e = t[t["stage"] == "end_to_end"]
    assert len(e2e) == 2 and np.allclose(e2e["exact_over_heuristic"], 0.9)
    assert set(t["stage"]) == {*light_program.squeezenet()[1].stats, "end_to_end"}
    for kind in ("compare", "scaling"):
        assert main(["plot", kind, str(tmp_path / "results.csv"), "-o", str(tmp_path / f"{kind}.png")]) == 0
        _not_blank(tmp_path / f"{kind}.png")


def test_plot_bad_input_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    p = replace(light_program.squeezenet()[1].program, extra=(("target_ref", light_program.TARGET),))
    prog.save(p, tmp_path / "p.json")
    cases = [
        (["plot", "pie", str(tmp_path / "p.json"), "-o", str(tmp_path / "a.png")], "invalid choice"),
        (["plot", "gantt", str(tmp_path / "none.json"), "-o", str(tmp_path / "a.png")], "no such program file"),
        (["plot", "gantt", str(tmp_path / "p.json"), "-o", str(tmp_path / "a.jpg")], ".png or .svg"),
        (["plot", "memory", str(tmp_path / "p.json"), "--target", "isaac", "-o", str(tmp_path / "a.png")],
         "compiled for target"),
        (["plot", "compare", str(tmp_path / "none.csv"), "-o", str(tmp_path / "a.png")], "no such results table"),
    ]
    for argv, needle in cases:
        assert main(argv) == 2, argv
        assert needle in capsys.readouterr().err, argv
