"""Time limits are wall-clock: every method of every stage x generated size, wall time vs limit.

Instances come from `cimopt.solver.harness.generators.instance` (the benchmark instances, see
docs/instances.md): scheduling (tasks), placement (groups), memory (buffers), replication
(layers; the budget fits every layer three times) and "segmentation": the same replication
generator with a crossbar budget of a third of one copy of every layer, so that every replication
method has to cut the chain into segments (the DP segmentation `segment-dp` included).  The
accuracy and tiling stages have no generator (accuracy's DP takes no time limit: it is polynomial
in layers x budget steps; tiling is closed-form).

Each run is ``Stage.run`` (what ``cimopt solve`` calls) under `SolverOptions` in wall mode, timed
around the whole call.  Prints wall time, the limit and their ratio, the status, and flags with
``OVER`` every run longer than 1.1 x limit + 1 s (the project's tolerance).  Exit status 1 when any
run is over.

Run: ``python experiments/time_limits.py [--time-limit 2] [--sizes small,medium,large]
[--stages scheduling,...] [--methods cpsat,...] [--seed 0] [--workers 8]``.
"""
from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace

from cimopt.ir.errors import CimoptError
from cimopt.solver.harness import generators
from cimopt.solver.registry import stage
from cimopt.solver.stats import SolverOptions

#: generated size per stage and size class (tasks, groups, buffers, layers)
SIZES = {
    "scheduling": {"small": 40, "medium": 400, "large": 3000},
    "placement": {"small": 20, "medium": 150, "large": 1000},
    "memory": {"small": 30, "medium": 300, "large": 3000},
    "replication": {"small": 10, "medium": 60, "large": 300},
    "segmentation": {"small": 10, "medium": 30, "large": 200},
}
#: crossbar budget of the segmentation instances, as a fraction of one copy of every layer
SEGMENT_BUDGET = 1 / 3


def make(kind: str, size: int, seed: int) -> tuple[str, object]:
    """(stage name, instance) of benchmark kind ``kind``."""
    if kind != "segmentation":
        return kind, generators.instance(kind, size, seed)
    inst = generators.instance("replication", size, seed)
    p = inst.problem  # type: ignore[attr-defined]
    budget = max(max(x.crossbars for x in p.layers), int(SEGMENT_BUDGET * p.one_copy_crossbars))
    return "replication", replace(inst, problem=replace(p, budget=budget))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--time-limit", type=float, default=2.0, help="wall seconds per run (default 2)")
    parser.add_argument("--sizes", default="small,medium,large")
    parser.add_argument("--stages", default=",".join(SIZES))
    parser.add_argument("--methods", default="", help="only these methods (default: every method)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=8)
    a = parser.parse_args()
    limit = a.time_limit
    tolerance = 1.1 * limit + 1.0
    options = SolverOptions(time_limit_s=limit, seed=a.seed, workers=a.workers, deterministic=False)
    only = {m for m in a.methods.split(",") if m}
    print(f"time limit {limit:g} s (wall), tolerance 1.1 x limit + 1 s = {tolerance:.2f} s, "
          f"seed {a.seed}, workers {a.workers}")
    print(f"{'stage':<13} {'size':>6} {'method':<19} {'wall_s':>7} {'ratio':>6}  {'status':<20} flag")
    over = worst = 0.0
    n_over = runs = 0
    for kind in a.stages.split(","):
        for size_name in a.sizes.split(","):
            size = SIZES[kind][size_name]
            name, inst = make(kind, size, a.seed)
            st = stage(name)
            for m in st.methods:
                if only and m.name not in only:
                    continue
                t0 = time.perf_counter()
                try:
                    _, s = st.run(inst, m.name, options)
                    status = s.status.value
                except CimoptError as e:  # a typed refusal is an answer too (timed all the same)
                    status = f"refused: {e}"[:60]
                wall = time.perf_counter() - t0
                runs += 1
                worst = max(worst, wall / limit)
                flag = ""
                if wall > tolerance:
                    flag, n_over = "OVER", n_over + 1
                    over = max(over, wall)
                print(f"{kind:<13} {size:>6} {m.name:<19} {wall:>7.2f} {wall / limit:>6.2f}  "
                      f"{status:<20} {flag}", flush=True)
    print(f"{runs} runs; largest wall / limit {worst:.2f}; {n_over} over 1.1 x limit + 1 s")
    return 1 if n_over else 0


if __name__ == "__main__":
    sys.exit(main())
