"""Random granularity instances for the benchmarks (`cimopt instances --stage granularity`): a
chain of crossbar ops with skips and a vector op every third, a task budget of three chunks per
copy on average, so every instance is feasible.  Seeded and deterministic; times in ns."""
from __future__ import annotations

import random

from cimopt.solver.granularity.problem import ChunkOp, GranularityInstance, GranularityProblem

#: what an instance's size counts
SIZE_UNIT = "ops"


def instance(size: int, seed: int, mode: str) -> GranularityInstance:
    """A random stage instance of ``size`` ops in ``mode`` (latency | throughput)."""
    return GranularityInstance(random_problem(size, seed, mode))


def random_problem(size: int, seed: int, mode: str = "latency") -> GranularityProblem:
    """``size`` ops: crossbar ops of 1-64 copies over 49-3136 units at 5-2000 ns per unit and 0-200 ns
    of fill per chunk; every third op a vector op of 1-50 us."""
    rng = random.Random(seed)
    ops = []
    for i in range(size):
        if i % 3 == 2:
            t = rng.randint(1000, 50_000)
            ops.append(ChunkOp(f"v{i}", 0, 0, 0, 0, t_fixed=t, c_fixed=max(1, t // 8)))
            continue
        copies = rng.choice((1, 2, 4, 16, 64))
        units = rng.choice((49, 196, 784, 3136))
        k_max = max(1, min(64, units // copies))
        ops.append(ChunkOp(f"l{i}", copies, units, rng.randint(5, 2000), rng.randint(0, 200), 1, k_max))
    edges = tuple(sorted({(i, i + 1) for i in range(size - 1)} | {(i, i + 3) for i in range(0, size - 3, 4)}))
    budget = 3 * sum(o.copies for o in ops)
    return GranularityProblem(tuple(ops), edges, "throughput" if mode == "throughput" else "latency",
                              max(budget, sum(o.copies for o in ops)))
