"""Conversion of ONNX attributes and element types to and from plain Python/numpy values."""
from __future__ import annotations

from typing import Any

import numpy as np
import onnx
from onnx import helper, numpy_helper


def np_dtype(elem_type: int) -> str:
    """numpy dtype name of an ONNX element type (``"float32"`` when undefined)."""
    if elem_type == 0:
        return "float32"
    try:
        return np.dtype(helper.tensor_dtype_to_np_dtype(elem_type)).name
    except (KeyError, TypeError, ValueError):
        return "float32"


def onnx_elem_type(dtype: str) -> int:
    return helper.np_dtype_to_tensor_dtype(np.dtype(dtype))


def attr_value(a: onnx.AttributeProto) -> Any:
    """A Python value for an attribute: numbers, strings, tuples, numpy arrays, or GraphProto."""
    v = helper.get_attribute_value(a)
    if a.type == onnx.AttributeProto.TENSOR:
        return numpy_helper.to_array(v)
    if a.type == onnx.AttributeProto.TENSORS:
        return tuple(numpy_helper.to_array(t) for t in v)
    if isinstance(v, bytes):
        return v.decode("utf-8", errors="replace")
    if isinstance(v, list):
        return tuple(x.decode("utf-8", errors="replace") if isinstance(x, bytes) else x for x in v)
    return v


def make_attr(key: str, value: Any) -> onnx.AttributeProto:
    if isinstance(value, np.ndarray):
        return helper.make_attribute(key, numpy_helper.from_array(value))
    if isinstance(value, tuple) and value and all(isinstance(x, np.ndarray) for x in value):
        return helper.make_attribute(key, [numpy_helper.from_array(x) for x in value])
    if isinstance(value, tuple):
        value = list(value)
    return helper.make_attribute(key, value)
