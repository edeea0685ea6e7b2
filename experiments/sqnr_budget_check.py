"""Check: programs compiled with ``--min-sqnr-db`` meet their budget when run bit-true.

Usage:
    python experiments/sqnr_budget_check.py [--target isaac] [--budgets 20 30] [--graphs NAME ...]

For every light graph of the onnx package (seeded random weights, `cimopt.ir.random_weights.randomise_light_graph`) and
every budget: compile as ``cimopt compile --min-sqnr-db B`` does (heuristic, latency mode,
default calibration: seeded random inputs), run the program ``--numerics int`` on an input the
calibration never saw (seed 0) and compare every output with the float reference.  One row per
graph and budget: the budget, the SQNR the error model predicted, the measured SQNR (the worst
output), pass or fail, and the seconds it took (compile, and the bit-true run unless an earlier
budget's program drives the same rows per conversion).  A compile that refuses the budget (`BudgetUnreachable`, naming the best
achievable SQNR) passes: refusing is allowed, silently missing is not.  Exits 1 when any row fails.
"""
from __future__ import annotations

import argparse
import math
import sys
import time

import onnx

from cimopt.compiler import compile_model
from cimopt.demo import light_graph
from cimopt.ir.random_weights import randomise_light_graph
from cimopt.options import CompileOptions
from cimopt.report.accuracy import bit_true_sqnr_db
from cimopt.solver.accuracy.knapsack import BudgetUnreachable
from cimopt.targets.load import load_target

LIGHT = ("light_squeezenet", "light_shufflenet", "light_inception_v1", "light_inception_v2", "light_resnet50",
         "light_densenet121", "light_bvlc_alexnet", "light_zfnet512", "light_vgg19")


def check(name: str, target_name: str, budgets: list[float]) -> list[tuple[float, str, float, float, bool, float]]:
    """Per budget (outcome, predicted dB, measured dB, passed, seconds) of one graph.  Budgets whose
    programs drive the same rows per conversion share one bit-true run (the same arithmetic)."""
    target = load_target(target_name)
    model = randomise_light_graph(onnx.load(light_graph(name)), 0)
    measured: dict[tuple[tuple[str, int], ...], float] = {}
    rows = []
    for budget in budgets:
        t0 = time.perf_counter()
        try:
            res = compile_model(model, target, CompileOptions(min_sqnr_db=budget))
        except BudgetUnreachable as e:
            rows.append((budget, "refused", e.best_db, math.nan, True, time.perf_counter() - t0))
            continue
        g = res.frontend.graph
        key = tuple(sorted((i.op, i.rows_per_conversion) for i in res.program.instructions if i.kind == "mvm"))
        if key not in measured:
            measured[key] = bit_true_sqnr_db(res.program, g, target)
        pred = res.predicted_sqnr_db if res.predicted_sqnr_db is not None else math.nan
        rows.append((budget, "compiled", pred, measured[key], measured[key] >= budget, time.perf_counter() - t0))
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--target", default="isaac")
    ap.add_argument("--budgets", type=float, nargs="+", default=[20.0, 30.0])
    ap.add_argument("--graphs", nargs="+", default=list(LIGHT), help="light graph names, with or without light_")
    a = ap.parse_args()
    a.graphs = [g if g.startswith("light_") else "light_" + g for g in a.graphs]
    unknown = [g for g in a.graphs if g not in LIGHT]
    if unknown:
        ap.error(f"unknown light graph(s) {', '.join(unknown)}; known: {', '.join(LIGHT)}")
    print(f"| graph | budget dB | outcome | predicted dB | measured dB | result | s |")
    print("|---|---:|---|---:|---:|---|---:|")
    failed = 0
    for name in a.graphs:
        for b, outcome, pred, meas, ok, s in check(name, a.target, a.budgets):
            failed += not ok
            print(f"| {name.removeprefix('light_')} | {b:g} | {outcome} | {pred:.1f} | {meas:.1f} | "
                  f"{'pass' if ok else 'FAIL'} | {s:.0f} |", flush=True)
    print(f"{failed} failure(s) on {a.target}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
