"""Random scheduling instances for the benchmarks (`cimopt instances --stage scheduling`):
layered CNN-like task graphs (`layered_instance`) with a resource per replica, so every instance
is feasible at every size.  Seeded and deterministic; durations in ns."""
from __future__ import annotations

import math
import random

from cimopt.solver.scheduling.problem import SchedulingInstance, SchedulingProblem, Task

#: what an instance's size counts
SIZE_UNIT = "tasks"


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


def scheduling_instance(tasks: int, seed: int) -> SchedulingProblem:
    """A layered instance of about ``tasks`` tasks: 24 layers of ``tasks / 32`` row chunks."""
    layers = 24
    return layered_instance(layers, max(1, math.ceil(tasks * 3 / (4 * layers))), seed)


def instance(tasks: int, seed: int, mode: str) -> SchedulingInstance:
    """The stage instance of `scheduling_instance` in ``mode`` (latency | throughput)."""
    return SchedulingInstance(scheduling_instance(tasks, seed), mode)
