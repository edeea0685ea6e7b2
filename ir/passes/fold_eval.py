"""Numpy evaluators of the ops constant folding computes itself (`EVALUATORS`): the shape
arithmetic PyTorch exports (Shape/Gather/Unsqueeze/Concat/Reshape chains), ConstantOfShape,
Cast, Slice, Range, elementwise arithmetic and comparisons, and the fused ``Linear``.

Each takes (op, input arrays (None for an omitted input), default-domain opset) and returns
the output arrays, or None when the case is not covered (the pass then runs onnxruntime).
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from onnx import helper

from cimopt.ir.graph import OpSpec

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


def shape_value(shape: Sequence[int], op: OpSpec) -> np.ndarray:
    start, end = op.attr("start", 0), op.attr("end")
    dims = list(shape)[start:end] if end is not None else list(shape)[start:]
    return np.array(dims, dtype=np.int64)


def _shape(op: OpSpec, xs: Arrays, opset: int) -> list[np.ndarray] | None:
    assert xs[0] is not None
    return [shape_value(xs[0].shape, op)]


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


def evaluate_linear(op: OpSpec, xs: Arrays, opset: int) -> list[np.ndarray] | None:
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


