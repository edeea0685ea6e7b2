"""Pictures of a sweep's results table: heuristic vs exact per stage, and solve time vs size.

An instance is one (model, target, mode, methods, time limit) combination; rows of several seeds
are averaged.  Only rows with ``status`` ok are drawn.  Each function returns the Figure; save it
with `cimopt.plot.save`.
"""
from __future__ import annotations

from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402 - the backend is chosen before pyplot loads
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from cimopt.ir.errors import SpecError  # noqa: E402

INSTANCE = ("model", "target", "mode", "methods", "time_limit_s")


def stages(df: Any) -> list[str]:
    """Stage names with a ``<stage>.gap`` column, in column order."""
    return [c[:-len(".gap")] for c in df.columns if c.endswith(".gap")]


def _ok(df: Any, needed: tuple[str, ...]) -> Any:
    missing = [c for c in needed if c not in df.columns]
    if missing:
        raise SpecError(f"the results table has no column {missing[0]!r}; is it a cimopt sweep table?")
    ok = df[df["status"] == "ok"]
    if ok.empty:
        raise SpecError("the results table has no row with status ok to plot")
    return ok.assign(methods=ok["methods"].astype(object).fillna(""))


def compare_table(df: Any) -> Any:
    """Per instance and stage: mean gap (fraction) of the heuristic and of the exact rows, and the
    exact / heuristic ratio of mean objectives (end to end: ``makespan_ns``)."""
    import pandas as pd

    ok = _ok(df, ("status", "solver", *INSTANCE))
    rows = []
    for inst, g in ok.groupby(list(INSTANCE), sort=False, dropna=False):
        h, x = g[g["solver"] == "heuristic"], g[g["solver"] == "exact"]
        if h.empty or x.empty:
            continue
        for st in [*stages(ok), "end_to_end"]:
            col = "makespan_ns" if st == "end_to_end" else f"{st}.objective"
            hobj, xobj = h[col].mean(), x[col].mean()
            rows.append({**dict(zip(INSTANCE, inst)), "stage": st,
                         "heuristic_gap": np.nan if st == "end_to_end" else h[f"{st}.gap"].mean(),
                         "exact_gap": np.nan if st == "end_to_end" else x[f"{st}.gap"].mean(),
                         "heuristic_objective": hobj, "exact_objective": xobj,
                         "exact_over_heuristic": xobj / hobj if hobj else np.nan})
    if not rows:
        raise SpecError("the results table has no instance with both a heuristic and an exact row")
    return pd.DataFrame(rows)


def compare_figure(df: Any) -> Figure:
    """One panel per stage: the gap to the stage's bound (%) of heuristic and exact per instance;
    a last panel: exact / heuristic end-to-end objective."""
    t = compare_table(df)
    names = list(dict.fromkeys(t["stage"]))
    fig, axes = plt.subplots(len(names), 1, figsize=(10, 1.9 * len(names) + 0.6), sharex=True, squeeze=False)
    labels = list(dict.fromkeys(f"{r.model} / {r.target} / {r.mode}" for r in t.itertuples()))
    x = np.arange(len(labels))
    for ax, st in zip(axes[:, 0], names):
        s = t[t["stage"] == st]
        if st == "end_to_end":
            ax.bar(x, s["exact_over_heuristic"], color="tab:purple")
            ax.axhline(1.0, color="black", lw=0.8)
            ax.set_ylabel("exact / heur.", fontsize=7)
        else:
            ax.bar(x - 0.2, 100 * s["heuristic_gap"], 0.4, label="heuristic", color="tab:orange")
            ax.bar(x + 0.2, 100 * s["exact_gap"], 0.4, label="exact", color="tab:blue")
            ax.set_ylabel("gap %", fontsize=7)
            if not (s[["heuristic_gap", "exact_gap"]].fillna(0) > 0).to_numpy().any():
                ax.text(0.5, 0.5, "gap 0 % on every instance", transform=ax.transAxes, ha="center", fontsize=8)
        ax.set_title(st, fontsize=8, loc="left")
    axes[0, 0].legend(fontsize=7)
    axes[-1, 0].set_xticks(x)
    axes[-1, 0].set_xticklabels(labels, rotation=30, ha="right", fontsize=7)
    fig.suptitle("heuristic vs exact: gap to each stage's lower bound, and end-to-end objective ratio", fontsize=9)
    fig.tight_layout()
    return fig


def scaling_figure(df: Any, size: str = "tasks") -> Figure:
    """Solve wall time (s) of each stage against instance size (column ``size``), log-log, per solver."""
    ok = _ok(df, ("status", "solver", size))
    fig, ax = plt.subplots(figsize=(8, 5))
    markers = "os^vDP*X"
    for k, st in enumerate(stages(ok)):
        for solver, colour in (("heuristic", "tab:orange"), ("exact", "tab:blue")):
            g = ok[ok["solver"] == solver]
            if g.empty or f"{st}.wall_s" not in g:
                continue
            ax.scatter(g[size], g[f"{st}.wall_s"].clip(lower=1e-4), marker=markers[k % len(markers)],
                       color=colour, alpha=0.7, label=f"{st} ({solver})")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(f"instance size ({size})")
    ax.set_ylabel("stage wall time (s)")
    ax.set_title("solve time against instance size", fontsize=9)
    ax.legend(fontsize=6, ncol=2)
    return fig
