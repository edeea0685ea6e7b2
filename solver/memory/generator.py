"""Random memory instances for the benchmarks (`cimopt instances --stage memory`): random buffer
lifetimes (`random_buffers`) in one unbounded space, so every instance is feasible at every
size.  Seeded and deterministic; sizes in bytes, times in ns."""
from __future__ import annotations

import random

from cimopt.solver.memory.problem import Buffer, FrozenMap, MemoryInstance, MemoryProblem

SPACE = "global"

#: what an instance's size counts
SIZE_UNIT = "buffers"


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


def instance(buffers: int, seed: int, mode: str) -> MemoryInstance:
    """The stage instance of `memory_instance`, one inference in flight (``mode`` does not apply)."""
    return MemoryInstance(memory_instance(buffers, seed), 1)
