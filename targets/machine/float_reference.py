"""Float reference of every tensor of a legalised graph, and activation calibration from it.

`float_trace` runs each op of the graph, in topological order, as a one-op onnxruntime model
(`kernels.run_op`, float32): the per-layer reference the accuracy report compares the bit-true
run with.  `calibrate` takes the range of every crossbar op's input over calibration samples and
turns it into that tensor's `ActQuant` (`numerics.act_quant`); `clipping_power` estimates what
the range clips off an input it did not see, for the ADC error model.  Non-finite values (an overflow,
a NaN) are left out of the range, and a tensor with no finite value at all is a `UsageError`.
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from cimopt.ir.errors import UsageError
from cimopt.ir.graph import Graph, OpClass
from cimopt.targets.machine.kernels import dynamic_inputs, run_op
from cimopt.targets.physics.numerics import act_quant, ActQuant


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


def calibration_trace(graph: Graph, samples: Iterable[Mapping[str, np.ndarray]]) -> list[dict[str, np.ndarray]]:
    """Per sample, the float value of every crossbar op's input (`crossbar_inputs`)."""
    names = crossbar_inputs(graph)
    sessions: dict[str, object] = {}
    out = []
    for s in samples:
        vals = float_trace(graph, s, sessions)
        out.append({t: np.asarray(vals[t]) for t in names})
    if not out:
        raise UsageError("calibration needs at least one sample")
    return out


def _finite(v: np.ndarray) -> np.ndarray:
    """``v`` without its non-finite values (an overflow or NaN says nothing of the range)."""
    return v[np.isfinite(v)] if v.dtype.kind == "f" else v.ravel()


def _range(traces: Sequence[Mapping[str, np.ndarray]], t: str) -> tuple[float, float]:
    vs = [f for f in (_finite(tr[t]) for tr in traces) if f.size]
    if not vs:
        return math.inf, -math.inf
    return min(float(f.min()) for f in vs), max(float(f.max()) for f in vs)


def calibrate_from(traces: Sequence[Mapping[str, np.ndarray]], bits: int) -> dict[str, ActQuant]:
    """Quantisers of the crossbar inputs from their min and max over the traced samples."""
    out: dict[str, ActQuant] = {}
    for t in (traces[0] if traces else {}):
        lo, hi = _range(traces, t)
        if not (math.isfinite(lo) and math.isfinite(hi)):
            raise UsageError(f"calibration: tensor {t!r} has no finite values (min {lo}, max {hi})")
        out[t] = act_quant(lo, hi, bits)
    return out


def clipping_power(traces: Sequence[Mapping[str, np.ndarray]]) -> dict[str, float]:
    """Per crossbar input, the mean square of what clipping to the calibrated range removes from
    a sample the calibration did not see, estimated leave-one-out: each sample clipped to the
    range of the others, the mean over samples (0 with a single sample)."""
    out: dict[str, float] = {}
    for t in (traces[0] if traces else {}):
        powers = []
        for k in range(len(traces) if len(traces) > 1 else 0):
            lo, hi = _range([tr for j, tr in enumerate(traces) if j != k], t)
            v = _finite(traces[k][t]).astype(np.float64)
            if v.size and math.isfinite(lo):
                e = v - np.clip(v, lo, hi)
                powers.append(float(np.mean(e * e)))
        out[t] = float(np.mean(powers)) if powers else 0.0
    return out


def calibrate(graph: Graph, samples: Iterable[Mapping[str, np.ndarray]], bits: int) -> dict[str, ActQuant]:
    """Quantisers of the crossbar inputs from their min and max over ``samples``."""
    return calibrate_from(calibration_trace(graph, samples), bits)
