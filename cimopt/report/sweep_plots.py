"""Pictures of a sweep's results table: heuristic vs exact per stage, and solve time vs size.

An instance is one (model, target, mode, methods, time limit, seed) combination; `compare_table`
pairs its heuristic and exact rows.  A stage is compared only where both programs solved the same
stage instance: every earlier stage ran the same method with the same objective in both rows
(the exact path changes earlier stages, after which the exact program's stage solves another
instance, and its gap measures nothing about the heuristic's); both gaps are then taken against
the larger of the two bounds (each valid for that instance).  Seeds are separate instances, never
averaged.  Only rows with ``status`` ok are drawn.  Each function returns the Figure; save it
with `cimopt.report.program_plots.save`.
"""
from __future__ import annotations

from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402 - the backend is chosen before pyplot loads
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from cimopt.sweep.errors import SpecError  # noqa: E402

INSTANCE = ("model", "target", "mode", "methods", "time_limit_s", "seed")


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


def same_instance(h: Any, x: Any, names: list[str], k: int) -> str:
    """'' when the heuristic row ``h`` and the exact row ``x`` solved the same instance of stage
    ``names[k]`` (every earlier stage: same method, same objective); else the first earlier stage
    that differs."""
    for st in names[:k]:
        if h.get(f"{st}.method") != x.get(f"{st}.method") or not _same(h.get(f"{st}.objective"),
                                                                      x.get(f"{st}.objective")):
            return st
    return ""


def _same(a: Any, b: Any) -> bool:
    try:
        fa, fb = float(a), float(b)
    except (TypeError, ValueError):
        return a == b
    return (np.isnan(fa) and np.isnan(fb)) or abs(fa - fb) <= 1e-9 * max(1.0, abs(fa), abs(fb))


def compare_table(df: Any) -> Any:
    """Per instance and stage: the gap (fraction) of the heuristic and of the exact program's
    solution against the larger of their two bounds, when both solved the same stage instance
    (``same_instance``; otherwise NaN and ``differs_after`` names the earlier stage that differs);
    end to end: the exact / heuristic ratio of ``makespan_ns``."""
    import pandas as pd

    ok = _ok(df, ("status", "solver", *INSTANCE))
    names = stages(ok)
    rows = []
    for inst, g in ok.groupby(list(INSTANCE), sort=False, dropna=False):
        h, x = g[g["solver"] == "heuristic"], g[g["solver"] == "exact"]
        if h.empty or x.empty:
            continue
        hr, xr = h.iloc[0].to_dict(), x.iloc[0].to_dict()
        for k, st in enumerate([*names, "end_to_end"]):
            base = {**dict(zip(INSTANCE, inst)), "stage": st}
            if st == "end_to_end":
                hobj, xobj = hr["makespan_ns"], xr["makespan_ns"]
                rows.append({**base, "differs_after": "", "heuristic_gap": np.nan, "exact_gap": np.nan,
                             "heuristic_objective": hobj, "exact_objective": xobj,
                             "exact_over_heuristic": xobj / hobj if hobj else np.nan})
                continue
            hobj, xobj = float(hr[f"{st}.objective"]), float(xr[f"{st}.objective"])
            differs = same_instance(hr, xr, names, k)
            bound = max(float(hr[f"{st}.bound"]), float(xr[f"{st}.bound"]))
            gap = (lambda o: (o - bound) / o if o and not differs else np.nan)
            rows.append({**base, "differs_after": differs, "heuristic_gap": gap(hobj), "exact_gap": gap(xobj),
                         "heuristic_objective": hobj, "exact_objective": xobj,
                         "exact_over_heuristic": xobj / hobj if hobj and not differs else np.nan})
    if not rows:
        raise SpecError("the results table has no instance with both a heuristic and an exact row")
    return pd.DataFrame(rows)


def compare_figure(df: Any) -> Figure:
    """One panel per stage: the gap (%) of the heuristic's and the exact program's solutions to
    the stage's bound, on instances both solved (others marked "other instance"); a last panel:
    exact / heuristic end-to-end makespan.  One bar pair per (model, target, mode, methods,
    time limit, seed): nothing is averaged."""
    t = compare_table(df)
    names = list(dict.fromkeys(t["stage"]))
    fig, axes = plt.subplots(len(names), 1, figsize=(10, 1.9 * len(names) + 0.9), sharex=True, squeeze=False)
    keys = list(dict.fromkeys(tuple(getattr(r, c) for c in INSTANCE) for r in t.itertuples()))
    seeds = len({k[-1] for k in keys}) > 1
    labels = [f"{m} / {tg} / {mo}" + (f" / seed {sd}" if seeds else "") for m, tg, mo, _, _, sd in keys]
    x = np.arange(len(labels))
    for ax, st in zip(axes[:, 0], names):
        s = t[t["stage"] == st]
        if st == "end_to_end":
            ax.bar(x, s["exact_over_heuristic"], color="tab:purple")
            ax.axhline(1.0, color="black", lw=0.8)
            ax.set_ylabel("exact / heur.\nmakespan", fontsize=7)
        else:
            ax.bar(x - 0.2, 100 * s["heuristic_gap"], 0.4, label="heuristic", color="tab:orange")
            ax.bar(x + 0.2, 100 * s["exact_gap"], 0.4, label="exact", color="tab:blue")
            ax.set_ylabel("gap to bound %", fontsize=7)
            for xi, d, hg, xg in zip(x, s["differs_after"], s["heuristic_gap"], s["exact_gap"]):
                if d:
                    ax.text(xi, 0, f"other instance\n(after {d})", ha="center", va="bottom", fontsize=7,
                            color="grey")
                elif hg == 0 and xg == 0:
                    ax.text(xi, 0, "both 0 %", ha="center", va="bottom", fontsize=7)
        ax.set_title(st, fontsize=8, loc="left")
    axes[0, 0].legend(fontsize=7)
    axes[-1, 0].set_xticks(x)
    axes[-1, 0].set_xticklabels(labels, rotation=30, ha="right", fontsize=7)
    fig.suptitle("heuristic vs exact program: each stage's gap to its bound where both solved the same stage "
                 "instance\n(gap = (objective - bound) / objective, bound = the larger of the two; one bar pair "
                 "per instance and seed, nothing averaged), and the end-to-end makespan ratio", fontsize=8)
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
