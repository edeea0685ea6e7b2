"""Front-end speed: import, passes and lowering of the onnx package's light graphs.

Usage: python experiments/frontend_bench.py [--repeat 3]
Prints per model: ops in the file, ops after the passes, and the best wall time of each phase.
The issue's figure: DenseNet-121 (910 compute ops) well under 2 s.
"""
from __future__ import annotations

import argparse
import glob
import os
import time

import onnx

from cimopt.ir.load import load
from cimopt.ir.passes.legalize import Legalize
from cimopt.ir.passes.optimize import optimize
from cimopt.ir.workload import lower


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    light = os.path.join(os.path.dirname(onnx.__file__), "backend/test/data/light")
    print(f"{'model':<22} {'ops in':>7} {'ops out':>8} {'load s':>8} {'passes s':>9} {'lower s':>8} {'total s':>8}")
    for path in sorted(glob.glob(os.path.join(light, "*.onnx"))):
        best = None
        for _ in range(a.repeat):
            t0 = time.perf_counter()
            g = load(path)
            t1 = time.perf_counter()
            g = optimize(g).graph
            g = Legalize(vector_matmul=False, has_host=True)(g).graph
            t2 = time.perf_counter()
            w = lower(g)
            t3 = time.perf_counter()
            row = (t1 - t0, t2 - t1, t3 - t2, t3 - t0)
            best = row if best is None or row[3] < best[3] else best
        n_in = len(onnx.load(path, load_external_data=False).graph.node)
        print(f"{os.path.basename(path)[6:-5]:<22} {n_in:>7} {len(w.ops):>8} {best[0]:>8.3f} {best[1]:>9.3f} "
              f"{best[2]:>8.3f} {best[3]:>8.3f}")


if __name__ == "__main__":
    main()
