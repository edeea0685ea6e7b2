"""Placement benchmark: heuristics vs exact on the generated placement instance (docs/instances.md).

Instance: `cimopt.solver.placement.generator.placement_instance` (what ``cimopt instances --stage
placement`` writes): ``--groups`` groups (default 60) of 1–16 crossbars in layers of 3–8 groups,
every group sending 100–1000 bytes per inference to each group of the next layer, on a mesh of
64-crossbar cores scaled to hold 1.5× the crossbars plus one core (60 groups: 3×5).  Prints, per
method, the NoC load (bytes × hops per inference), wall time, bound and gap, then exact / best
heuristic.

Run: ``python experiments/placement_bench.py [--groups 60] [--time-limit 20] [--seed 0]``.
"""
from __future__ import annotations

import argparse

from cimopt.solver.placement.generator import placement_instance
from cimopt.solver.placement.stage import PlacementStage, solve_placement as solve
from cimopt.solver.stats import SolverOptions

METHODS = tuple(m.name for m in PlacementStage.methods)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--time-limit", type=float, default=20.0, help="seconds per method")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--groups", type=int, default=60)
    args = parser.parse_args()
    problem = placement_instance(args.groups, args.seed)
    options = SolverOptions(time_limit_s=args.time_limit, seed=args.seed, workers=args.workers)
    print(f"instance: {problem.n_groups} groups, {sum(problem.groups)} crossbars, "
          f"{len(problem.traffic)} traffic pairs, {problem.mesh_rows}×{problem.mesh_cols} mesh × "
          f"{problem.crossbars_per_core} crossbars; time limit {args.time_limit:g} s, "
          f"seed {args.seed}, workers {args.workers}")
    print(f"{'method':<11} {'byte-hops':>11} {'time_s':>7} {'bound':>10} {'gap':>6}  "
          f"{'status':<9} bound kind / note")
    results = {}
    for method in METHODS:  # every placement method the stage has
        _, stats = solve(problem, method, options.with_deadline())  # the limit per method
        results[method] = stats
        print(f"{method:<11} {stats.objective:>11.0f} {stats.wall_s:>7.2f} {stats.bound:>10.0f} "
              f"{stats.gap:>6.1%}  {stats.status.value:<9} {stats.bound_kind}"
              + (f"; {stats.note}" if stats.note else ""))
    heuristics = [m for m in METHODS if m.removesuffix("+ls") in ("inorder", "snake", "greedy", "pack")]
    best = min(heuristics, key=lambda m: results[m].objective)
    exact = results["exact"]
    print(f"exact / best heuristic ({best}): {exact.objective / results[best].objective:.3f}; "
          f"exact gap to its {exact.bound_kind}: {exact.gap:.1%}")


if __name__ == "__main__":
    main()
