"""The objective against the end-to-end bounds and the physical limit (issues 11 and 19).

Usage: python experiments/limits.py [--targets isaac,puma,pimcomp] [--models resnet50,squeezenet]
                                    [--mode throughput|latency]
Compiles every light graph of the onnx package (heuristic) on each target and prints per
program: the initiation interval, the objective (throughput: time per inference; latency: the
makespan), the granularity-free bound and what limits it (`solver.e2e_bound.end_to_end_bound`,
valid at any chunk size), the bound at the granularity used (chunk units: a Conv's vectors, a MatMul's rows,
`chunked_bound`) and what limits it, the physical limit (throughput: every crossbar busy all the
time; latency: the physical latency limit), the ratios free bound / time, rows bound / time
(1.0 = at the bound) and limit / time, the busiest resource and the compile time.  A model that
does not compile prints its error.  Last lines: geometric means per target.
Goals (issue 11): time within 1.25x of the bound; limit / time >= 0.45 for ResNet-50 on isaac,
geometric mean >= 0.3 on isaac.  Compile times on a loaded machine are inflated.
"""
from __future__ import annotations

import argparse
import glob
import math
import os
import time
from collections import Counter

from cimopt.compiler import compile_model
from cimopt.demo import light_graph
from cimopt.ir.errors import CimoptError
from cimopt.options import CompileOptions
from cimopt.targets.load import load_target


def _names() -> list[str]:
    d = os.path.dirname(light_graph("light_resnet50"))
    return sorted(os.path.basename(p)[:-5] for p in glob.glob(os.path.join(d, "light_*.onnx")))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--targets", default="isaac,puma,pimcomp")
    ap.add_argument("--models", default="")
    ap.add_argument("--mode", default="throughput", choices=("throughput", "latency"))
    a = ap.parse_args()
    # a model's one name is its file's (light_resnet50); the short form (resnet50) is accepted
    names = [m if m.startswith("light_") else "light_" + m for m in a.models.split(",")] if a.models else _names()
    limit_key = "latency_limit_ns" if a.mode == "latency" else "physical_limit_ns"
    print(f"{'model':<20} {'target':<8} {'II us':>9} {'time us':>9} {'free us':>9} {'limited by':<20} "
          f"{'rows us':>9} {'limited by':<13} {'limit us':>9} {'free/time':>9} {'rows/time':>9} {'lim/time':>8} "
          f"{'compile s':>9}  busiest")
    for tname in a.targets.split(","):
        t = load_target(tname)
        ratios: list[float] = []
        free_ratios: list[float] = []
        for name in names:
            t0 = time.perf_counter()
            try:
                p = compile_model(light_graph(name), t, CompileOptions(mode=a.mode)).program
            except CimoptError as e:
                print(f"{name:<20} {tname:<8} does not compile: {str(e)[:90]}")
                continue
            wall = time.perf_counter() - t0
            per = p.metric("e2e_objective_ns")
            free, rows, lim = p.metric("e2e_bound_ns"), p.metric("e2e_chunked_bound_ns"), p.metric(limit_key)
            extra = dict(p.extra)
            load: Counter[str] = Counter()
            for i in p.instructions:
                if i.resource:
                    load[i.resource] += i.end_ns - i.start_ns
            busy = "%s %.0f us" % (load.most_common(1)[0][0], load.most_common(1)[0][1] / 1e3) if load else "-"
            ratios.append(lim / per)
            free_ratios.append(free / per)
            print(f"{name:<20} {tname:<8} {p.initiation_interval_ns / 1e3:>9.1f} {per / 1e3:>9.1f} "
                  f"{free / 1e3:>9.1f} {extra.get('e2e_limited_by', '?'):<20} "
                  f"{rows / 1e3:>9.1f} {extra.get('e2e_chunked_limited_by', '?'):<13} {lim / 1e3:>9.1f} "
                  f"{free / per:>9.3f} {rows / per:>9.3f} {lim / per:>8.3f} {wall:>9.2f}  {busy}"
                  + (f" ({p.segments} segments, mode {p.mode})" if p.segments > 1 else ""), flush=True)
        print(f"{tname}: geometric mean over {len(ratios)} graphs of limit / time {_geomean(ratios):.3f}, "
              f"of free bound / time {_geomean(free_ratios):.3f}", flush=True)


def _geomean(xs: list[float]) -> float:
    return math.exp(sum(math.log(max(r, 1e-9)) for r in xs) / len(xs)) if xs else 0.0


if __name__ == "__main__":
    main()
