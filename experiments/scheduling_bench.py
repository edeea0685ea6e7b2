"""Scheduling benchmark: list scheduling vs CP-SAT (full model or rolling window) vs lower bound.

Random layered instances look like a pipelined CNN on a CIM chip: ``layers`` layers, layer ``l``
with ``replicas[l]`` weight copies (one crossbar group resource each) and ``chunks`` chunks of
output rows; chunk ``c`` of layer ``l`` runs on replica ``c mod replicas[l]`` and needs the chunks
of layer ``l - 1`` inside its receptive field (kernel 3, stride 1 or 2).  Every third layer is
followed by a vector op (activation/pooling) per chunk on a vector unit shared by several layers,
and inter-layer edges carry a NoC delay.  Durations are integer ns.

Run: ``python experiments/scheduling_bench.py`` (about 2 min; ``--quick`` for a smoke run).
"""
from __future__ import annotations

import argparse
import time

from cimopt.solver.scheduling.bounds import lower_bound
from cimopt.solver.scheduling.generator import layered_instance
from cimopt.solver.scheduling.heuristic import solve
from cimopt.solver.scheduling.problem import check, SchedulingProblem
from cimopt.solver.scheduling.stage import solve_schedule
from cimopt.solver.stats import SolverOptions


def run(name: str, problem: SchedulingProblem, limit_s: float, seed: int) -> None:
    """Print list / exact makespan, bound, gap and times for one instance (latency mode)."""
    opts = SolverOptions(time_limit_s=limit_s, seed=seed, workers=8)
    lb, kind = lower_bound(problem, "latency")
    ls, lstats = solve(problem, "latency", "list", opts)
    t0 = time.perf_counter()
    ex, estats = solve_schedule(problem, "latency", "cpsat", opts)
    wall = time.perf_counter() - t0
    bad = check(problem, ex, "latency") + check(problem, ls, "latency")
    print(f"{name}: {len(problem.tasks)} tasks, {len(problem.edges)} edges, "
          f"{len(problem.resources)} resources")
    print(f"  lower bound      {lb:>9d} ns  ({kind})")
    print(f"  list makespan    {ls.makespan_ns:>9d} ns  gap {lstats.gap:6.2%}  "
          f"time {lstats.wall_s:7.3f} s")
    print(f"  exact makespan   {ex.makespan_ns:>9d} ns  gap {estats.gap:6.2%}  "
          f"time {wall:7.3f} s  status {estats.status.value}  bound {estats.bound:.0f} ns "
          f"({estats.bound_kind})")
    print(f"  exact method     {estats.method}; {estats.note}")
    print(f"  check violations {len(bad)}")
    tp, tstats = solve(problem, "throughput", "list", opts)
    print(f"  throughput list  II {tp.initiation_interval_ns} ns (bound {tstats.bound:.0f}, "
          f"{tstats.status.value}), {tstats.note}, violations "
          f"{len(check(problem, tp, 'throughput'))}")


def main() -> None:
    """Both benchmark sizes: ~200 tasks (10 s limit) and ~5,000 tasks (60 s limit)."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="short limits, smaller large instance")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    small = layered_instance(layers=9, chunks=28, seed=args.seed)
    run("small", small, 5.0 if args.quick else 10.0, args.seed)
    large = layered_instance(layers=30, chunks=220 if not args.quick else 60, seed=args.seed + 1)
    run("large", large, 15.0 if args.quick else 60.0, args.seed)


if __name__ == "__main__":
    main()
