"""Legal but unusual ONNX constructs that real exporters write, built with `onnx.helper`.

Each builder returns a model that the ONNX checker and onnxruntime accept, so cimopt must compile
it and its program must match onnxruntime:

* an empty ``roi`` of Resize (PyTorch at opset 11, Paddle), as an initialiser or a Constant;
* an empty ``scales`` beside ``sizes`` (the spec's way to say "use sizes");
* an empty Constant, unused or concatenated into a shape;
* ``-inf`` / ``inf`` constants in elementwise ops: the identity of Max, Clip bounds, an attention
  mask added before Softmax, Where;
* a zero-sized activation (Concat with a tensor of 0 channels);
* a model at an old opset (6) that onnxruntime no longer runs until it is upgraded.

And two that the chip cannot hold: a NaN or Inf in a crossbar weight (``nonfinite_weight``).
"""
from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

FLOAT = TensorProto.FLOAT


def _init(name: str, arr: np.ndarray) -> onnx.TensorProto:
    return numpy_helper.from_array(np.asarray(arr), name)


def _conv_w(name: str, cout: int, cin: int, seed: int) -> onnx.TensorProto:
    return _init(name, np.random.default_rng(seed).normal(0, 0.3, (cout, cin, 3, 3)).astype(np.float32))


def _model(nodes: list[onnx.NodeProto], inits: list[onnx.TensorProto], out_shape: list[int] | None,
           opset: int = 17, x_shape: tuple[int, ...] = (1, 4, 8, 8), extra_inputs: tuple = ()) -> onnx.ModelProto:
    x = helper.make_tensor_value_info("x", FLOAT, list(x_shape))
    y = helper.make_tensor_value_info("y", FLOAT, out_shape)
    # before IR version 4 (opsets up to 8 were exported so) every initialiser is also a graph input
    legacy = [helper.make_tensor_value_info(i.name, i.data_type, list(i.dims)) for i in inits] if opset < 7 else []
    g = helper.make_graph(nodes, "valid", [x, *extra_inputs, *legacy], [y], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 3 if opset < 7 else 7
    return m


def _conv(x: str, w: str, y: str, name: str) -> onnx.NodeProto:
    return helper.make_node("Conv", [x, w], [y], pads=[1, 1, 1, 1], name=name)


def resize_empty_roi(as_constant: bool = False, opset: int = 11) -> onnx.ModelProto:
    """Conv -> Resize x2 (nearest) with an empty roi -> Conv: what PyTorch's Upsample exports at opset 11."""
    roi = np.zeros((0,), np.float32)
    scales = np.array([1, 1, 2, 2], np.float32)
    nodes = [_conv("x", "w1", "c1", "conv1")]
    inits = [_conv_w("w1", 8, 4, 1), _conv_w("w2", 6, 8, 2), _init("scales", scales)]
    if as_constant:
        nodes.append(helper.make_node("Constant", [], ["roi"], value=_init("roi_value", roi), name="roi_const"))
    else:
        inits.append(_init("roi", roi))
    nodes += [helper.make_node("Resize", ["c1", "roi", "scales"], ["up"], mode="nearest", name="resize"),
              _conv("up", "w2", "y", "conv2")]
    return _model(nodes, inits, [1, 6, 16, 16], opset)


def resize_empty_scales() -> onnx.ModelProto:
    """Resize with an empty roi, an empty scales and ``sizes`` (opset 13): the spec's "use sizes"."""
    nodes = [_conv("x", "w1", "c1", "conv1"),
             helper.make_node("Resize", ["c1", "roi", "scales", "sizes"], ["up"], mode="linear", name="resize"),
             _conv("up", "w2", "y", "conv2")]
    inits = [_conv_w("w1", 8, 4, 3), _conv_w("w2", 6, 8, 4), _init("roi", np.zeros((0,), np.float32)),
             _init("scales", np.zeros((0,), np.float32)), _init("sizes", np.array([1, 8, 12, 12], np.int64))]
    return _model(nodes, inits, [1, 6, 12, 12], 13)


def empty_constant() -> onnx.ModelProto:
    """An empty Constant nobody reads, and one concatenated into a Reshape's shape."""
    nodes = [helper.make_node("Constant", [], ["unused"], value=_init("u", np.zeros((0,), np.float32)), name="unused"),
             helper.make_node("Constant", [], ["nothing"], value=_init("n", np.zeros((0,), np.int64)), name="nothing"),
             helper.make_node("Concat", ["head", "nothing"], ["shape"], axis=0, name="shape_concat"),
             _conv("x", "w1", "c1", "conv1"),
             helper.make_node("Relu", ["c1"], ["r1"], name="relu"),
             helper.make_node("Reshape", ["r1", "shape"], ["flat"], name="reshape"),
             helper.make_node("Gemm", ["flat", "fc"], ["y"], transB=1, name="fc")]
    rng = np.random.default_rng(5)
    inits = [_conv_w("w1", 8, 4, 6), _init("head", np.array([1, -1], np.int64)),
             _init("fc", rng.normal(0, 0.05, (10, 8 * 8 * 8)).astype(np.float32))]
    return _model(nodes, inits, [1, 10])


def zero_channel_concat() -> onnx.ModelProto:
    """Concat of a conv output with a zero-sized tensor (1 x 0 x 8 x 8) along channels."""
    nodes = [_conv("x", "w1", "c1", "conv1"),
             helper.make_node("Concat", ["c1", "empty"], ["cat"], axis=1, name="concat"),
             _conv("cat", "w2", "y", "conv2")]
    inits = [_conv_w("w1", 8, 4, 7), _conv_w("w2", 6, 8, 8), _init("empty", np.zeros((1, 0, 8, 8), np.float32))]
    return _model(nodes, inits, [1, 6, 8, 8])


def infinite_constants() -> onnx.ModelProto:
    """-inf as the identity of Max, Clip bounds of -inf/+6 and +inf, a -inf mask added before Softmax,
    Where choosing -inf: each a standard constant that onnxruntime computes with."""
    mask = np.zeros((1, 8, 8, 8), np.float32)
    mask[..., 6:] = -np.inf  # masked positions: never every entry of a row
    nodes = [_conv("x", "w1", "c1", "conv1"),
             helper.make_node("Max", ["c1", "neg_inf"], ["m"], name="max_identity"),
             helper.make_node("Clip", ["m", "neg_inf", "six"], ["clip1"], name="clip_low_inf"),
             helper.make_node("Clip", ["clip1", "neg_six", "pos_inf"], ["clip2"], name="clip_high_inf"),
             helper.make_node("Add", ["clip2", "mask"], ["masked"], name="mask_add"),
             helper.make_node("Softmax", ["masked"], ["sm"], axis=-1, name="softmax"),
             helper.make_node("Greater", ["sm", "tenth"], ["keep"], name="keep"),
             helper.make_node("Where", ["keep", "sm", "neg_inf"], ["w"], name="where"),
             helper.make_node("Max", ["w", "zero"], ["wz"], name="max_zero"),
             _conv("wz", "w2", "y", "conv2")]
    inits = [_conv_w("w1", 8, 4, 10), _conv_w("w2", 6, 8, 11), _init("neg_inf", np.array(-np.inf, np.float32)),
             _init("pos_inf", np.array(np.inf, np.float32)), _init("six", np.array(6, np.float32)),
             _init("neg_six", np.array(-6, np.float32)), _init("mask", mask),
             _init("tenth", np.array(0.1, np.float32)), _init("zero", np.array(0.0, np.float32))]
    return _model(nodes, inits, [1, 6, 8, 8])


def old_opset(opset: int = 6) -> onnx.ModelProto:
    """Conv -> Add (bias, legacy ``broadcast``/``axis`` attributes) -> Relu -> MaxPool -> Gemm at ``opset``
    (the form the onnx package's pytorch-converted cases are in)."""
    rng = np.random.default_rng(12)
    nodes = [_conv("x", "w1", "c1", "conv1"),
             helper.make_node("Add", ["c1", "b1"], ["a1"], broadcast=1, axis=1, name="bias"),
             helper.make_node("Relu", ["a1"], ["r1"], name="relu"),
             helper.make_node("MaxPool", ["r1"], ["p1"], kernel_shape=[2, 2], strides=[2, 2], name="pool"),
             helper.make_node("Flatten", ["p1"], ["flat"], axis=1, name="flatten"),
             helper.make_node("Gemm", ["flat", "fc", "fcb"], ["y"], transB=1, broadcast=1, name="fc")]
    inits = [_conv_w("w1", 8, 4, 13), _init("b1", rng.normal(0, 0.1, 8).astype(np.float32)),
             _init("fc", rng.normal(0, 0.1, (10, 8 * 4 * 4)).astype(np.float32)),
             _init("fcb", rng.normal(0, 0.1, 10).astype(np.float32))]
    return _model(nodes, inits, [1, 10], opset)


def nonfinite_weight(value: float = np.nan, where: str = "conv") -> onnx.ModelProto:
    """A NaN or Inf in a crossbar weight (``where``: "conv" or "gemm"): no crossbar cell holds it."""
    w1 = np.random.default_rng(14).normal(0, 0.3, (8, 4, 3, 3)).astype(np.float32)
    fc = np.random.default_rng(15).normal(0, 0.1, (10, 8)).astype(np.float32)
    (w1 if where == "conv" else fc)[1, 2, ...] = value
    nodes = [_conv("x", "w1", "c1", "conv1"),
             helper.make_node("GlobalAveragePool", ["c1"], ["gap"], name="gap"),
             helper.make_node("Flatten", ["gap"], ["flat"], name="flatten"),
             helper.make_node("Gemm", ["flat", "fc"], ["y"], transB=1, name="fc")]
    return _model(nodes, [_init("w1", w1), _init("fc", fc)], [1, 10])


#: every legal construct above, by name
VALID = {
    "resize_empty_roi": resize_empty_roi,
    "resize_empty_roi_constant": lambda: resize_empty_roi(as_constant=True),
    "resize_empty_scales": resize_empty_scales,
    "empty_constant": empty_constant,
    "zero_channel_concat": zero_channel_concat,
    "infinite_constants": infinite_constants,
    "old_opset_6": old_opset,
}
