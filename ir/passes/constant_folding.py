"""Constant folding: ops whose result does not depend on the graph inputs become constants.

Rules
  * An op in a standard ONNX domain (or ``ai.cimopt::Linear``) whose inputs, including the
    inputs of a fused activation, are all in `Graph.constants` is evaluated; its outputs go to
    `Graph.constants` and the op is removed.  Ops with no inputs (``Constant``) count too.
  * ``Shape`` and ``Size`` of any tensor with a known static shape fold, constant or not.
  * Common shape-arithmetic ops (the Shape/Gather/Unsqueeze/Concat/Reshape chains PyTorch
    exports, ConstantOfShape weights, Cast, Slice, Range, elementwise arithmetic, ...) are
    evaluated in numpy; any other op is run as a one-node model in onnxruntime.
  * Never folded: random ops (RandomNormal, RandomUniform, *Like, Multinomial, Bernoulli),
    Dropout in training mode, ops with graph attributes (If, Loop, Scan), sequence and
    optional ops, ops of other domains, and ops onnxruntime cannot run on their own (they are
    left as they are).
  * An output that is also a graph output keeps its name: the value becomes a constant under
    a fresh name, read by an ``Identity`` that produces the graph output (an ``Identity`` of a
    constant that produces a graph output is therefore itself never folded).

Preconditions: the graph's op order is topological (as `Graph.ops` gives it).  Constants that
nothing reads any more are dropped (`Graph.prune_constants`) when the pass changed the graph.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import onnx
from onnx import helper, numpy_helper

from ..export import op_nodes
from ..graph import CIMOPT_DOMAIN, STANDARD_DOMAINS, Graph, OpSpec, TensorSpec
from .base import PassResult

#: Op types whose result is random: never folded.
NONDETERMINISTIC = frozenset({"RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike",
                              "Multinomial", "Bernoulli"})
#: Op types with subgraphs, or with sequence/optional values, that the pass does not evaluate.
NOT_FOLDED = frozenset({"If", "Loop", "Scan", "SplitToSequence"})
NOT_FOLDED_PREFIXES = ("Sequence", "Optional")

Arrays = list[np.ndarray | None]
Evaluator = Callable[[OpSpec, Arrays, int], list[np.ndarray] | None]


# ---- numpy evaluators ------------------------------------------------------------------------
# Each takes (op, input arrays (None for an omitted input), default-domain opset) and returns the
# output arrays, or None when the case is not covered (then onnxruntime evaluates the op).

def _constant(op: OpSpec, xs: Arrays, opset: int) -> list[np.ndarray] | None:
    for key, v in op.attrs:
        if key == "value" and isinstance(v, np.ndarray):
            return [v]
        if key == "value_float":
            return [np.array(v, dtype=np.float32)]
        if key == "value_floats":
            return [np.array(v, dtype=np.float32)]
        if key == "value_int":
            return [np.array(v, dtype=np.int64)]
        if key == "value_ints":
            return [np.array(v, dtype=np.int64)]
    return None


def _constant_of_shape(op: OpSpec, xs: Arrays, opset: int) -> list[np.ndarray] | None:
    shape = xs[0]
    assert shape is not None
    value = op.attr("value")
    v = value.reshape(-1)[0] if isinstance(value, np.ndarray) else np.float32(0.0)
    return [np.full(tuple(int(d) for d in shape), v, dtype=v.dtype)]


def _identity(op: OpSpec, xs: Arrays, opset: int) -> list[np.ndarray] | None:
    assert xs[0] is not None
    return [xs[0]]


def _dropout(op: OpSpec, xs: Arrays, opset: int) -> list[np.ndarray] | None:
    x = xs[0]
    assert x is not None
    return [x, np.ones(x.shape, dtype=bool if opset >= 10 else x.dtype)][:len(op.outputs)]


def _cast(op: OpSpec, xs: Arrays, opset: int) -> list[np.ndarray] | None:
    x = xs[0]
    assert x is not None
    to = op.attr("to")
    if isinstance(to, str) or x.dtype.kind in "OSU":
        return None
    try:
        dtype = np.dtype(helper.tensor_dtype_to_np_dtype(int(to)))
    except (KeyError, TypeError, ValueError):
        return None
    if dtype.kind not in "biuf" or dtype.name not in ("bool", "int8", "int16", "int32", "int64", "uint8", "uint16",
                                                       "uint32", "uint64", "float16", "float32", "float64"):
        return None
    if dtype.kind in "iu" and x.dtype.kind == "f" and not np.all(np.isfinite(x)):
        return None
    return [x.astype(dtype)]


def _axes_arg(op: OpSpec, xs: Arrays, opset: int, since: int) -> tuple[int, ...] | None:
    """Axes from the attribute (before opset ``since``) or from the second input."""
    if opset >= since:
        a = xs[1] if len(xs) > 1 else None
        return None if a is None else tuple(int(v) for v in a.reshape(-1))
    v = op.attr("axes")
    return None if v is None else tuple(int(a) for a in v)


def _unsqueeze(op: OpSpec, xs: Arrays, opset: int) -> list[np.ndarray] | None:
    x = xs[0]
    assert x is not None
    axes = _axes_arg(op, xs, opset, 13)
    if axes is None:
        return None
    return [np.expand_dims(x, axes)]


def _squeeze(op: OpSpec, xs: Arrays, opset: int) -> list[np.ndarray] | None:
    x = xs[0]
    assert x is not None
    axes = _axes_arg(op, xs, opset, 13)
    return [np.squeeze(x) if axes is None else np.squeeze(x, axis=axes)]


def _shape_of(shape: Sequence[int], op: OpSpec) -> np.ndarray:
    start, end = op.attr("start", 0), op.attr("end")
    dims = list(shape)[start:end] if end is not None else list(shape)[start:]
    return np.array(dims, dtype=np.int64)


def _shape(op: OpSpec, xs: Arrays, opset: int) -> list[np.ndarray] | None:
    assert xs[0] is not None
    return [_shape_of(xs[0].shape, op)]


def _size(op: OpSpec, xs: Arrays, opset: int) -> list[np.ndarray] | None:
    assert xs[0] is not None
    return [np.array(xs[0].size, dtype=np.int64)]


def _gather(op: OpSpec, xs: Arrays, opset: int) -> list[np.ndarray] | None:
    data, idx = xs[0], xs[1]
    assert data is not None and idx is not None
    return [np.take(data, idx.astype(np.int64), axis=op.attr("axis", 0))]


def _concat(op: OpSpec, xs: Arrays, opset: int) -> list[np.ndarray] | None:
    parts = [x for x in xs if x is not None]
    return [np.concatenate(parts, axis=op.attr("axis"))]


def _reshape(op: OpSpec, xs: Arrays, opset: int) -> list[np.ndarray] | None:
    x = xs[0]
    if opset < 5:
        shape_v = op.attr("shape")
        if shape_v is None:
            return None
        shape = [int(d) for d in shape_v]
    else:
        s = xs[1]
        assert s is not None
        shape = [int(d) for d in s.reshape(-1)]
    assert x is not None
    if not op.attr("allowzero", 0):
        shape = [x.shape[i] if d == 0 else d for i, d in enumerate(shape)]
    return [x.reshape(shape)]


def _flatten(op: OpSpec, xs: Arrays, opset: int) -> list[np.ndarray] | None:
    x = xs[0]
    assert x is not None
    axis = op.attr("axis", 1)
    if axis < 0:
        axis += x.ndim
    outer = int(np.prod(x.shape[:axis], dtype=np.int64))
    inner = int(np.prod(x.shape[axis:], dtype=np.int64))
    return [x.reshape(outer, inner)]


def _transpose(op: OpSpec, xs: Arrays, opset: int) -> list[np.ndarray] | None:
    x = xs[0]
    assert x is not None
    perm = op.attr("perm")
    return [np.transpose(x, None if perm is None else tuple(perm))]


def _slice(op: OpSpec, xs: Arrays, opset: int) -> list[np.ndarray] | None:
    x = xs[0]
    assert x is not None
    if opset < 10:
        starts, ends = list(op.attr("starts", ())), list(op.attr("ends", ()))
        axes_v = op.attr("axes")
        axes = list(axes_v) if axes_v is not None else list(range(len(starts)))
        steps = [1] * len(starts)
    else:
        s, e = xs[1], xs[2]
        assert s is not None and e is not None
        starts, ends = [int(v) for v in s], [int(v) for v in e]
        a = xs[3] if len(xs) > 3 else None
        st = xs[4] if len(xs) > 4 else None
        axes = [int(v) for v in a] if a is not None else list(range(len(starts)))
        steps = [int(v) for v in st] if st is not None else [1] * len(starts)
    index = [slice(None)] * x.ndim
    for start, end, axis, step in zip(starts, ends, axes, steps):
        if step == 0:
            return None
        index[axis + x.ndim if axis < 0 else axis] = slice(int(start), int(end), int(step))
    return [x[tuple(index)]]


def _range(op: OpSpec, xs: Arrays, opset: int) -> list[np.ndarray] | None:
    start, limit, delta = xs[0], xs[1], xs[2]
    assert start is not None and limit is not None and delta is not None
    dtype = start.dtype
    n = max(int(np.ceil((float(limit) - float(start)) / float(delta))), 0)
    if dtype.kind in "iu":
        return [(start + delta * np.arange(n, dtype=dtype)).astype(dtype)]
    return None


def _expand(op: OpSpec, xs: Arrays, opset: int) -> list[np.ndarray] | None:
    x, s = xs[0], xs[1]
    assert x is not None and s is not None
    shape = np.broadcast_shapes(x.shape, tuple(int(d) for d in s))
    return [np.array(np.broadcast_to(x, shape))]


def _int_div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Integer division truncating toward zero, as ONNX (C) does."""
    q = np.abs(a) // np.abs(b)
    return np.where((a < 0) != (b < 0), -q, q).astype(np.result_type(a, b))


def _binary(fn: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> Evaluator:
    def ev(op: OpSpec, xs: Arrays, opset: int) -> list[np.ndarray] | None:
        a, b = xs[0], xs[1]
        assert a is not None and b is not None
        if a.dtype != b.dtype or a.dtype.kind not in "iuf":
            return None
        if opset < 7 and op.attr("broadcast", 0):
            return None
        return [np.asarray(fn(a, b), dtype=a.dtype)]
    return ev


def _div(op: OpSpec, xs: Arrays, opset: int) -> list[np.ndarray] | None:
    a, b = xs[0], xs[1]
    assert a is not None and b is not None
    if a.dtype != b.dtype or (opset < 7 and op.attr("broadcast", 0)):
        return None
    if a.dtype.kind in "iu":
        if np.any(b == 0):
            return None
        return [_int_div(a, b)]
    if a.dtype.kind == "f":
        with np.errstate(divide="ignore", invalid="ignore"):
            return [np.asarray(a / b, dtype=a.dtype)]
    return None


def _compare(fn: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> Evaluator:
    def ev(op: OpSpec, xs: Arrays, opset: int) -> list[np.ndarray] | None:
        a, b = xs[0], xs[1]
        assert a is not None and b is not None
        if a.dtype != b.dtype or a.dtype.kind not in "biuf":
            return None
        return [np.asarray(fn(a, b), dtype=bool)]
    return ev


def _where(op: OpSpec, xs: Arrays, opset: int) -> list[np.ndarray] | None:
    c, a, b = xs[0], xs[1], xs[2]
    assert c is not None and a is not None and b is not None
    if a.dtype != b.dtype:
        return None
    return [np.where(c.astype(bool), a, b)]


def _not(op: OpSpec, xs: Arrays, opset: int) -> list[np.ndarray] | None:
    assert xs[0] is not None
    return [np.logical_not(xs[0])]


def _neg(op: OpSpec, xs: Arrays, opset: int) -> list[np.ndarray] | None:
    x = xs[0]
    assert x is not None
    return [np.negative(x)] if x.dtype.kind in "if" else None


def _abs(op: OpSpec, xs: Arrays, opset: int) -> list[np.ndarray] | None:
    x = xs[0]
    assert x is not None
    return [np.abs(x)] if x.dtype.kind in "iuf" else None


def _variadic(fn: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> Evaluator:
    def ev(op: OpSpec, xs: Arrays, opset: int) -> list[np.ndarray] | None:
        parts = [x for x in xs if x is not None]
        if not parts or len({p.dtype for p in parts}) != 1 or parts[0].dtype.kind not in "iuf":
            return None
        out = parts[0]
        for p in parts[1:]:
            out = fn(out, p)
        return [np.asarray(out, dtype=parts[0].dtype)]
    return ev


def _linear(op: OpSpec, xs: Arrays, opset: int) -> list[np.ndarray] | None:
    x, w = xs[0], xs[1]
    assert x is not None and w is not None
    b = xs[2] if len(xs) > 2 else None
    if x.dtype.kind != "f":
        return None
    y = np.matmul(x, w)
    return [y if b is None else (y + b).astype(y.dtype)]


EVALUATORS: dict[str, Evaluator] = {
    "Constant": _constant,
    "ConstantOfShape": _constant_of_shape,
    "Identity": _identity,
    "Dropout": _dropout,
    "Cast": _cast,
    "Unsqueeze": _unsqueeze,
    "Squeeze": _squeeze,
    "Shape": _shape,
    "Size": _size,
    "Gather": _gather,
    "Concat": _concat,
    "Reshape": _reshape,
    "Flatten": _flatten,
    "Transpose": _transpose,
    "Slice": _slice,
    "Range": _range,
    "Expand": _expand,
    "Add": _binary(np.add),
    "Sub": _binary(np.subtract),
    "Mul": _binary(np.multiply),
    "Div": _div,
    "Equal": _compare(np.equal),
    "Less": _compare(np.less),
    "Greater": _compare(np.greater),
    "LessOrEqual": _compare(np.less_equal),
    "GreaterOrEqual": _compare(np.greater_equal),
    "And": _compare(np.logical_and),
    "Or": _compare(np.logical_or),
    "Where": _where,
    "Not": _not,
    "Neg": _neg,
    "Abs": _abs,
    "Max": _variadic(np.maximum),
    "Min": _variadic(np.minimum),
    "Sum": _variadic(np.add),
}


# ---- onnxruntime fallback --------------------------------------------------------------------

def _run_onnxruntime(graph: Graph, op: OpSpec) -> list[np.ndarray] | None:
    """Outputs of ``op`` (with its fused activation) on constant inputs, from onnxruntime.

    Returns None when onnxruntime cannot run the op on its own; the op then stays unfolded.
    """
    import onnxruntime as ort

    nodes = op_nodes(op)
    read = [t for n in nodes for t in n.input if t and t in graph.constants]
    # np.require keeps 0-d arrays 0-d (np.ascontiguousarray would make them 1-d)
    inits = [numpy_helper.from_array(np.require(graph.constants[t], requirements="C"), t) for t in dict.fromkeys(read)]
    outs = [t for t in op.outputs if t]
    g = helper.make_graph(nodes, "fold", [], [helper.make_empty_tensor_value_info(t) for t in outs], inits)
    opsets = [helper.make_opsetid(d, v) for d, v in sorted(graph.opsets.items()) if d != CIMOPT_DOMAIN]
    if not any(o.domain in ("", "ai.onnx") for o in opsets):
        opsets.append(helper.make_opsetid("", 17))
    model = helper.make_model(g, opset_imports=opsets, producer_name="cimopt")
    model.ir_version = max(7, helper.find_min_ir_version_for(opsets, True))
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    options.log_severity_level = 4
    try:
        sess = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
        values = sess.run(outs, {})
    except Exception:  # noqa: BLE001 - onnxruntime raises its own unrelated types; the op stays as it is
        return None
    got = iter(values)
    return [np.asarray(next(got)) if t else np.empty(0) for t in op.outputs]


# ---- the pass --------------------------------------------------------------------------------

def _foldable(graph: Graph, op: OpSpec) -> bool:
    """Whether ``op`` is deterministic and of a kind the pass evaluates (inputs not checked)."""
    if op.op_type in NONDETERMINISTIC or op.op_type in NOT_FOLDED or op.op_type.startswith(NOT_FOLDED_PREFIXES):
        return False
    if op.op_type == "Dropout" and len(op.inputs) > 2 and op.inputs[2]:
        training = graph.constants.get(op.inputs[2])
        if training is None or bool(training.reshape(-1)[0]):
            return False
    if op.domain == CIMOPT_DOMAIN:
        return op.op_type == "Linear"
    if op.domain not in STANDARD_DOMAINS:
        return False
    return not any(isinstance(v, onnx.GraphProto) or (isinstance(v, tuple) and v and isinstance(v[0], onnx.GraphProto))
                   for _, v in op.attrs)


def _apply_activation(op: OpSpec, outs: list[np.ndarray]) -> list[np.ndarray] | None:
    """``outs`` with the op's fused activation applied to the first output (only Relu in numpy)."""
    act = op.activation
    if act is None:
        return outs
    if act.op_type == "Relu" and outs[0].dtype.kind == "f":
        return [np.maximum(outs[0], 0).astype(outs[0].dtype), *outs[1:]]
    return None


def _evaluate(graph: Graph, op: OpSpec, opset: int) -> list[np.ndarray] | None:
    """The output values of ``op`` when its inputs are constants, or None if it cannot be folded."""
    xs: Arrays = [graph.constants[t] if t else None for t in op.inputs]
    ev = EVALUATORS.get(op.op_type) if op.domain in ("", "ai.onnx") else \
        (_linear if op.domain == CIMOPT_DOMAIN and op.op_type == "Linear" else None)
    if ev is not None:
        outs = ev(op, xs, opset)
        if outs is not None:
            with_act = _apply_activation(op, outs)
            if with_act is not None:
                return with_act
    return _run_onnxruntime(graph, op)


def _static_shape_value(graph: Graph, op: OpSpec) -> np.ndarray | None:
    """The value of a Shape/Size op whose input has a known static shape, or of a CastLike of a
    constant (it needs only the dtype of its second input, which is known)."""
    if op.domain not in ("", "ai.onnx") or op.activation is not None:
        return None
    if op.op_type == "CastLike" and op.inputs[0] in graph.constants:
        like = graph.spec(op.inputs[1])
        if like.shape is None and op.inputs[1] not in graph.constants and op.inputs[1] not in graph.tensors:
            return None
        return np.asarray(graph.constants[op.inputs[0]]).astype(like.dtype)
    if op.op_type not in ("Shape", "Size"):
        return None
    spec = graph.spec(op.inputs[0])
    if not spec.known:
        return None
    assert spec.shape is not None
    if op.op_type == "Size":
        return np.array(int(np.prod(spec.shape, dtype=np.int64)), dtype=np.int64)
    return _shape_of(spec.shape, op)


def _store(graph: Graph, op: OpSpec, values: Sequence[np.ndarray]) -> None:
    """Replace ``op`` by constants; graph outputs are kept by an Identity of a fresh constant."""
    graph.remove_op(op.name)
    outputs = set(graph.outputs)
    for t, v in zip(op.outputs, values):
        if not t:
            continue
        v = np.asarray(v)
        if t in outputs:
            c = graph.fresh_name(f"{t}__const")
            graph.constants[c] = v
            graph.tensors.pop(t, None)
            kept = list(graph.outputs)
            graph.replace_uses(t, c)  # readers get the constant; the graph output keeps its name
            graph.outputs = kept
            graph.add_op(OpSpec(graph.fresh_name(f"{op.name}__keep"), "Identity", (c,), (t,)))
            graph.tensors[t] = TensorSpec(t, tuple(int(d) for d in v.shape), v.dtype.name)
        else:
            graph.tensors.pop(t, None)
            graph.constants[t] = v


def constant_folding(graph: Graph) -> PassResult:
    """Fold every deterministic op whose value is known before the graph runs (see the module rules).

    Returns the same graph, changed in place; ``modified`` is True when some op was folded.
    """
    opset = graph.opsets.get("", graph.opsets.get("ai.onnx", 17))
    outputs = set(graph.outputs)
    modified = False
    for op in graph.ops():
        op = graph.op(op.name)  # readers of a folded graph output were rewired to its constant
        if op.op_type == "Identity" and op.inputs[0] in graph.constants and any(t in outputs for t in op.outputs):
            continue
        value = _static_shape_value(graph, op)
        if value is not None:
            _store(graph, op, [value])
            modified = True
            continue
        if not _foldable(graph, op):
            continue
        act_inputs = op.activation.inputs if op.activation is not None else ()
        if not all(not t or t in graph.constants for t in (*op.inputs, *act_inputs)):
            continue
        values = _evaluate(graph, op, opset)
        if values is None:
            continue
        _store(graph, op, values)
        modified = True
    if modified:
        graph.prune_constants()
    return PassResult(graph, modified)
