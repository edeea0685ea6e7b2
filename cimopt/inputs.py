"""Seeded random model inputs, and onnxruntime as the reference for outputs."""
from __future__ import annotations

import os
from collections.abc import Mapping

import numpy as np
import onnx

from cimopt.ir.errors import CimoptError, UsageError
from cimopt.ir.graph import Graph


def random_inputs(graph: Graph, seed: int = 0) -> dict[str, np.ndarray]:
    """One array per graph input: standard normal floats; integers in the range their use allows
    (indices into a Gather's data stay inside its first axis)."""
    rng = np.random.default_rng(seed)
    out: dict[str, np.ndarray] = {}
    for t in graph.inputs:
        s = graph.spec(t)
        shape = graph.shape(t)
        dt = np.dtype(s.dtype)
        if np.issubdtype(dt, np.floating):
            out[t] = rng.standard_normal(shape).astype(dt)
        elif dt == np.bool_:
            out[t] = rng.integers(0, 2, shape).astype(bool)
        else:
            high = 2
            for c in graph.consumers(t):
                if c.op_type == "Gather" and len(c.inputs) > 1 and c.inputs[1] == t:
                    axis = int(c.attr("axis", 0))
                    data = graph.spec(c.inputs[0])
                    if data.shape is not None:
                        high = max(high, data.shape[axis])
            out[t] = rng.integers(0, high, shape).astype(dt)
    return out


def read_inputs(path: str | os.PathLike[str], graph: Graph) -> dict[str, np.ndarray]:
    p = os.fspath(path)
    try:
        data = dict(np.load(p))
    except (OSError, ValueError) as e:
        raise UsageError(f"{p}: not a readable .npz of inputs ({e})") from None
    missing = [t for t in graph.inputs if t not in data]
    if missing:
        raise UsageError(f"{p}: no array for input(s) {', '.join(missing)} (has {', '.join(data) or 'none'})")
    for t in graph.inputs:
        want = graph.shape(t)
        if tuple(data[t].shape) != tuple(want):
            raise UsageError(f"{p}: input {t} has shape {data[t].shape}, the program was compiled for {want}")
    return {t: data[t] for t in graph.inputs}


def reference_outputs(model: str | os.PathLike[str] | onnx.ModelProto, inputs: Mapping[str, np.ndarray],
                      names: list[str]) -> dict[str, np.ndarray]:
    """Run the original model in onnxruntime.

    Inputs batched for a program of several inferences (`cimopt.batching`: leading dimension B
    where the model's is fixed to 1) run one inference at a time; the outputs are stacked.
    """
    import onnxruntime as ort

    try:
        src = model.SerializeToString() if isinstance(model, onnx.ModelProto) else os.fspath(model)
        so = ort.SessionOptions()
        so.log_severity_level = 3
        sess = ort.InferenceSession(src, so, providers=["CPUExecutionProvider"])
        feeds = {i.name: inputs[i.name] for i in sess.get_inputs() if i.name in inputs}
        batch = {np.shape(feeds[i.name])[0] for i in sess.get_inputs() if i.name in feeds and i.shape
                 and i.shape[0] == 1 and np.ndim(feeds[i.name]) and np.shape(feeds[i.name])[0] > 1}
        if len(batch) == 1:
            b = batch.pop()
            parts = [sess.run(names, {k: v[j:j + 1] for k, v in feeds.items()}) for j in range(b)]
            res = [np.concatenate([p[n] for p in parts], axis=0) for n in range(len(names))]
        else:
            res = sess.run(names, feeds)
    except Exception as e:  # noqa: BLE001 - onnxruntime raises its own types
        raise CimoptError(f"onnxruntime could not run the reference model: {str(e).splitlines()[0][:200]}") from None
    return dict(zip(names, res))


def compare(ours: Mapping[str, np.ndarray], ref: Mapping[str, np.ndarray], rtol: float = 1e-4,
            atol: float = 1e-5) -> tuple[bool, dict[str, tuple[float, float]]]:
    """(all match, per output (max abs error, max relative error)).

    An output matches when every element is finite and ``max|ours - ref| <= atol + rtol * max|ref|``:
    the tolerance is relative to the output tensor's magnitude.  (Element by element, an output
    1000x smaller than the tensor's largest one carries the float32 rounding of the large
    intermediate values both implementations share, which no correct implementation can beat
    short of repeating onnxruntime's summation order.)  Max relative error = max abs error / max|ref|.
    """
    ok = True
    errs: dict[str, tuple[float, float]] = {}
    for k, r in ref.items():
        o = ours.get(k)
        if o is None or o.shape != r.shape:
            errs[k] = (float("inf"), float("inf"))
            ok = False
            continue
        r64, o64 = r.astype(np.float64), o.astype(np.float64)
        diff = np.abs(o64 - r64)
        mabs = float(diff.max()) if diff.size else 0.0
        scale = float(np.abs(r64).max()) if r64.size else 0.0
        errs[k] = (mabs, mabs / scale if scale > 0 else mabs)
        ok &= bool(np.all(np.isfinite(o64))) and mabs <= atol + rtol * scale
    return ok, errs


def elementwise_outliers(ours: Mapping[str, np.ndarray], ref: Mapping[str, np.ndarray], rtol: float = 1e-4,
                         atol: float = 1e-5) -> int:
    """Elements outside ``atol + rtol * |ref|`` (numpy's allclose, element by element), reported beside."""
    n = 0
    for k, r in ref.items():
        o = ours.get(k)
        if o is not None and o.shape == r.shape:
            n += int((~np.isclose(o.astype(np.float64), r.astype(np.float64), rtol=rtol, atol=atol)).sum())
    return n
