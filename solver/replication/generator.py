"""Random replication instances for the benchmarks (`cimopt instances --stage replication`):
layer chains with skips (`random_layers`) and a crossbar budget of 3x one copy, so every instance
is feasible at every size.  Seeded and deterministic; times in ns."""
from __future__ import annotations

import random

from cimopt.solver.replication.problem import Layer, ReplicationInstance, ReplicationProblem

#: what an instance's size counts
SIZE_UNIT = "layers"


def random_layers(layers: int, seed: int, budget_per_layer: float = 3.0, mode: str = "throughput"
                  ) -> ReplicationProblem:
    """A chain of ``layers`` crossbar layers with a skip every fourth layer: 1-16 crossbars per
    copy, 49-3136 input vectors, 5-50 ns per vector; the budget is ``budget_per_layer`` times one copy."""
    rng = random.Random(seed)
    out = []
    for i in range(layers):
        out.append(Layer(f"l{i}", rng.randint(1, 16), rng.choice((49, 196, 784, 3136)),
                            float(rng.randint(5, 50)), float(rng.randint(0, 200)), 0, float(rng.randint(100, 2000))))
    edges = tuple((i, i + 1) for i in range(layers - 1)) + tuple((i, i + 3) for i in range(0, layers - 3, 4))
    budget = int(budget_per_layer * sum(x.crossbars for x in out))
    return ReplicationProblem(tuple(out), tuple(sorted(set(edges))), budget, mode)


def instance(layers: int, seed: int, mode: str) -> ReplicationInstance:
    """The stage instance of `random_layers` in ``mode`` (latency | throughput)."""
    p = random_layers(layers, seed, mode="throughput" if mode == "throughput" else "latency")
    return ReplicationInstance(p, tuple(x.name for x in p.layers))
