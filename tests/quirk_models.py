"""Models with the quirks and faults real exporters and malformed files bring (built in code)."""
from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from models import _init


def conv_model(*, in_dims: list[int | str] | None = None, w_shape: tuple[int, ...] = (8, 3, 3, 3), group: int = 1,
               hw: int = 8, seed: int = 0, weight: np.ndarray | None = None) -> onnx.ModelProto:
    """x -> Conv (pads 1) -> Relu -> y; ``in_dims`` overrides the input dims (e.g. -1 for batch)."""
    r = np.random.default_rng(seed)
    w = weight if weight is not None else r.normal(0, 0.3, w_shape)
    cin = w_shape[1] * group
    dims = in_dims if in_dims is not None else [1, cin, hw, hw]
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1], group=group, name="conv"),
             helper.make_node("Relu", ["c"], ["y"], name="relu")]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, dims)
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", "c", "h", "w"])
    g = helper.make_graph(nodes, "conv", [x], [y], [_init("w", np.asarray(w))])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    return m


def depthwise_net(channels: int = 2048, hw: int = 6, seed: int = 0) -> onnx.ModelProto:
    """Pointwise expand -> depthwise 3x3 (``channels`` groups) -> HardSwish -> pointwise -> GAP:
    the inverted-residual block of MobileNetV3 / EfficientNet, with a depthwise conv wider than
    a small chip."""
    r = np.random.default_rng(seed)
    n = helper.make_node
    inits = [_init("pw1", r.normal(0, 0.5, (channels, 8, 1, 1))), _init("pw1_b", r.normal(0, 0.1, channels)),
             _init("dw", r.normal(0, 0.3, (channels, 1, 3, 3))), _init("dw_b", r.normal(0, 0.1, channels)),
             _init("pw2", r.normal(0, 1 / np.sqrt(channels), (16, channels, 1, 1)))]
    nodes = [n("Conv", ["x", "pw1", "pw1_b"], ["e"], name="expand"),
             n("Relu", ["e"], ["er"], name="expand_relu"),
             n("Conv", ["er", "dw", "dw_b"], ["d"], pads=[1, 1, 1, 1], group=channels, name="depthwise"),
             n("HardSwish", ["d"], ["h"], name="hswish"),
             n("Conv", ["h", "pw2"], ["p"], name="project"),
             n("GlobalAveragePool", ["p"], ["y"], name="gap")]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8, hw, hw])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 16, 1, 1])
    m = helper.make_model(helper.make_graph(nodes, "depthwise_net", [x], [y], inits),
                          opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    return m


def grouped_net(groups: int = 4, cin: int = 1024, cout: int = 1024, hw: int = 4, seed: int = 0) -> onnx.ModelProto:
    """One grouped 3x3 conv (``groups`` groups) with bias, then Relu: each group a dense conv."""
    r = np.random.default_rng(seed)
    w = r.normal(0, 1 / np.sqrt(9 * cin / groups), (cout, cin // groups, 3, 3))
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"], pads=[1, 1, 1, 1], group=groups, name="gconv"),
             helper.make_node("Relu", ["c"], ["y"], name="relu")]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, cin, hw, hw])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, cout, hw, hw])
    g = helper.make_graph(nodes, "grouped", [x], [y], [_init("w", w), _init("b", r.normal(0, 0.1, cout))])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    return m


def if_outer_scope(seed: int = 0) -> onnx.ModelProto:
    """y = If(sum(x) > 0) then MatMul(x, w) + 1 else MatMul(x, w) * 2 — both branches read the
    outer-scope tensors ``h`` and ``one`` without naming them as inputs."""
    r = np.random.default_rng(seed)
    n = helper.make_node
    then_g = helper.make_graph([n("Add", ["h", "one"], ["t_out"])], "then", [],
                               [helper.make_tensor_value_info("t_out", TensorProto.FLOAT, [1, 4])])
    else_g = helper.make_graph([n("Mul", ["h", "two"], ["e_out"])], "else", [],
                               [helper.make_tensor_value_info("e_out", TensorProto.FLOAT, [1, 4])])
    nodes = [n("MatMul", ["x", "w"], ["h"], name="mm"),
             n("ReduceSum", ["x"], ["s"], keepdims=0, name="sum"),
             n("Greater", ["s", "zero"], ["cond"], name="gt"),
             n("If", ["cond"], ["y"], then_branch=then_g, else_branch=else_g, name="branch")]
    inits = [_init("w", r.normal(0, 1, (8, 4))), _init("one", np.ones((1, 4))), _init("two", np.full((1, 4), 2.0)),
             _init("zero", np.zeros((), np.float32))]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])
    m = helper.make_model(helper.make_graph(nodes, "if_outer", [x], [y], inits),
                          opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    return m


def softmax_axis(axis: int) -> onnx.ModelProto:
    """x (1x10) -> Softmax(axis) -> y."""
    node = helper.make_node("Softmax", ["x"], ["y"], axis=axis, name="sm")
    g = helper.make_graph([node], "sm", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 10])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 10])])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    return m


def typed_input(elem: int) -> onnx.ModelProto:
    """A graph input of element type ``elem`` cast to float and doubled."""
    nodes = [helper.make_node("Cast", ["x"], ["xf"], to=TensorProto.FLOAT, name="cast"),
             helper.make_node("Add", ["xf", "xf"], ["y"], name="add")]
    g = helper.make_graph(nodes, "typed", [helper.make_tensor_value_info("x", elem, [1, 4])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    return m


def with_opset(version: int) -> onnx.ModelProto:
    m = conv_model()
    m.opset_import[0].version = version
    return m


def no_outputs() -> onnx.ModelProto:
    m = conv_model()
    del m.graph.output[:]
    return m


def externalise(model: onnx.ModelProto, folder: str, name: str = "model.onnx",
                data: str = "model.data") -> str:
    """Save ``model`` in ``folder`` with every initialiser over 16 bytes in the file ``data``."""
    import os

    path = os.path.join(folder, name)
    onnx.save_model(model, path, save_as_external_data=True, all_tensors_to_one_file=True, location=data,
                    size_threshold=16)
    return path


def point_external(model_path: str, location: str) -> None:
    """Rewrite every external reference of the saved model to ``location``."""
    m = onnx.load(model_path, load_external_data=False)
    for t in m.graph.initializer:
        for e in t.external_data:
            if e.key == "location":
                e.value = location
    onnx.save_model(m, model_path)


def nan_weight() -> onnx.ModelProto:
    w = np.random.default_rng(0).normal(0, 1, (8, 3, 3, 3))
    w[2, 1, 0, 0] = np.nan
    return conv_model(weight=w)


__all__ = ["conv_model", "depthwise_net", "grouped_net", "if_outer_scope", "softmax_axis", "typed_input",
           "with_opset", "no_outputs", "externalise", "point_external", "nan_weight", "numpy_helper"]
