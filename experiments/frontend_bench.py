"""Front-end speed: import, passes and lowering of the onnx package's light graphs.

Usage: python experiments/frontend_bench.py [--repeat 3] [--target isaac]
Prints per model: ops in the file, ops after the passes, and the best wall time of each phase:
load, the target-independent passes plus legalisation (``passes``), lowering, their total, and
the whole front end for a target (``prepare``: `cimopt.frontend.prepare`, every pass of
`cimopt.frontend.frontend_passes` through one PassManager, the MatMul unit choice and lowering;
``--target``, default isaac).  The issue's figure: DenseNet-121 (910 compute ops) well under 2 s.
"""
from __future__ import annotations

import argparse
import glob
import os
import time
from collections.abc import Callable

import onnx

from cimopt.frontend import prepare
from cimopt.ir.load import load
from cimopt.ir.passes.legalize import Legalize
from cimopt.ir.passes.manager import PassManager
from cimopt.ir.passes.optimize import optimize_passes
from cimopt.ir.workload import lower
from cimopt.targets.load import load_target


def _timed(run: Callable[[], object]) -> float:
    t = time.perf_counter()
    run()
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--target", default="isaac")
    a = ap.parse_args()
    target = load_target(a.target)
    passes = PassManager([*optimize_passes(), Legalize(vector_matmul=False, has_host=True)])
    light = os.path.join(os.path.dirname(onnx.__file__), "backend/test/data/light")
    print(f"{'model':<22} {'ops in':>7} {'ops out':>8} {'load s':>8} {'passes s':>9} {'lower s':>8} {'total s':>8} "
          f"{'prepare s':>10}")
    for path in sorted(glob.glob(os.path.join(light, "*.onnx"))):
        best = None
        for _ in range(a.repeat):
            t0 = time.perf_counter()
            g = load(path)
            t1 = time.perf_counter()
            g = passes(g).graph
            t2 = time.perf_counter()
            w = lower(g)
            t3 = time.perf_counter()
            row = (t1 - t0, t2 - t1, t3 - t2, t3 - t0)
            best = row if best is None or row[3] < best[3] else best
        whole = min(_timed(lambda: prepare(path, target)) for _ in range(a.repeat))
        n_in = len(onnx.load(path, load_external_data=False).graph.node)
        print(f"{os.path.basename(path)[6:-5]:<22} {n_in:>7} {len(w.ops):>8} {best[0]:>8.3f} {best[1]:>9.3f} "
              f"{best[2]:>8.3f} {best[3]:>8.3f} {whole:>10.3f}")


if __name__ == "__main__":
    main()
