"""Helpers for the graph-pass tests: small ONNX models, light graphs with random weights, and a
functional comparison of a graph before and after a pass in onnxruntime."""
from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

from cimopt.ir.export import to_onnx
from cimopt.ir.graph import Graph, OpSpec
from cimopt.ir.load import load
from cimopt.ir.passes.manager import PassResult

LIGHT_DIR = os.path.join(os.path.dirname(onnx.__file__), "backend", "test", "data", "light")
LIGHT_NAMES = ("bvlc_alexnet", "densenet121", "inception_v1", "inception_v2", "resnet50", "shufflenet",
               "squeezenet", "vgg19", "zfnet512")


def light_path(name: str) -> str:
    """Path of the onnx package's light graph ``light_<name>.onnx``."""
    return os.path.join(LIGHT_DIR, f"light_{name}.onnx")


def make_model(nodes: Sequence[onnx.NodeProto], inputs: Mapping[str, Sequence[int]],
               outputs: Sequence[str], initializers: Mapping[str, np.ndarray] | None = None, *,
               opset: int = 17, input_types: Mapping[str, int] | None = None) -> onnx.ModelProto:
    """A checked model from nodes; inputs are float32 unless ``input_types`` says otherwise.

    Output types and shapes come from ONNX shape inference, or from one onnxruntime run where
    inference leaves them open.
    """
    input_types = input_types or {}
    ins = [helper.make_tensor_value_info(n, input_types.get(n, TensorProto.FLOAT), list(s)) for n, s in inputs.items()]
    outs = [helper.make_empty_tensor_value_info(n) for n in outputs]
    inits = [numpy_helper.from_array(np.asarray(v), k) for k, v in (initializers or {}).items()]
    graph = helper.make_graph(list(nodes), "test", ins, outs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    inferred = onnx.shape_inference.infer_shapes(model, data_prop=True)
    found = {vi.name: vi for vi in [*inferred.graph.value_info, *inferred.graph.output, *inferred.graph.input]}
    vis = [found.get(n) for n in outputs]
    if any(vi is None or not vi.type.tensor_type.HasField("shape") for vi in vis):
        values = run(model, random_feeds(model))
        vis = [helper.make_tensor_value_info(n, helper.np_dtype_to_tensor_dtype(values[n].dtype), values[n].shape)
               for n in outputs]
    del model.graph.output[:]
    model.graph.output.extend(vis)
    onnx.checker.check_model(model)
    return model


def randomized_light(name: str, seed: int = 0) -> onnx.ModelProto:
    """The light graph ``name`` with random weights as initializers and logits as outputs.

    Same idea as experiments/checks/randomize.py: ConstantOfShape weights become He-scaled random
    arrays (BatchNorm scale and variance in [0.5, 1.5]) and a final Softmax becomes Identity,
    so that arithmetic errors show in the outputs.
    """
    rng = np.random.default_rng(seed)
    m = onnx.load(light_path(name))
    inits = {i.name: numpy_helper.to_array(i) for i in m.graph.initializer}
    use: dict[str, tuple[str, int]] = {}
    for n in m.graph.node:
        for k, i in enumerate(n.input):
            use.setdefault(i, (n.op_type, k))
    outputs = {o.name for o in m.graph.output}
    keep = []
    for n in m.graph.node:
        if n.op_type == "Softmax" and n.output[0] in outputs:
            n.op_type = "Identity"
            del n.attribute[:]
        if n.op_type != "ConstantOfShape" or n.input[0] not in inits:
            keep.append(n)
            continue
        shape = [int(d) for d in inits[n.input[0]]]
        op, k = use.get(n.output[0], ("", -1))
        if op in ("Conv", "Gemm") and k == 1:
            fan_in = int(np.prod(shape[1:])) if op == "Conv" else shape[-1]
            w = rng.normal(0.0, np.sqrt(2.0 / max(fan_in, 1)), shape)
        elif op == "BatchNormalization" and k in (1, 4):
            w = rng.uniform(0.5, 1.5, shape)
        else:
            w = rng.normal(0.0, 0.1, shape)
        m.graph.initializer.append(numpy_helper.from_array(w.astype(np.float32), n.output[0]))
    del m.graph.node[:]
    m.graph.node.extend(keep)
    m.ir_version = max(m.ir_version, 7)
    return m


def randomized_light_graph(name: str, seed: int = 0) -> Graph:
    """The light graph ``name`` loaded, with random weights as constants and logits as outputs.

    The graph-level twin of `randomized_light`: it avoids serialising hundreds of megabytes of
    weights (VGG-19), which dominates the test time.  Weights are He-scaled uniform for
    Conv/Gemm, uniform in [0.5, 1.5] for BatchNorm scale and variance, small otherwise.
    """
    rng = np.random.default_rng(seed)
    graph = load(light_path(name))
    for op in graph.ops():
        if op.op_type == "Softmax" and op.outputs[0] in graph.outputs:
            graph.replace_op(OpSpec(op.name, "Identity", op.inputs, op.outputs))
            continue
        if op.op_type != "ConstantOfShape" or op.inputs[0] not in graph.constants:
            continue
        shape = tuple(int(d) for d in graph.constants[op.inputs[0]])
        out = op.outputs[0]
        reader = graph.consumers(out)[0]
        k = reader.inputs.index(out)
        w = _uniform01(rng, shape)
        if reader.op_type in ("Conv", "Gemm") and k == 1:
            fan_in = int(np.prod(shape[1:])) if reader.op_type == "Conv" else shape[-1]
            limit = np.sqrt(6.0 / max(fan_in, 1))
            low, high = -limit, limit
        elif reader.op_type == "BatchNormalization" and k in (1, 4):
            low, high = 0.5, 1.5
        else:
            low, high = -0.15, 0.15
        w *= np.float32(high - low)
        w += np.float32(low)
        graph.remove_op(op.name)
        graph.tensors.pop(out, None)
        graph.constants[out] = w
    graph.prune_constants()
    return graph


#: Arrays larger than this repeat a random block of this (prime) length: generating 140M
#: random numbers for VGG-19 would dominate the test time.
_BLOCK = 1_048_573


def _uniform01(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """A float32 array of ``shape`` with values uniform in [0, 1) (a repeated block when large)."""
    size = int(np.prod(shape, dtype=np.int64))
    if size <= _BLOCK:
        return rng.random(shape, dtype=np.float32)
    block = rng.random(_BLOCK, dtype=np.float32)
    out = np.empty(size, dtype=np.float32)
    for start in range(0, size, _BLOCK):
        n = min(_BLOCK, size - start)
        out[start:start + n] = block[:n]
    return out.reshape(shape)


def run_graph(graph: Graph, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """All outputs of ``graph`` on ``feeds`` from onnxruntime, weights passed as inputs (no copies)."""
    model = to_onnx(graph, weights_as_inputs_over=0)
    inputs = dict(feeds)
    for vi in model.graph.input:
        if vi.name not in inputs:
            inputs[vi.name] = graph.constants[vi.name]
    return run(model, inputs)


def assert_graphs_agree(before: Graph, after: Graph, *, rtol: float = 1e-4, atol: float = 1e-5,
                        seed: int = 0) -> None:
    """``after`` computes what ``before`` computes on random inputs (both exported with `to_onnx`).

    ``atol`` is scaled by the largest magnitude of each reference output (at least 1).
    """
    rng = np.random.default_rng(seed)
    feeds = {t: rng.standard_normal(before.shape(t)).astype(before.spec(t).dtype) for t in before.inputs}
    want = run_graph(before, feeds)
    got = run_graph(after, feeds)
    _compare(want, got, rtol, atol)


def _compare(want: Mapping[str, np.ndarray], got: Mapping[str, np.ndarray], rtol: float, atol: float) -> None:
    assert list(got) == list(want)
    for name, ref in want.items():
        out = got[name]
        assert out.shape == ref.shape, (name, out.shape, ref.shape)
        assert out.dtype == ref.dtype, (name, out.dtype, ref.dtype)
        scale = max(1.0, float(np.max(np.abs(ref)))) if ref.size and ref.dtype.kind == "f" else 1.0
        np.testing.assert_allclose(out, ref, rtol=rtol, atol=atol * scale, err_msg=name)


def random_feeds(model: onnx.ModelProto, seed: int = 0) -> dict[str, np.ndarray]:
    """Random values for the real (non-initializer) inputs of ``model``; all dims must be static."""
    rng = np.random.default_rng(seed)
    inits = {i.name for i in model.graph.initializer}
    feeds = {}
    for vi in model.graph.input:
        if vi.name in inits:
            continue
        t = vi.type.tensor_type
        shape = [d.dim_value for d in t.shape.dim]
        dtype = helper.tensor_dtype_to_np_dtype(t.elem_type)
        if np.issubdtype(dtype, np.integer):
            feeds[vi.name] = rng.integers(0, 4, shape).astype(dtype)
        else:
            feeds[vi.name] = rng.standard_normal(shape).astype(dtype)
    return feeds


def run(model: onnx.ModelProto, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """All graph outputs of ``model`` on ``feeds``, by name, from onnxruntime (no graph optimisation)."""
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    options.log_severity_level = 3
    sess = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    names = [o.name for o in sess.get_outputs()]
    return dict(zip(names, sess.run(names, dict(feeds))))


def assert_same_function(before: onnx.ModelProto, after: Graph, *, rtol: float = 1e-4, atol: float = 1e-5,
                         seed: int = 0) -> None:
    """``after`` (exported with `to_onnx`) computes what ``before`` computes on random inputs.

    ``atol`` is scaled by the largest magnitude of each reference output (at least 1), so deep
    networks with large logits are held to the same relative standard as small tests.
    """
    feeds = random_feeds(before, seed)
    want = run(before, feeds)
    got = run_graph(after, {k: v for k, v in feeds.items() if k in after.inputs})
    assert list(want) == [o.name for o in before.graph.output]
    _compare(want, got, rtol, atol)


def op_types(graph: Graph) -> list[str]:
    """The op types of ``graph`` in topological order."""
    return [op.op_type for op in graph.ops()]


def apply_and_compare(model: onnx.ModelProto, pass_fn: Callable[[Graph], PassResult], *,
                      rtol: float = 1e-4, atol: float = 1e-5) -> PassResult:
    """Load ``model``, run ``pass_fn`` on it, check the result computes what ``model`` computes."""
    result = pass_fn(load(model))
    assert_same_function(model, result.graph, rtol=rtol, atol=atol)
    return result
