"""Legalisation, lowering and loading errors on real and built graphs."""
from __future__ import annotations

import math

import os

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

import models
from cimopt.frontend import prepare
from cimopt.ir.errors import ShapeError, UnsupportedOperatorError, UsageError
from cimopt.ir.graph import OpClass
from cimopt.ir.load import load, parse_input_shapes
from cimopt.ir.passes.legalize import Legalize
from cimopt.ir.tiles import tile_count, tile_matrix
from cimopt.ir.workload import Matrix
from cimopt.targets.load import load_target


def _macs_by_running(model: onnx.ModelProto, feeds: dict[str, np.ndarray]) -> int:
    """MACs counted from shapes onnxruntime actually produces (an independent count)."""
    import onnxruntime as ort

    m = onnx.ModelProto()
    m.CopyFrom(model)
    targets = [n for n in m.graph.node if n.op_type in ("Conv", "ConvTranspose", "Gemm", "MatMul")]
    inits = {i.name: onnx.numpy_helper.to_array(i) for i in m.graph.initializer}
    for n in targets:
        for t in (n.input[0], n.output[0]):
            if t not in inits:
                m.graph.output.append(helper.make_empty_tensor_value_info(t))
    s = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
    vals = dict(zip([o.name for o in s.get_outputs()], s.run(None, feeds)))
    shape = lambda t: (vals[t] if t in vals else inits[t]).shape  # noqa: E731
    total = 0
    for n in targets:
        if n.op_type == "Conv":
            total += int(np.prod(shape(n.output[0]))) * int(np.prod(shape(n.input[1])[1:]))
        elif n.op_type == "ConvTranspose":
            total += int(np.prod(shape(n.input[0]))) * int(np.prod(shape(n.input[1])[1:]))
        elif n.op_type == "Gemm":
            a, b = shape(n.input[0]), shape(n.input[1])
            tb = any(x.name == "transB" and x.i for x in n.attribute)
            total += a[0] * a[1] * (b[0] if tb else b[1])
        else:
            total += int(np.prod(shape(n.output[0]))) * shape(n.input[0])[-1]
    return total


def test_small_cnn_classes_and_macs() -> None:
    m = models.small_cnn()
    fe = prepare(m, load_target("isaac"))
    cls = {o.name: o.op_class for o in fe.workload.ops}
    assert cls["conv1"] is OpClass.CROSSBAR and cls["depthwise"] is OpClass.CROSSBAR
    assert cls["deconv"] is OpClass.CROSSBAR and cls["fc"] is OpClass.CROSSBAR
    assert cls["upsample"] is OpClass.VECTOR
    # BatchNormalization folded away, activations fused
    assert not any(o.op_type == "BatchNormalization" for o in fe.workload.ops)
    assert fe.workload.op("depthwise").activation == "HardSwish"
    x = np.random.default_rng(0).standard_normal((1, 3, 16, 16)).astype(np.float32)
    assert fe.workload.macs == _macs_by_running(m, {"x": x})


def test_encoder_dynamic_dims_and_attention_classes() -> None:
    m = models.tiny_encoder()
    with pytest.raises(ShapeError, match="--input-shape ids="):
        prepare(m, load_target("isaac"))
    fe = prepare(m, load_target("isaac"), {"ids": (2, 7)})
    ops = {o.name: o for o in fe.workload.ops}
    assert ops["q_proj"].op_type == "Linear" and ops["q_proj"].op_class is OpClass.CROSSBAR
    assert ops["qk"].op_class is OpClass.HOST            # isaac's vector unit cannot multiply activations
    fe_puma = prepare(m, load_target("puma"), {"ids": (2, 7)})
    assert fe_puma.workload.op("qk").op_class is OpClass.VECTOR
    ids = np.random.default_rng(0).integers(0, 50, (2, 7)).astype(np.int64)
    assert fe.workload.macs == _macs_by_running(m, {"ids": ids})


def test_custom_domain_lists_every_op() -> None:
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])
    nodes = [helper.make_node("Frob", ["x"], ["t"], domain="com.acme", name="f1"),
             helper.make_node("Blip", ["t"], ["y"], domain="com.acme", name="f2")]
    m = helper.make_model(helper.make_graph(nodes, "g", [x], [y]),
                          opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.acme", 1)])
    with pytest.raises(UnsupportedOperatorError) as e:
        load(m)
    assert "f1 (com.acme::Frob)" in str(e.value) and "f2 (com.acme::Blip)" in str(e.value)


def test_host_op_without_host_is_an_error() -> None:
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [4, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [4, 4])
    m = helper.make_model(helper.make_graph([helper.make_node("Det", ["x"], ["d"], name="det"),
                                             helper.make_node("Add", ["x", "d"], ["y"], name="add")],
                                            "g", [x], [y]), opset_imports=[helper.make_opsetid("", 17)])
    g = load(m)
    with pytest.raises(UnsupportedOperatorError, match="det"):
        Legalize(vector_matmul=False, has_host=False)(g)
    assert Legalize(vector_matmul=False, has_host=True)(g).graph.op("det").op_class is OpClass.HOST


def test_parse_input_shapes() -> None:
    assert parse_input_shapes(["a=1x3x8x8,b=2x5", "c=7"]) == {"a": (1, 3, 8, 8), "b": (2, 5), "c": (7,)}
    assert parse_input_shapes(["e=0x3"]) == {"e": (0, 3)}  # an empty dim, as ONNX allows
    for bad in ["a=1xbananax3", "noequals", "a=-1x3", "=1x2"]:
        with pytest.raises(UsageError):
            parse_input_shapes([bad])


def test_unknown_input_name_is_named() -> None:
    with pytest.raises(UsageError, match="'ids'"):
        load(models.tiny_encoder(), {"tokens": (1, 4)})


@pytest.mark.parametrize("k,n,groups", [(27, 16, 1), (300, 70, 1), (9, 1, 32), (9, 1, 5), (200, 3, 4)])
def test_tiles_cover_the_matrix_exactly(k: int, n: int, groups: int) -> None:
    m = Matrix(groups, k, n, 1)
    tiles = tile_matrix("op", m, 32, 32, 2)
    # independent count: 16 weight columns per crossbar; small groups packed block-diagonally
    if k <= 32 and n <= 16:
        want = math.ceil(groups / min(32 // k, 16 // n))
    else:
        want = groups * math.ceil(k / 32) * math.ceil(n / 16)
    assert len(tiles) == tile_count(m, 32, 32, 2) == want
    cover = np.zeros((groups, k, n), int)
    for t in tiles:
        assert t.rows_used <= 32 and t.cols_used <= 32
        cover[t.group0:t.group0 + t.ngroups, t.row0:t.row1, t.col0:t.col1] += 1
    assert (cover == 1).all()


def test_light_graph_inspect_macs(light_dir: str) -> None:
    path = os.path.join(light_dir, "light_squeezenet.onnx")
    fe = prepare(path, load_target("edge"))
    assert fe.workload.macs == 349_151_936  # experiments/checks/macs.py counts the same


def test_castlike_bias_folds_and_conv_stays_on_crossbars() -> None:
    """PyTorch's exporter gives bias-free convs a bias Expand(CastLike(0, x), Shape(W)[0:1])."""
    from onnx import numpy_helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 8, 8])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4, 8, 8])
    w = numpy_helper.from_array(np.random.default_rng(0).normal(0, 0.3, (4, 3, 3, 3)).astype(np.float32), "w")
    zero = numpy_helper.from_array(np.array(0.0, np.float64), "zero")
    nodes = [helper.make_node("CastLike", ["zero", "x"], ["z"]),
             helper.make_node("Shape", ["w"], ["ws"], start=0, end=1),
             helper.make_node("Expand", ["z", "ws"], ["b"]),
             helper.make_node("Conv", ["x", "w", "b"], ["y"], pads=[1, 1, 1, 1], name="conv")]
    m = helper.make_model(helper.make_graph(nodes, "g", [x], [y], [w, zero]), opset_imports=[helper.make_opsetid("", 17)])
    fe = prepare(m, load_target("isaac"), {"x": (1, 3, 8, 8)})
    assert fe.workload.op("conv").op_class is OpClass.CROSSBAR
    assert fe.graph.constants[fe.graph.op("conv").inputs[2]].dtype == np.float32


def test_runtime_bias_keeps_conv_off_the_crossbars() -> None:
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 4, 4])
    b = helper.make_tensor_value_info("b", TensorProto.FLOAT, [2])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2, 4, 4])
    w = onnx.numpy_helper.from_array(np.ones((2, 2, 1, 1), np.float32), "w")
    m = helper.make_model(helper.make_graph([helper.make_node("Conv", ["x", "w", "b"], ["y"], name="conv")],
                                            "g", [x, b], [y], [w]), opset_imports=[helper.make_opsetid("", 17)])
    fe = prepare(m, load_target("isaac"))
    assert fe.workload.op("conv").op_class is OpClass.HOST
