"""Heuristic vs exact, stage by stage, over the onnx package's light graphs x presets.

Usage: python experiments/heuristic_vs_exact.py [--presets isaac,pimcomp] [--time-limit 20]
                                                 [--models resnet50,squeezenet] [--write]
Prints one row per model x preset x stage (heuristic, exact, bound, gap, times) and the
end-to-end makespan / throughput of both programs; with --write, replaces the table section
of experiments/README.md with it and the command that made it.
"""
from __future__ import annotations

import argparse
import glob
import os
import sys
import time

import onnx

from cimopt.compiler import compile_model
from cimopt.ir import units
from cimopt.options import CompileOptions
from cimopt.report.summary import compare_rows
from cimopt.targets.load import load_target

BEGIN, END = "<!-- heuristic-vs-exact:begin -->", "<!-- heuristic-vs-exact:end -->"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--presets", default="isaac,pimcomp")
    ap.add_argument("--time-limit", type=float, default=20.0)
    ap.add_argument("--models", default="")
    ap.add_argument("--mode", default="latency")
    ap.add_argument("--write", action="store_true")
    a = ap.parse_args()
    light = os.path.join(os.path.dirname(onnx.__file__), "backend/test/data/light")
    paths = sorted(glob.glob(os.path.join(light, "*.onnx")))
    if a.models:
        want = {m if m.startswith("light_") else "light_" + m for m in a.models.split(",")}
        paths = [p for p in paths if os.path.basename(p)[:-5] in want]
    lines = ["| model | preset | stage | heuristic | exact | bound | gap | heur s | exact s | status |",
             "|---|---|---|---:|---:|---:|---:|---:|---:|---|"]
    e2e_lines = ["| model | preset | makespan heur | makespan exact | inf/s heur | inf/s exact | exact/heur latency |",
                 "|---|---|---:|---:|---:|---:|---:|"]
    t_all = time.perf_counter()
    cmd = "python experiments/heuristic_vs_exact.py " + " ".join(sys.argv[1:])
    done = 0
    for path in paths:
        name = os.path.basename(path)[:-5]   # the model's one name: its file's
        for preset in a.presets.split(","):
            t = load_target(preset)
            base = CompileOptions(mode=a.mode, time_limit_s=a.time_limit)
            h = compile_model(path, t, CompileOptions(**{**base.__dict__, "compare": True}))
            x = compile_model(path, t, CompileOptions(**{**base.__dict__, "solver": "exact"}))
            rows, e2e = compare_rows(h, x)
            for r in rows:
                u = r["unit"]
                lines.append(f"| {name} | {preset} | {r['stage']} | {units.by_unit(r['heuristic'], u)} | "
                             f"{units.by_unit(r['exact'], u)} | {units.by_unit(r['bound'], u)} | {units.percent(r['gap'], 2)} | {r['heuristic_s']:.2f} | "
                             f"{r['exact_s']:.2f} | {r['status']} |")
            eh, ex = e2e["heuristic"], e2e["exact"]
            e2e_lines.append(f"| {name} | {preset} | {units.time(eh['makespan_ns'])} | {units.time(ex['makespan_ns'])} | "
                             f"{units.rate(eh['inferences_per_s'])} | {units.rate(ex['inferences_per_s'])} | "
                             f"{ex['makespan_ns'] / max(1, eh['makespan_ns']):.3f} |")
            print("\n".join(lines[-len(rows):]), flush=True)
            done += 1
            total = len(paths) * len(a.presets.split(","))
            table = _table(cmd, a, time.perf_counter() - t_all, lines, e2e_lines, done, total)
            if a.write:
                _write(table)
    print(table)


def _table(cmd: str, a: argparse.Namespace, seconds: float, lines: list[str], e2e_lines: list[str],
           done: int, total: int) -> str:
    partial = "" if done == total else f" ({done} of {total} model x preset pairs so far)"
    return "\n".join([f"Made by `{cmd.strip()}` in {seconds:.0f} s on the 2-core machine{partial} "
                      f"({a.mode} mode, {a.time_limit:g} s per exact stage, seed 0, 8 workers).", "",
                      "Per stage, on the heuristic pipeline's own instance (each figure with its unit; placement in "
                      "byte-hops per inference):", "", *lines, "",
                      "End to end (the exact pipeline's program against the heuristic one):", "", *e2e_lines])


def _write(table: str) -> None:
    readme = os.path.join(os.path.dirname(os.path.abspath(__file__)), "README.md")
    text = open(readme).read() if os.path.exists(readme) else f"# Experiments\n\n{BEGIN}\n{END}\n"
    head, _, rest = text.partition(BEGIN)
    _, _, tail = rest.partition(END)
    with open(readme, "w") as f:
        f.write(f"{head}{BEGIN}\n{table}\n{END}{tail}")


if __name__ == "__main__":
    main()
