"""Seeded random model inputs, and onnxruntime as the reference for outputs."""
from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import numpy as np
import onnx

from cimopt.ir.errors import CimoptError, UsageError
from cimopt.ir.graph import Graph
from cimopt.report.verdict import judge


def random_inputs(graph: Graph, seed: int = 0) -> dict[str, np.ndarray]:
    """One array per graph input: standard normal floats; integers in the range their use allows
    (indices into a Gather's data stay inside its first axis); strings as short random words."""
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
        elif dt == np.dtype(object):   # ONNX strings: short lowercase words
            letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
            words = ["".join(rng.choice(letters, int(rng.integers(1, 9)))) for _ in range(int(np.prod(shape)))]
            out[t] = np.array(words, dtype=object).reshape(shape)
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
    # strings arrive as fixed-width text (an .npz of objects would need pickle): as ONNX strings
    return {t: data[t].astype(object) if graph.spec(t).dtype == "object" else data[t] for t in graph.inputs}


def reference_outputs(model: str | os.PathLike[str] | onnx.ModelProto, inputs: Mapping[str, np.ndarray],
                      names: list[str], intermediates: Sequence[str] = ()) -> dict[str, np.ndarray]:
    """Run the original model in onnxruntime; returns ``names`` and those of ``intermediates``
    (tensors of the model's main graph, made extra outputs) that onnxruntime produces.

    Inputs batched for a program of several inferences (`cimopt.batching`: leading dimension B
    where the model's is fixed to 1) run one inference at a time; the outputs are stacked.
    """
    import onnxruntime as ort

    if intermediates:
        proto = onnx.load(os.fspath(model)) if not isinstance(model, onnx.ModelProto) else model
        copy = onnx.ModelProto()
        copy.CopyFrom(proto)
        have = {o.name for o in copy.graph.output}
        produced = {t for n in copy.graph.node for t in n.output if t}
        extra = [t for t in intermediates if t in produced and t not in have]
        copy.graph.output.extend(onnx.helper.make_empty_tensor_value_info(t) for t in extra)
        model, names = copy, [*names, *extra]
    try:
        src = model.SerializeToString() if isinstance(model, onnx.ModelProto) else os.fspath(model)
        so = ort.SessionOptions()
        so.log_severity_level = 4  # a failure is raised below with its message
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


def compare(ours: Mapping[str, np.ndarray], ref: Mapping[str, np.ndarray]) -> tuple[bool, dict[str, tuple[float, float]]]:
    """(every output matches, per output (max abs error, max relative error)) under the rule of
    `cimopt.report.verdict.judge_tensor`: relative to each tensor's own scale; a degenerate reference
    (all zero, constant, non-finite) is not a match."""
    v = judge(ours, ref, list(ref))
    return v.match, {t.name: (t.max_abs_error, t.rel_error) for t in v.outputs}
