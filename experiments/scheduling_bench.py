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
import random
import time

from cimopt.solver.scheduling import (SchedulingProblem, Task, check, lower_bound, solve)
from cimopt.solver.stats import SolverOptions


def layered_instance(layers: int, chunks: int, seed: int, max_replicas: int = 4,
                     vector_units: int = 2) -> SchedulingProblem:
    """A random layered instance with about ``layers * chunks * 4/3`` tasks (durations in ns)."""
    rng = random.Random(seed)
    tasks: list[Task] = []
    edges: list[tuple[int, int, int]] = []
    resources: list[str] = [f"vector{v}" for v in range(vector_units)]
    prev: list[int] = []  # task index of each chunk of the previous layer's output
    prev_chunks = chunks
    for layer in range(layers):
        stride = 2 if layer in (layers // 3, 2 * layers // 3) else 1
        n_chunks = max(1, prev_chunks // stride)
        replicas = rng.randint(1, max_replicas)
        base = len(resources)
        resources += [f"L{layer}.xbar{r}" for r in range(replicas)]
        mvm_ns = rng.randint(40, 400) * replicas  # replication balances the pipeline roughly
        noc_ns = rng.randint(0, 30)
        cur: list[int] = []
        for c in range(n_chunks):
            tid = len(tasks)
            dur = max(1, int(mvm_ns * rng.uniform(0.8, 1.2)))
            tasks.append(Task(f"L{layer}.c{c}", dur, base + c % replicas,
                              rng.randint(0, 50) if layer == 0 else 0))
            if prev:
                lo = max(0, c * stride - 1)
                hi = min(len(prev) - 1, c * stride + 1)
                for p in range(lo, hi + 1):
                    edges.append((prev[p], tid, noc_ns))
            cur.append(tid)
        if layer % 3 == 2:
            unit = rng.randrange(vector_units)
            vec_ns = rng.randint(20, 120)
            post: list[int] = []
            for c, t in enumerate(cur):
                tid = len(tasks)
                tasks.append(Task(f"L{layer}.act.c{c}", vec_ns, unit))
                edges.append((t, tid, 0))
                post.append(tid)
            cur = post
        prev, prev_chunks = cur, n_chunks
    return SchedulingProblem(tuple(tasks), tuple(edges), tuple(resources))


def run(name: str, problem: SchedulingProblem, limit_s: float, seed: int) -> None:
    """Print list / exact makespan, bound, gap and times for one instance (latency mode)."""
    opts = SolverOptions(time_limit_s=limit_s, seed=seed, workers=8)
    lb, kind = lower_bound(problem, "latency")
    ls, lstats = solve(problem, "latency", "list", opts)
    t0 = time.perf_counter()
    ex, estats = solve(problem, "latency", "exact", opts)
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
