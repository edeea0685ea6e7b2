"""Seeded random weights for a model whose own weights say nothing (`--random-weights`).

The onnx package's light graphs fill every weight with one constant (``ConstantOfShape``), so
every output is constant and comparing the machine with onnxruntime proves nothing.
`randomise_weights` returns a copy of a model in which every weight is replaced by seeded
random values; compile and run apply it with the same seed, so the program is compiled from the
very model (same hash) that the machine and onnxruntime then run.

A weight is a floating-point tensor with more than one element that is an initializer, the
output of a ``ConstantOfShape`` whose shape is known, or the value of a ``Constant`` node;
tensors that steer an op rather than feed its arithmetic (Resize/Upsample scales and regions
of interest, Clip bounds, Pad values) and one-element constants (epsilons, 0.5 in GELU) are
kept.  Values: He-scaled normal, ``N(0, 2 / fan_in)``, for the weight input of Conv,
ConvTranspose, Gemm and MatMul; uniform in [0.5, 1.5] for BatchNormalization scales and
variances (so folding stays finite); ``N(0, 0.1^2)`` for the rest (biases, means, ...).  Each
tensor draws from ``default_rng([seed, k])``, ``k`` its rank in name order, so the same model and
seed always give the same values, whatever the node order.

`randomise_light_graph` is the older draw that `cimopt demo`, the tests and the experiments use
on the onnx light graphs (its values are what their figures rest on).
"""
from __future__ import annotations

import numpy as np
import onnx
from onnx import helper, numpy_helper

from cimopt.ir.load import model_name, read_model

#: (op type, input index) whose tensor steers the op: never randomised
_STEERING = {("Resize", 1), ("Resize", 2), ("Upsample", 1), ("Clip", 1), ("Clip", 2), ("Pad", 2),
             ("Pad", 1), ("Slice", 1), ("Slice", 2), ("Slice", 3), ("Slice", 4)}
#: (op type, input index) of a weight matrix whose values are He-scaled
_MATRIX = {("Conv", 1), ("ConvTranspose", 1), ("Gemm", 1), ("MatMul", 1), ("Gemm", 0), ("MatMul", 0)}


def randomise_weights(model: onnx.ModelProto, seed: int = 0) -> onnx.ModelProto:
    """A copy of ``model`` with every weight (see the module docstring) seeded random; the graph,
    its name and everything else unchanged.  ``ConstantOfShape`` weights become initializers."""
    out = onnx.ModelProto()
    out.CopyFrom(model)
    g = out.graph
    inits = {t.name: t for t in g.initializer}
    uses: dict[str, list[tuple[onnx.NodeProto, int]]] = {}
    for n in g.node:
        for k, name in enumerate(n.input):
            uses.setdefault(name, []).append((n, k))

    def is_weight(name: str, shape: tuple[int, ...], dtype: np.dtype) -> bool:
        return (np.issubdtype(dtype, np.floating) and int(np.prod(shape, dtype=np.int64)) > 1
                and not any((n.op_type, k) in _STEERING for n, k in uses.get(name, [])))

    # every weight by name: (its shape, its dtype, how to set it)
    found: dict[str, tuple[tuple[int, ...], np.dtype]] = {}
    for t in g.initializer:
        arr_dtype = np.dtype(helper.tensor_dtype_to_np_dtype(t.data_type))
        shape = tuple(int(d) for d in t.dims)
        if is_weight(t.name, shape, arr_dtype):
            found[t.name] = (shape, arr_dtype)
    constants: dict[str, onnx.NodeProto] = {}
    for n in g.node:
        if n.op_type == "ConstantOfShape" and n.input and n.input[0] in inits:
            shape = tuple(int(d) for d in numpy_helper.to_array(inits[n.input[0]]))
            value = next((a.t for a in n.attribute if a.name == "value"), None)
            dtype = np.dtype(helper.tensor_dtype_to_np_dtype(value.data_type)) if value is not None \
                else np.dtype(np.float32)
            if is_weight(n.output[0], shape, dtype):
                found[n.output[0]] = (shape, dtype)
                constants[n.output[0]] = n
        elif n.op_type == "Constant":
            value = next((a.t for a in n.attribute if a.name == "value" and a.type == onnx.AttributeProto.TENSOR),
                         None)
            if value is not None:
                shape = tuple(int(d) for d in value.dims)
                dtype = np.dtype(helper.tensor_dtype_to_np_dtype(value.data_type))
                if is_weight(n.output[0], shape, dtype):
                    found[n.output[0]] = (shape, dtype)
                    constants[n.output[0]] = n
    for k, name in enumerate(sorted(found)):
        shape, dtype = found[name]
        arr = _values(uses.get(name, []), shape, np.random.default_rng([seed, k])).astype(dtype)
        tensor = numpy_helper.from_array(arr, name)
        if name in inits:
            inits[name].CopyFrom(tensor)
        else:
            g.initializer.append(tensor)
    if constants:
        keep = [n for n in g.node if not (n.output and n.output[0] in constants)]
        del g.node[:]
        g.node.extend(keep)
        out.ir_version = max(out.ir_version, 7)   # initializers need not be graph inputs from IR 4 on
    return out


def _values(uses: list[tuple[onnx.NodeProto, int]], shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    """Random values for a weight of ``shape`` read by ``uses`` (node, input index)."""
    for n, k in uses:
        if n.op_type == "BatchNormalization" and k in (1, 4):
            return rng.uniform(0.5, 1.5, shape)
    for n, k in uses:
        if (n.op_type, k) in _MATRIX and len(shape) >= 2:
            return rng.normal(0.0, np.sqrt(2.0 / max(1, _fan_in(n, k, shape))), shape)
    return rng.normal(0.0, 0.1, shape)


def _fan_in(node: onnx.NodeProto, k: int, shape: tuple[int, ...]) -> int:
    """Inputs summed into one output of ``node`` through its weight ``k`` of ``shape``."""
    if node.op_type == "Conv":
        return int(np.prod(shape[1:]))
    if node.op_type == "ConvTranspose":
        return int(shape[0] * np.prod(shape[2:]))
    if node.op_type == "Gemm":
        trans = next((a.i for a in node.attribute if a.name == ("transB" if k == 1 else "transA")), 0)
        return shape[-1] if (trans if k == 1 else not trans) else shape[0]
    return shape[-2] if k == 1 else shape[-1]   # MatMul: (..., K, N) on the right, (..., M, K) on the left


def randomised_file(path: str, seed: int = 0) -> onnx.ModelProto:
    """The model at ``path`` (read and checked by `ir.load.read_model`; absent external data is
    no matter, every weight is replaced) with seeded random weights, named as the file is."""
    proto = randomise_weights(read_model(path, "random"), seed)
    proto.graph.name = model_name(path)
    return proto


def randomise_light_graph(model: onnx.ModelProto, seed: int = 0) -> onnx.ModelProto:
    """``model`` itself (changed in place) with its ConstantOfShape weights replaced by seeded
    random ones and a final Softmax turned into Identity, so its logits expose arithmetic errors:
    the draw of `cimopt demo` and of the tests and experiments on the onnx light graphs.  One
    generator, ``default_rng(seed)``, draws the weights in node order: He-scaled normal,
    ``N(0, 2 / fan_in)`` with ``fan_in`` the product of all dims but the first, for tensors of
    rank 2 or more; uniform in [0.5, 1.5] for 1-D parameters.  (`randomise_weights`, the draw
    of ``--random-weights``, covers every weight and draws per tensor.)"""
    rng = np.random.default_rng(seed)
    inits = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    outputs = {o.name for o in model.graph.output}
    keep = []
    for n in model.graph.node:
        if n.op_type == "Softmax" and n.output[0] in outputs:
            n.op_type = "Identity"
            del n.attribute[:]
        if n.op_type == "ConstantOfShape" and n.input[0] in inits:
            shape = [int(d) for d in inits[n.input[0]]]
            fan_in = int(np.prod(shape[1:])) if len(shape) > 1 else 0
            w = rng.normal(0, np.sqrt(2 / fan_in), shape) if fan_in else rng.uniform(0.5, 1.5, shape)
            model.graph.initializer.append(numpy_helper.from_array(w.astype(np.float32), n.output[0]))
            continue
        keep.append(n)
    del model.graph.node[:]
    model.graph.node.extend(keep)
    model.ir_version = max(model.ir_version, 7)
    return model
