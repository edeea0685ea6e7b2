"""ONNX ValueInfo to cimopt's TensorSpec, and dims as text for messages."""
from __future__ import annotations

from collections.abc import Sequence

import onnx

from cimopt.ir.graph import TensorSpec
from cimopt.ir.onnx_attrs import np_dtype


def static_dim(d: onnx.TensorShapeProto.Dimension) -> int | None:
    """The dim's size when it is fixed and positive; None when it is symbolic, unknown or
    non-positive (exporters such as PaddlePaddle write -1 or 0 for a dynamic dim, and
    onnxruntime treats those as symbolic too)."""
    if d.HasField("dim_value") and d.dim_value > 0:
        return int(d.dim_value)
    return None


def tensor_spec(vi: onnx.ValueInfoProto) -> TensorSpec:
    """TensorSpec of a tensor ValueInfo: shape None unless every dim is fixed and positive."""
    t = vi.type.tensor_type
    shape: tuple[int, ...] | None = None
    if t.HasField("shape"):
        dims = [static_dim(d) for d in t.shape.dim]
        if all(d is not None for d in dims):
            shape = tuple(int(d) for d in dims if d is not None)
    return TensorSpec(vi.name, shape, np_dtype(t.elem_type))


def dims_text(dims: Sequence[onnx.TensorShapeProto.Dimension]) -> str:
    """``1xNx3`` style text of ONNX dims (``?`` for unknown, the parameter name for symbolic)."""
    if not dims:
        return "shape unknown"
    return "x".join(d.dim_param if d.dim_param else (str(d.dim_value) if d.HasField("dim_value") else "?")
                    for d in dims)
