"""`cimopt plot`: every kind renders a non-blank picture; the Gantt chart spans the makespan."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

import light_program
from cimopt.cli.main import main
from cimopt.ir import program as prog, units
from cimopt.ir.program_expand import repetitions
from cimopt.report import program_plots as plot, sweep_plots as plot_sweep
from cimopt.targets.load import load_target


def _not_blank(path: Path) -> None:
    img = plt.imread(path)
    assert img.ndim == 3 and img.shape[0] > 100 and img.shape[1] > 100
    assert img[..., :3].std() > 0.02, f"{path} is (nearly) one colour"


def test_gantt_spans_the_makespan(tmp_path: Path) -> None:
    p = light_program.squeezenet()[1].program
    fig = plot.gantt_figure(p)
    ax = fig.axes[0]
    tf, tu = units.time_scale(p.makespan_ns)
    assert ax.get_xlabel() == f"time ({tu})"
    assert ax.get_xlim() == (0.0, p.makespan_ns / tf)
    ends = [v[:, 0].max() for c in ax.collections for path in c.get_paths() for v in [path.vertices]]
    starts = [v[:, 0].min() for c in ax.collections for path in c.get_paths() for v in [path.vertices]]
    assert max(ends) == pytest.approx(p.makespan_ns / tf) and min(starts) == pytest.approx(0.0)
    assert sum(len(c.get_paths()) for c in ax.collections) == repetitions(p)   # a bar per repetition
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
    bf, bu = units.bytes_scale(max(max(total), bound, p.metric("memory_peak_bytes")) * 1.0)
    assert top.get_ylabel() in ("MiB", "KiB", "B", "GiB")
    # the bottom panel: each space in % of its own capacity, all below the 100 % line
    spaces = [line for line in bottom.lines if "(capacity" in str(line.get_label())]
    assert spaces and all(max(line.get_ydata()) <= 100 + 1e-9 for line in spaces)
    assert any(str(line.get_label()).startswith("global (capacity "
                                                + units.nbytes(target.chip.global_buffer_bytes)) for line in spaces)
    assert [line.get_ydata()[0] for line in bottom.lines if line.get_label() == "capacity"] == [100]
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
    order = plot.op_order(p)
    assert [order[op] for op in ops] == sorted(order[op] for op in ops)   # legend in graph order, not by name
    fig = plot.crossbars_figure(p, target)
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert labels == ops                                                    # every op, none cut
    assert len(set(map(tuple, plot.op_colours(len(ops))))) == len(ops)     # each its own colour
    plot.save(fig, tmp_path / "x.png")
    _not_blank(tmp_path / "x.png")


def test_core_shape_draws_only_real_crossbars() -> None:
    assert plot.core_shape(96) == (8, 12) and plot.core_shape(64) == (8, 8) and plot.core_shape(12) == (3, 4)
    for n in range(1, 200):
        r, c = plot.core_shape(n)
        assert r * c >= n and (r - 1) * c < n        # no empty row: at most c - 1 missing cells
        assert len({tuple(x) for x in plot.op_colours(n)}) == n


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
    # every stage's objective differs (x 0.9), so only the first stage is the same instance in both rows
    names = plot_sweep.stages(df)
    first = t[t["stage"] == names[0]]
    assert (first["differs_after"] == "").all() and first["heuristic_gap"].notna().all()
    later = t[t["stage"] == names[1]]
    assert (later["differs_after"] == names[0]).all() and later["heuristic_gap"].isna().all()
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
