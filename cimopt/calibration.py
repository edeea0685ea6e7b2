"""Calibration inputs for the activation quantisers and the ADC error model (a user's .npz, or
seeded random inputs that are never the run's own), and the error model's per-layer signals
(`layer_signals`) taken from the float values of a sample."""
from __future__ import annotations

import zipfile
from collections.abc import Mapping

import numpy as np

from cimopt.cost.adc_error import layer_signal, LayerSignal
from cimopt.inputs import random_inputs
from cimopt.ir.errors import UsageError
from cimopt.ir.graph import Graph, OpClass
from cimopt.ir.written import is_written
from cimopt.targets.machine.float_reference import float_trace
from cimopt.targets.physics.numerics import ActQuant
from cimopt.targets.spec import Target

CALIBRATION_SAMPLES = 2   # default: seeded random inputs, seeds seed+1 .. seed+2 (never the run's own input)


def calibration_samples(path: str | None, graph: Graph, seed: int) -> list[dict[str, np.ndarray]]:
    """Samples from the .npz at ``path`` (one array per input, of its shape or with a leading
    sample axis, its values convertible to the input's element type), or `CALIBRATION_SAMPLES`
    seeded random inputs when ``path`` is None.  Missing or extra names, wrong shapes and element
    types are a `UsageError` naming the input."""
    if path is None:
        return [random_inputs(graph, seed + 1 + k) for k in range(CALIBRATION_SAMPLES)]
    try:
        loaded = np.load(path)
        if not isinstance(loaded, np.lib.npyio.NpzFile):
            raise UsageError(f"{path}: a single array, not a .npz archive of named calibration inputs "
                             f"(write one with numpy.savez(path, INPUT_NAME=array, ...))")
        with loaded as z:
            data = {k: np.asarray(z[k]) for k in z.files}
    except (OSError, ValueError, TypeError, EOFError, AttributeError, zipfile.BadZipFile) as e:
        raise UsageError(f"{path}: not a readable .npz of calibration inputs ({e})") from None
    counts = set()
    for t in graph.inputs:
        if t not in data:
            raise UsageError(f"{path}: no array for input {t} (has {', '.join(data) or 'none'})")
        data[t] = _as_input_dtype(path, t, data[t], np.dtype(graph.spec(t).dtype))
        want, got = tuple(graph.shape(t)), tuple(data[t].shape)
        if got == want:
            counts.add(0)
        elif got[1:] == want and got[0] >= 1:
            counts.add(got[0])
        else:
            raise UsageError(f"{path}: input {t} has shape {got}; expected {want} or "
                             f"(samples, {', '.join(map(str, want))})")
    extra = sorted(set(data) - set(graph.inputs))
    if extra:
        raise UsageError(f"{path}: array(s) {', '.join(extra)} name no model input (inputs: "
                         f"{', '.join(graph.inputs)})")
    if len(counts) != 1:
        raise UsageError(f"{path}: inputs disagree on the number of samples")
    n = counts.pop()
    if n == 0:
        return [{t: data[t] for t in graph.inputs}]
    return [{t: data[t][k] for t in graph.inputs} for k in range(n)]


def _as_input_dtype(path: str, name: str, a: np.ndarray, want: np.dtype) -> np.ndarray:
    """``a`` as the input's element type; a `UsageError` when its values cannot be that type
    (not numbers, complex, fractions for an integer input, out of an integer type's range)."""
    if a.dtype.kind not in "biuf":
        raise UsageError(f"{path}: input {name} has element type {a.dtype}; expected {want} (real numbers)")
    if want.kind == "f":
        return a.astype(want)
    if want.kind in "iu":
        info = np.iinfo(want)
        if a.dtype.kind == "f" and (not np.all(np.isfinite(a)) or np.any(a != np.rint(a))):
            raise UsageError(f"{path}: input {name} is {want} but the array holds non-integer values")
        if a.size and (a.min() < info.min or a.max() > info.max):
            raise UsageError(f"{path}: input {name} is {want} but the array holds values outside "
                             f"[{info.min}, {info.max}]")
        return a.astype(want)
    if want.kind == "b":
        return a.astype(want)
    raise UsageError(f"{path}: input {name} has element type {want}, which calibration cannot feed")


def layer_signals(graph: Graph, target: Target, activations: Mapping[str, ActQuant],
                  sample: Mapping[str, np.ndarray], clipping: Mapping[str, float] | None = None
                  ) -> dict[str, LayerSignal]:
    """The ADC error model's inputs for every crossbar op, from the float values on ``sample``;
    ``clipping``: per crossbar input the clipping estimate (`targets.machine.float_reference.clipping_power`)."""
    ref = float_trace(graph, sample)
    clip = clipping or {}
    return {op.name: layer_signal(graph, op, target.precision.weight_bits, activations[op.inputs[0]],
                                  ref[op.outputs[0]],
                                  {op.inputs[1]: ref[op.inputs[1]]} if is_written(graph, op) else None,
                                  ref[op.inputs[0]], clip.get(op.inputs[0], 0.0))
            for op in graph.ops() if op.op_class is OpClass.CROSSBAR}
