"""The benchmark instances: random stage instances (`cimopt instances` writes them, the
benchmarks in experiments/ run them; docs/instances.md describes them).

Scheduling: layered CNN-like task graphs (`layered_instance`); placement: layered chains of
crossbar groups (`layered_chain`) on a mesh scaled to them (`placement_instance`); memory:
random buffer lifetimes (`random_buffers`); replication: random layer chains with skips
(`random_layers`).  Every generator scales its machine with the size, so that every instance
is feasible at every size: a resource per replica (scheduling), cores for 1.5x the crossbars
(placement), an unbounded memory space (memory), a crossbar budget of 3x one copy
(replication).  Every generator is seeded and deterministic; sizes are in the units the
problems use (ns, bytes, crossbars).
"""
from __future__ import annotations

import math
import random

from cimopt.solver.replication import heuristic as rp
from cimopt.solver.memory.problem import Buffer, FrozenMap, MemoryProblem
from cimopt.solver.placement.heuristic import PlacementProblem
from cimopt.solver.scheduling.heuristic import SchedulingProblem, Task
from cimopt.solver.memory.stage import MemoryInstance
from cimopt.solver.placement.stage import PlacementInstance
from cimopt.solver.replication.stage import ReplicationInstance
from cimopt.solver.scheduling.stage import SchedulingInstance

SPACE = "global"


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


def layered_chain(n_groups: int, rows: int, cols: int, crossbars_per_core: int,
                  seed: int) -> PlacementProblem:
    """Random layered chain: layers of 3–8 groups of 1–16 crossbars, all-to-all bytes between
    consecutive layers (100–1000 bytes per pair and inference)."""
    rng = random.Random(seed)
    layers: list[list[int]] = []
    groups: list[int] = []
    while len(groups) < n_groups:
        width = min(rng.randint(3, 8), n_groups - len(groups))
        layers.append(list(range(len(groups), len(groups) + width)))
        groups.extend(rng.randint(1, 16) for _ in range(width))
    traffic = tuple((a, b, float(rng.randint(100, 1000)))
                    for before, after in zip(layers, layers[1:]) for a in before for b in after)
    names = tuple(f"L{li}.{gi}" for li, layer in enumerate(layers) for gi in range(len(layer)))
    return PlacementProblem(tuple(groups), traffic, rows, cols, crossbars_per_core, names)


#: crossbars per core of the generated placement instances (PIMCOMP's evaluation chip)
PLACEMENT_CORE_CROSSBARS = 64
#: cores of a generated placement instance hold at least this many times its crossbars
PLACEMENT_SLACK = 1.5


def placement_mesh(crossbars: int, crossbars_per_core: int = PLACEMENT_CORE_CROSSBARS,
                   slack: float = PLACEMENT_SLACK) -> tuple[int, int]:
    """(rows, cols) of the smallest square-ish mesh whose cores hold ``slack`` times ``crossbars``
    plus one core.  Groups of at most a quarter of a core (`layered_chain`'s 1-16 crossbars in 64)
    then always fit with first fit in any order: a core that refuses a group is more than 3/4
    full, so first fit needs at most crossbars / (3/4 core) + 1 cores, fewer than 1.5x + 1."""
    cores = math.ceil(slack * crossbars / crossbars_per_core) + 1
    rows = max(1, math.isqrt(cores))
    cols = math.ceil(cores / rows)
    return rows, cols


def placement_instance(groups: int, seed: int) -> PlacementProblem:
    """`layered_chain` of ``groups`` groups on a mesh of `PLACEMENT_CORE_CROSSBARS`-crossbar cores
    scaled to the instance (`placement_mesh`): feasible at every size (60 groups: ~510 crossbars
    on a 3x5 mesh; 1000 groups: ~8,350 crossbars on a 14x15 mesh)."""
    probe = layered_chain(groups, 1, 1, PLACEMENT_CORE_CROSSBARS, seed)
    rows, cols = placement_mesh(sum(probe.groups))
    return layered_chain(groups, rows, cols, PLACEMENT_CORE_CROSSBARS, seed)


def random_buffers(n: int, seed: int) -> tuple[Buffer, ...]:
    """``n`` buffers with random start (0 - 100 us), lifetime (0.1 - 10 us) and size (64 B - 64 KiB)."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        start = rng.randrange(0, 100_000)
        out.append(Buffer(f"r{i}", rng.randint(1, 1024) * 64, start,
                          start + rng.randint(100, 10_000), SPACE))
    return tuple(out)


def memory_instance(buffers: int, seed: int, capacity_bytes: int = 1 << 40) -> MemoryProblem:
    """``buffers`` random buffers in one space of ``capacity_bytes`` (no spill), 64-byte aligned."""
    return MemoryProblem(random_buffers(buffers, seed), FrozenMap({SPACE: capacity_bytes}),
                         FrozenMap({SPACE: None}), 64)


def random_layers(layers: int, seed: int, budget_per_layer: float = 3.0, mode: str = "throughput"
                  ) -> rp.ReplicationProblem:
    """A chain of ``layers`` crossbar layers with a skip every fourth layer: 1-16 crossbars per
    copy, 49-3136 input vectors, 5-50 ns per vector; the budget is ``budget_per_layer`` times one copy."""
    rng = random.Random(seed)
    out = []
    for i in range(layers):
        out.append(rp.Layer(f"l{i}", rng.randint(1, 16), rng.choice((49, 196, 784, 3136)),
                            float(rng.randint(5, 50)), float(rng.randint(0, 200)), 0, float(rng.randint(100, 2000))))
    edges = tuple((i, i + 1) for i in range(layers - 1)) + tuple((i, i + 3) for i in range(0, layers - 3, 4))
    budget = int(budget_per_layer * sum(x.crossbars for x in out))
    return rp.ReplicationProblem(tuple(out), tuple(sorted(set(edges))), budget, mode)


#: stages with a generator, and what the size counts
SIZES = {"scheduling": "tasks", "placement": "groups", "memory": "buffers", "replication": "layers"}


def instance(stage: str, size: int, seed: int, mode: str = "latency") -> object:
    """A random instance of ``stage``'s problem type (see `SIZES` for what ``size`` counts)."""
    if stage == "scheduling":
        return SchedulingInstance(scheduling_instance(size, seed), mode)
    if stage == "placement":
        p = placement_instance(size, seed)
        return PlacementInstance((p,), (tuple((n, 0, 0, g) for n, g in zip(p.names, p.groups)),))
    if stage == "memory":
        return MemoryInstance(memory_instance(size, seed), 1)
    if stage == "replication":
        p = random_layers(size, seed, mode="throughput" if mode == "throughput" else "latency")
        return ReplicationInstance(p, tuple(x.name for x in p.layers))
    raise ValueError(f"no generator for stage {stage!r}; generators: {', '.join(SIZES)}")
