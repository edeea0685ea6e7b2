"""Small models with unusual weight and activation statistics, for the numerics robustness tests:
what trained models from other exporters bring (outlier weights, dead channels, fp16
initialisers, integer inputs) and what breaks a naive quantiser (tiny weights, huge or
negative-only activations, a layer whose input is all zero)."""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def _model(nodes: list[onnx.NodeProto], inits: list[onnx.TensorProto], x_type: int = TensorProto.FLOAT,
           x_shape: tuple[int, ...] = (1, 4, 8, 8), y_shape: tuple[int, ...] = (1, 10)) -> onnx.ModelProto:
    x = helper.make_tensor_value_info("x", x_type, list(x_shape))
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, list(y_shape))
    m = helper.make_model(helper.make_graph(nodes, "odd", [x], [y], inits), opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    return m


def conv_net(w1: np.ndarray, w2: np.ndarray, fc: np.ndarray, pre: list[onnx.NodeProto] | None = None,
             extra: list[onnx.TensorProto] | None = None, x_type: int = TensorProto.FLOAT,
             w1_dtype: type = np.float32) -> onnx.ModelProto:
    """x (1x4x8x8, through ``pre`` ending in tensor ``xin``) -> Conv 3x3 (w1, 8 ch) + bias -> Relu
    -> Conv 3x3 (w2, 8 ch) -> GlobalAveragePool -> Flatten -> Gemm (fc, 10 classes) -> y."""
    inits = [numpy_helper.from_array(w1.astype(w1_dtype), "w1"),
             numpy_helper.from_array(np.full(8, 0.01, np.float32), "b1"),
             numpy_helper.from_array(w2.astype(np.float32), "w2"),
             numpy_helper.from_array(fc.astype(np.float32), "fc"), *(extra or [])]
    w1_name = "w1"
    nodes = list(pre or [helper.make_node("Identity", ["x"], ["xin"], name="in")])
    if w1_dtype is not np.float32:
        nodes.append(helper.make_node("Cast", ["w1"], ["w1f"], to=TensorProto.FLOAT, name="cast_w1"))
        w1_name = "w1f"
    nodes += [helper.make_node("Conv", ["xin", w1_name, "b1"], ["c1"], pads=[1, 1, 1, 1], name="conv1"),
              helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
              helper.make_node("Conv", ["r1", "w2"], ["c2"], pads=[1, 1, 1, 1], name="conv2"),
              helper.make_node("GlobalAveragePool", ["c2"], ["gap"], name="gap"),
              helper.make_node("Flatten", ["gap"], ["flat"], name="flatten"),
              helper.make_node("Gemm", ["flat", "fc"], ["y"], transB=1, name="fc")]
    return _model(nodes, inits, x_type)


def _weights(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return (rng.normal(0, 0.2, (8, 4, 3, 3)), rng.normal(0, 0.15, (8, 8, 3, 3)), rng.normal(0, 0.3, (10, 8)))


def outliers() -> onnx.ModelProto:
    w1, w2, fc = _weights(1)
    w1[0, 0, 1, 1] = 500.0          # one weight 2500 sigma out
    fc[3, 2] = -80.0
    return conv_net(w1, w2, fc)


def dead_channels() -> onnx.ModelProto:
    w1, w2, fc = _weights(2)
    w1[2:5] = 0.0                   # three output channels all zero
    w2[:, :4] = 0.0                 # the next layer ignores half its inputs
    fc[7] = 0.0                     # a class whose logit is its bias (none): always 0
    return conv_net(w1, w2, fc)


def tiny_weights() -> onnx.ModelProto:
    w1, w2, fc = _weights(3)
    return conv_net(w1, w2 * 1e-8, fc)


def huge_activations() -> onnx.ModelProto:
    w1, w2, fc = _weights(4)
    big = numpy_helper.from_array(np.array(1e15, np.float32), "big")
    pre = [helper.make_node("Mul", ["x", "big"], ["xin"], name="amplify")]
    return conv_net(w1, w2, fc, pre, [big])


def negative_inputs() -> onnx.ModelProto:
    w1, w2, fc = _weights(5)
    one = numpy_helper.from_array(np.array(1.0, np.float32), "one")
    pre = [helper.make_node("Abs", ["x"], ["ax"], name="abs"),
           helper.make_node("Add", ["ax", "one"], ["ax1"], name="shift"),
           helper.make_node("Neg", ["ax1"], ["xin"], name="neg")]
    return conv_net(w1, w2, fc, pre, [one])


def zero_input() -> onnx.ModelProto:
    w1, w2, fc = _weights(6)
    zero = numpy_helper.from_array(np.array(0.0, np.float32), "zero")
    pre = [helper.make_node("Mul", ["x", "zero"], ["xin"], name="kill")]
    return conv_net(w1, w2, fc, pre, [zero])


def fp16_initialisers() -> onnx.ModelProto:
    w1, w2, fc = _weights(7)
    return conv_net(w1, w2, fc, w1_dtype=np.float16)


def integer_input(dtype: int) -> Callable[[], onnx.ModelProto]:
    def build() -> onnx.ModelProto:
        w1, w2, fc = _weights(8)
        pre = [helper.make_node("Cast", ["x"], ["xin"], to=TensorProto.FLOAT, name="cast_in")]
        return conv_net(w1, w2, fc, pre, x_type=dtype)
    return build


ODD: dict[str, Callable[[], onnx.ModelProto]] = {
    "outliers": outliers, "dead_channels": dead_channels, "tiny_weights": tiny_weights,
    "huge_activations": huge_activations, "negative_inputs": negative_inputs, "zero_input": zero_input,
    "fp16_initialisers": fp16_initialisers, "uint8_input": integer_input(TensorProto.UINT8),
    "int8_input": integer_input(TensorProto.INT8),
}
