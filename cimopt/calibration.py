"""Calibration inputs for the activation quantisers and the ADC error model: a user's .npz, or
seeded random inputs that are never the run's own."""
from __future__ import annotations

import numpy as np

from cimopt.ir.errors import UsageError
from cimopt.ir.graph import Graph

from .inputs import random_inputs

CALIBRATION_SAMPLES = 2   # default: seeded random inputs, seeds seed+1 .. seed+2 (never the run's own input)


def calibration_samples(path: str | None, graph: Graph, seed: int) -> list[dict[str, np.ndarray]]:
    """Samples from the .npz at ``path`` (one array per input, of its shape or with a leading
    sample axis), or `CALIBRATION_SAMPLES` seeded random inputs when ``path`` is None."""
    if path is None:
        return [random_inputs(graph, seed + 1 + k) for k in range(CALIBRATION_SAMPLES)]
    try:
        data = dict(np.load(path))
    except (OSError, ValueError) as e:
        raise UsageError(f"{path}: not a readable .npz of calibration inputs ({e})") from None
    counts = set()
    for t in graph.inputs:
        if t not in data:
            raise UsageError(f"{path}: no array for input {t} (has {', '.join(data) or 'none'})")
        want, got = tuple(graph.shape(t)), tuple(data[t].shape)
        if got == want:
            counts.add(0)
        elif got[1:] == want and got[0] >= 1:
            counts.add(got[0])
        else:
            raise UsageError(f"{path}: input {t} has shape {got}; expected {want} or "
                             f"(samples, {', '.join(map(str, want))})")
    if len(counts) != 1:
        raise UsageError(f"{path}: inputs disagree on the number of samples")
    n = counts.pop()
    if n == 0:
        return [{t: data[t] for t in graph.inputs}]
    return [{t: data[t][k] for t in graph.inputs} for k in range(n)]
