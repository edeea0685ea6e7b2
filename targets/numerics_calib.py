"""Float reference of every tensor of a legalised graph, and activation calibration from it.

`float_trace` runs each op of the graph, in topological order, as a one-op onnxruntime model
(`kernels.run_op`, float32): the per-layer reference the accuracy report compares the bit-true
run with.  `calibrate` takes the range of every crossbar op's input over calibration samples and
turns it into that tensor's `ActQuant` (`numerics.act_quant`); non-finite values (an overflow,
a NaN) are left out of the range, and a tensor with no finite value at all is a `UsageError`.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np

from ..ir.errors import UsageError
from ..ir.graph import Graph, OpClass
from .kernels import dynamic_inputs, run_op
from .numerics import ActQuant, act_quant


def float_trace(graph: Graph, inputs: Mapping[str, np.ndarray],
                sessions: dict[str, object] | None = None) -> dict[str, np.ndarray]:
    """Every tensor's float32 value for ``inputs`` (graph input name -> array)."""
    missing = [t for t in graph.inputs if t not in inputs]
    if missing:
        raise UsageError(f"no value for graph input(s) {', '.join(missing)}")
    values: dict[str, np.ndarray] = {t: np.asarray(inputs[t]) for t in graph.inputs}
    cache = sessions if sessions is not None else {}
    for op in graph.ops():
        outs = run_op(graph, op, [values[t] for t in dynamic_inputs(graph, op)], cache)
        for t, v in zip([t for t in op.outputs if t], outs):
            values[t] = v
    return values


def crossbar_inputs(graph: Graph) -> list[str]:
    """The first input of every crossbar op, each once: the tensors the DACs stream."""
    seen: list[str] = []
    for op in graph.ops():
        if op.op_class is OpClass.CROSSBAR and op.inputs[0] not in seen:
            seen.append(op.inputs[0])
    return seen


def calibrate(graph: Graph, samples: Iterable[Mapping[str, np.ndarray]], bits: int) -> dict[str, ActQuant]:
    """Quantisers of the crossbar inputs from their min and max over ``samples``."""
    names = crossbar_inputs(graph)
    lo = {t: np.inf for t in names}
    hi = {t: -np.inf for t in names}
    sessions: dict[str, object] = {}
    count = 0
    for s in samples:
        vals = float_trace(graph, s, sessions)
        count += 1
        for t in names:
            v = np.asarray(vals[t])
            v = v[np.isfinite(v)] if v.dtype.kind == "f" else v   # an overflow or NaN says nothing of the range
            if v.size:
                lo[t] = min(lo[t], float(np.min(v)))
                hi[t] = max(hi[t], float(np.max(v)))
    if count == 0:
        raise UsageError("calibration needs at least one sample")
    out: dict[str, ActQuant] = {}
    for t in names:
        if not (np.isfinite(lo[t]) and np.isfinite(hi[t])):
            raise UsageError(f"calibration: tensor {t!r} has no finite values (min {lo[t]}, max {hi[t]})")
        out[t] = act_quant(lo[t], hi[t], bits)
    return out
