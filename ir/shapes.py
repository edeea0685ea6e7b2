"""Static shape inference for a Graph: ONNX's inference, then onnxruntime for what it leaves open."""
from __future__ import annotations

import numpy as np
import onnx

from cimopt.ir.errors import ModelError, ShapeError
from cimopt.ir.graph import Graph, TensorSpec
from cimopt.ir.skeleton import SMALL_ELEMENTS
from cimopt.ir.validate import check_tensor_sizes
from cimopt.ir.value_info import tensor_spec



def infer_shapes(graph: Graph) -> Graph:
    """Fill in `graph.tensors` for every op output; returns the same graph.

    Raises ShapeError when a graph input has no static shape.
    """
    from cimopt.ir.export import to_onnx

    for t in graph.inputs:
        if not graph.spec(t).known:
            raise ShapeError(f"input {t!r} has no static shape; give one with --input-shape {t}=D0xD1x...")
    model = to_onnx(graph, weights_as_inputs_over=SMALL_ELEMENTS, value_infos=False)
    try:
        inferred = onnx.shape_inference.infer_shapes(model, check_type=False, strict_mode=False, data_prop=True)
    except Exception as e:  # noqa: BLE001 - onnx raises InferenceError and others
        raise ModelError(f"ONNX shape inference failed: {str(e).splitlines()[0][:200]}") from None
    found: dict[str, TensorSpec] = {}
    for vi in [*inferred.graph.value_info, *inferred.graph.output]:
        if vi.type.HasField("tensor_type"):
            s = tensor_spec(vi)
            if s.shape is not None:
                found[vi.name] = s
    check_tensor_sizes(found.values(), graph.name or "model")
    missing = []
    used = graph.used_tensors()
    for op in graph.ops():
        for t in op.outputs:
            if not t or t in graph.constants:
                continue
            if t in found:
                graph.tensors[t] = found[t]
            elif not graph.spec(t).known and t in used:
                missing.append(t)
    if missing:
        _measure_shapes(graph, missing)
    return graph


def _measure_shapes(graph: Graph, missing: list[str]) -> None:
    """Shapes ONNX inference could not derive, measured by running the model once in onnxruntime."""
    import onnxruntime as ort

    from cimopt.ir.export import to_onnx

    model = to_onnx(graph, value_infos=False)
    have = {o.name for o in model.graph.output}
    for t in missing:
        if t not in have:
            model.graph.output.append(onnx.helper.make_empty_tensor_value_info(t))
    rng = np.random.default_rng(0)
    feeds = {}
    for t in graph.inputs:
        s = graph.spec(t)
        assert s.shape is not None
        if np.issubdtype(np.dtype(s.dtype), np.integer):
            feeds[t] = np.zeros(s.shape, dtype=s.dtype)
        else:
            feeds[t] = rng.random(s.shape).astype(s.dtype)
    try:
        sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
        names = [o.name for o in sess.get_outputs()]
        values = dict(zip(names, sess.run(None, feeds)))
    except Exception as e:  # noqa: BLE001
        raise ShapeError(f"cannot determine the shapes of {', '.join(missing[:5])}: ONNX shape inference left "
                         f"them open and onnxruntime could not run the model ({str(e).splitlines()[0][:160]})") \
            from None
    for t in missing:
        v = values[t]
        graph.tensors[t] = TensorSpec(t, tuple(int(d) for d in v.shape), v.dtype.name)
