"""The exact path end to end: heuristic vs `--solver exact` programs over the light graphs.

For every light graph x preset x mode, compiles with the heuristics and with the exact path
(``--time-limit`` seconds per exact stage solve) and prints both objectives (makespan in latency
mode, time per inference in throughput mode), their ratio, the end-to-end bound, the exact
program's gap to it, and which of the exact path's changes were kept.  The last line counts
rows where the exact program is no worse / strictly better.

Usage: python experiments/exact_path_bench.py [--presets isaac,pimcomp] [--modes latency,throughput]
       [--time-limit 10] [--models squeezenet,resnet50]
"""
from __future__ import annotations

import argparse
import os

import onnx

from cimopt.compiler import compile_model
from cimopt.options import CompileOptions
from cimopt.targets.load import load_target

LIGHT = os.path.join(os.path.dirname(onnx.__file__), "backend", "test", "data", "light")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--presets", default="isaac,pimcomp")
    ap.add_argument("--modes", default="latency,throughput")
    ap.add_argument("--time-limit", type=float, default=10.0)
    ap.add_argument("--models", default="", help="comma-separated light graph names (default: all)")
    a = ap.parse_args()
    names = sorted(f[:-5] for f in os.listdir(LIGHT) if f.endswith(".onnx"))   # file names: light_resnet50
    if a.models:
        want = {m if m.startswith("light_") else "light_" + m for m in a.models.split(",")}
        names = [n for n in names if n in want]
    print("| model | target | mode | heuristic | exact | exact / heuristic | bound | exact gap | kept |")
    print("|---|---|---|---:|---:|---:|---:|---:|---|")
    no_worse = better = rows = 0
    for name in names:
        path = os.path.join(LIGHT, f"{name}.onnx")
        for preset in a.presets.split(","):
            t = load_target(preset)
            for mode in a.modes.split(","):
                h = compile_model(path, t, CompileOptions(mode=mode)).program
                res = compile_model(path, t, CompileOptions(mode=mode, solver="exact", time_limit_s=a.time_limit))
                x = res.program
                ho, xo, bound = h.metric("e2e_objective_ns"), x.metric("e2e_objective_ns"), x.metric("e2e_bound_ns")
                kept = ", ".join(c.changed for c in res.exact_path if c.kept and c.changed) or "-"
                rows += 1
                no_worse += xo <= ho
                better += xo < ho
                print(f"| {name} | {preset} | {mode} | {ho / 1e3:.1f} us | {xo / 1e3:.1f} us | {xo / ho:.3f} | "
                      f"{bound / 1e3:.1f} us | {100 * (xo - bound) / xo:.1f} % | {kept} |", flush=True)
    print(f"\nexact no worse on {no_worse}/{rows} rows, strictly better on {better}/{rows} "
          f"(time limit {a.time_limit:g} s per exact stage)")


if __name__ == "__main__":
    main()
