"""The benchmark instances: a random instance of any stage that has a generator
(`cimopt instances` writes them, the benchmarks in experiments/ run them; docs/instances.md
describes them).  Each stage's generator lives in its subpackage (`Stage.generate`, e.g.
`cimopt.solver.scheduling.generator`); every one is seeded and deterministic and scales its
machine with the size, so that every instance is feasible at every size.
"""
from __future__ import annotations

from cimopt.ir.errors import UsageError
from cimopt.solver.registry import STAGES

#: stages with a generator, and what the size counts
SIZES: dict[str, str] = {s.name: s.size_unit for s in STAGES if s.size_unit}


def instance(stage: str, size: int, seed: int, mode: str = "latency") -> object:
    """A random instance of ``stage``'s problem type (see `SIZES` for what ``size`` counts)."""
    for s in STAGES:
        if s.name == stage and s.size_unit:
            return s.generate(size, seed, mode)
    raise UsageError(f"no generator for stage {stage!r}; generators: {', '.join(SIZES)}")
