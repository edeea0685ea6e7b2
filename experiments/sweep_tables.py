"""Turn sweep results tables into the markdown tables of experiments/README.md.

Usage: python experiments/sweep_tables.py README.md RESULTS/results.csv [...] [--compare NAME ...]

For each table, the section between ``<!-- sweep:NAME:begin -->`` and ``<!-- sweep:NAME:end -->``
(NAME = the results folder's name) is replaced; a missing section is appended at the end.  The
tables named with ``--compare`` (with heuristic and exact rows) get the per-stage comparison;
every table gets the per-task list (solver, seed, limits, versions, outputs) and its error rows.
"""
from __future__ import annotations

import argparse
import math
import re
import sys
from pathlib import Path
from typing import Any

import pandas as pd

from cimopt.ir import units
from cimopt.report.sweep_plots import compare_table, stages
from cimopt.sweep.results import read_table


def _num(x: Any, pct: bool = False) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return ""
    if pct:
        return units.percent(x, 2)
    return units.count(x, 6) if isinstance(x, float) else str(x)


def _markdown(df: pd.DataFrame, right: set[str]) -> str:
    head = "| " + " | ".join(df.columns) + " |"
    rule = "|" + "|".join("---:" if c in right else "---" for c in df.columns) + "|"
    body = ["| " + " | ".join(str(v) for v in row) + " |" for row in df.itertuples(index=False)]
    return "\n".join([head, rule, *body])


def settings(df: pd.DataFrame) -> str:
    """One line: the settings and versions every row carries."""
    def values(col: str) -> str:
        return ", ".join(sorted({str(v) for v in df[col].dropna()})) if col in df else "?"
    return (f"{len(df)} rows ({int((df['status'] != 'ok').sum())} with an error); solvers {values('solver')}; "
            f"seeds {values('seed')}; time limit {values('time_limit_s')} s per exact stage; CP-SAT workers "
            f"{values('workers')}; task budget {values('budget_s')} s; cimopt {values('v_cimopt')}, OR-Tools "
            f"{values('v_ortools')}, onnx {values('v_onnx')}, numpy {values('v_numpy')}, Python {values('v_python')}")


def comparison(df: pd.DataFrame) -> str:
    t = compare_table(df)
    unit = {st: ("ns" if st == "end_to_end" else _stage_unit(st)) for st in set(t["stage"])}
    out = pd.DataFrame({
        "model": t["model"], "target": t["target"], "seed": [_num(x) if x != x else int(x) for x in t["seed"]], "stage": t["stage"],
        "heuristic": [units.by_unit(x, unit[s]) for x, s in zip(t["heuristic_objective"], t["stage"])],
        "exact": [units.by_unit(x, unit[s]) for x, s in zip(t["exact_objective"], t["stage"])],
        "heuristic gap": [_num(x, True) for x in t["heuristic_gap"]],
        "exact gap": [_num(x, True) for x in t["exact_gap"]],
        "exact / heuristic": ["n/a" if x != x else f"{x:.4f}" for x in t["exact_over_heuristic"]],
        "instance": ["same" if not d else f"other (after {d})" for d in t["differs_after"]]})
    return _markdown(out, {"heuristic", "exact", "heuristic gap", "exact gap", "exact / heuristic"})


def _stage_unit(name: str) -> str:
    """The unit of a stage's objective ('' for a stage this version does not have)."""
    from cimopt.ir.errors import UsageError
    from cimopt.solver.registry import stage

    try:
        return stage(name).unit
    except UsageError:
        return ""


def per_task(df: pd.DataFrame) -> str:
    ok = df[df["status"] == "ok"]
    cols = {"model": ok["model"], "target": ok["target"], "mode": ok["mode"], "solver": ok["solver"],
            "seed": ok["seed"], "tasks": [_num(x) for x in ok["tasks"]],
            "makespan": [units.time(x) for x in ok["makespan_ns"]],
            "energy": [units.energy(x) for x in ok["energy_pj"]],
            "memory peak": [units.nbytes(x) for x in ok["memory_peak_bytes"]]}
    for st in stages(ok):
        if f"{st}.wall_s" in ok:
            cols[f"{st} s"] = [f"{x:.2f}" for x in ok[f"{st}.wall_s"]]
    if "run_ok" in ok:
        cols["run"] = ["match" if v is True or v == "True" else "MISMATCH" for v in ok["run_ok"]]
        cols["max rel error"] = [f"{x:.2g}" for x in ok["run_max_rel_error"]]
    out = pd.DataFrame(cols)
    return _markdown(out, {c for c in out.columns if c not in ("model", "target", "mode", "solver", "run")})


def errors(df: pd.DataFrame) -> str:
    bad = df[df["status"] != "ok"]
    return "\n".join(f"- {r['model']} on {r['target']}, {r['solver']}: {r['status']}: {r.get('error', '')}"
                     for r in bad.to_dict("records"))


def section(name: str, df: pd.DataFrame, compare: bool) -> str:
    parts = [f"Spec `experiments/sweeps/{name}.toml`, table `experiments/results/{name}/results.csv`. "
             + settings(df) + "."]
    if compare:
        parts += ["Per stage and seed (nothing averaged; end_to_end: the makespan). A stage's gaps are compared "
                  "only where both programs solved the same stage instance (every earlier stage the same method and "
                  "objective); gap = (objective - bound) / objective against the larger of the two bounds:",
                  comparison(df)]
    parts += ["Per task:", per_task(df)]
    if (df["status"] != "ok").any():
        parts += ["Error rows:", errors(df)]
    return "\n\n".join(parts)


def replace_section(text: str, name: str, body: str) -> str:
    begin, end = f"<!-- sweep:{name}:begin -->", f"<!-- sweep:{name}:end -->"
    block = f"{begin}\n{body}\n{end}"
    pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end), re.S)
    if pattern.search(text):
        return pattern.sub(lambda _m: block, text)
    return text.rstrip("\n") + "\n\n" + block + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("readme", type=Path)
    ap.add_argument("tables", nargs="+", type=Path)
    ap.add_argument("--compare", nargs="*", default=[], metavar="NAME",
                    help="results folders whose section gets the heuristic-vs-exact comparison")
    a = ap.parse_args(argv)
    text = a.readme.read_text()
    for path in a.tables:
        text = replace_section(text, path.parent.name, section(path.parent.name, read_table(path), path.parent.name in a.compare))
    a.readme.write_text(text)
    print(f"{a.readme}: {len(a.tables)} section(s) written")
    return 0


if __name__ == "__main__":
    sys.exit(main())
