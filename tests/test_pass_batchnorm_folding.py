"""BatchNorm folding: per-channel affine ops after weighted ops merge into the weights."""
from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import helper

from cimopt.ir.graph import CIMOPT_DOMAIN
from cimopt.ir.load import load
from cimopt.ir.passes.activation_fusion import ActivationFusion
from cimopt.ir.passes.batchnorm_folding import BatchNormFolding
from cimopt.ir.passes.constant_folding import ConstantFolding

from pass_helpers import apply_and_compare, assert_same_function, light_path, make_model, op_types

RNG = np.random.default_rng(7)


def _rand(*shape: int) -> np.ndarray:
    return RNG.standard_normal(shape).astype(np.float32)


def _bn_params(prefix: str, c: int) -> dict[str, np.ndarray]:
    return {f"{prefix}_s": _rand(c), f"{prefix}_b": _rand(c), f"{prefix}_m": _rand(c),
            f"{prefix}_v": RNG.uniform(0.5, 1.5, c).astype(np.float32)}


def _bn(x: str, y: str, prefix: str, **attrs: object) -> onnx.NodeProto:
    return helper.make_node("BatchNormalization", [x, f"{prefix}_s", f"{prefix}_b", f"{prefix}_m", f"{prefix}_v"],
                            [y], epsilon=1e-3, **attrs)


@pytest.mark.parametrize("with_bias", [False, True])
def test_conv_then_batchnorm(with_bias: bool) -> None:
    inits = {"w": _rand(4, 3, 3, 3), **_bn_params("bn", 4)}
    conv_in = ["x", "w"]
    if with_bias:
        inits["cb"] = _rand(4)
        conv_in.append("cb")
    nodes = [helper.make_node("Conv", conv_in, ["c"], pads=[1, 1, 1, 1]), _bn("c", "y", "bn")]
    model = make_model(nodes, {"x": (2, 3, 6, 6)}, ["y"], inits)
    r = apply_and_compare(model, BatchNormFolding())
    assert r.modified and op_types(r.graph) == ["Conv"]
    conv = r.graph.ops()[0]
    assert conv.outputs == ("y",) and len(conv.inputs) == 3
    assert set(r.graph.constants) == {conv.inputs[1], conv.inputs[2]}
    assert "c" not in r.graph.tensors


def test_grouped_conv_and_conv_transpose() -> None:
    inits = {"w": _rand(6, 2, 3, 3), "wt": _rand(6, 2, 2, 2), "tb": _rand(6), **_bn_params("a", 6),
             **_bn_params("b", 6)}
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], group=3), _bn("c", "h", "a"),
             helper.make_node("ConvTranspose", ["h", "wt", "tb"], ["t"], group=3, strides=[2, 2]),
             _bn("t", "y", "b")]
    model = make_model(nodes, {"x": (1, 6, 5, 5)}, ["y"], inits)
    r = apply_and_compare(model, BatchNormFolding())
    assert op_types(r.graph) == ["Conv", "ConvTranspose"]


@pytest.mark.parametrize("trans_b", [0, 1])
def test_gemm_with_beta_and_bias(trans_b: int) -> None:
    w = _rand(5, 8) if trans_b else _rand(8, 5)
    inits = {"w": w, "cc": _rand(1, 5), **_bn_params("bn", 5)}
    nodes = [helper.make_node("Gemm", ["x", "w", "cc"], ["g"], transB=trans_b, alpha=0.5, beta=2.0),
             _bn("g", "y", "bn")]
    model = make_model(nodes, {"x": (3, 8)}, ["y"], inits)
    r = apply_and_compare(model, BatchNormFolding())
    gemm = r.graph.ops()[0]
    assert op_types(r.graph) == ["Gemm"] and gemm.attr("beta") == 1.0 and gemm.attr("alpha") == 0.5


def test_matmul_then_batchnorm_becomes_linear() -> None:
    inits = {"w": _rand(8, 5), **_bn_params("bn", 5)}
    nodes = [helper.make_node("MatMul", ["x", "w"], ["m"]), _bn("m", "y", "bn")]
    model = make_model(nodes, {"x": (3, 8)}, ["y"], inits)
    r = apply_and_compare(model, BatchNormFolding())
    (op,) = r.graph.ops()
    assert (op.op_type, op.domain, len(op.inputs)) == ("Linear", CIMOPT_DOMAIN, 3)


def test_conv_mul_add_per_channel_constants() -> None:
    inits = {"w": _rand(4, 3, 1, 1), "k": _rand(4, 1, 1), "d": _rand(1, 4, 1, 1), "q": _rand(1)}
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"]),
             helper.make_node("Mul", ["k", "c"], ["m"]),        # constant first
             helper.make_node("Add", ["m", "d"], ["a"]),
             helper.make_node("Div", ["a", "q"], ["s"]),        # scalar-like divisor
             helper.make_node("Sub", ["s", "d"], ["y"])]
    model = make_model(nodes, {"x": (2, 3, 4, 4)}, ["y"], inits)
    r = apply_and_compare(model, BatchNormFolding())
    assert op_types(r.graph) == ["Conv"] and r.graph.ops()[0].outputs == ("y",)


def test_batchnorm_then_mul_add_the_densenet_pattern() -> None:
    inits = {**_bn_params("bn", 4), "k": _rand(4, 1, 1), "d": _rand(4, 1, 1)}
    nodes = [helper.make_node("MaxPool", ["x"], ["p"], kernel_shape=[2, 2]), _bn("p", "b", "bn"),
             helper.make_node("Mul", ["b", "k"], ["m"]), helper.make_node("Add", ["m", "d"], ["a"]),
             helper.make_node("Relu", ["a"], ["y"])]
    model = make_model(nodes, {"x": (1, 4, 6, 6)}, ["y"], inits)
    r = apply_and_compare(model, BatchNormFolding())
    assert op_types(r.graph) == ["MaxPool", "BatchNormalization", "Relu"]


def test_activation_of_the_affine_op_moves_to_the_producer() -> None:
    inits = {"w": _rand(4, 3, 3, 3), "k": _rand(4, 1, 1), "d": _rand(4, 1, 1)}
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"]), helper.make_node("Mul", ["c", "k"], ["m"]),
             helper.make_node("Add", ["m", "d"], ["a"]), helper.make_node("Relu", ["a"], ["y"])]
    model = make_model(nodes, {"x": (1, 3, 5, 5)}, ["y"], inits)
    g = load(model)
    ActivationFusion()(g)  # Relu onto the Add
    r = BatchNormFolding()(g)
    (op,) = g.ops()
    assert r.modified and op.op_type == "Conv" and op.activation is not None and op.outputs == ("y",)
    assert_same_function(model, g)


def test_shared_weights_are_never_changed() -> None:
    w = _rand(4, 3, 3, 3)
    inits = {"w": w, **_bn_params("a", 4), **_bn_params("b", 4)}
    nodes = [helper.make_node("Conv", ["x", "w"], ["c1"]), _bn("c1", "y1", "a"),
             helper.make_node("Conv", ["x", "w"], ["c2"]), _bn("c2", "y2", "b")]
    model = make_model(nodes, {"x": (1, 3, 5, 5)}, ["y1", "y2"], inits)
    g = load(model)
    original = g.constants["w"].copy()
    r = BatchNormFolding()(g)
    assert op_types(g) == ["Conv", "Conv"]
    np.testing.assert_array_equal(original, w)
    w1, w2 = (op.inputs[1] for op in g.ops())
    assert len({w1, w2, "w"}) == 3
    assert_same_function(model, r.graph)


def test_not_folded_cases() -> None:
    inits = {"w": _rand(4, 3, 3, 3), **_bn_params("bn", 4), "full": _rand(4, 3, 3), **_bn_params("bo", 4)}
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"]),
             _bn("c", "y1", "bn"),                                   # c has two readers
             helper.make_node("Relu", ["c"], ["y2"]),
             helper.make_node("Conv", ["x", "wx"], ["d"]),            # weight is a graph input
             _bn("d", "y3", "bo"),
             helper.make_node("Conv", ["x", "w"], ["e"]),
             helper.make_node("Mul", ["e", "full"], ["y4"]),          # not per channel
             helper.make_node("Conv", ["x", "w"], ["f"]),
             helper.make_node("Add", ["f", "f"], ["y5"])]            # no constant operand
    model = make_model(nodes, {"x": (1, 3, 5, 5), "wx": (4, 3, 3, 3)}, ["y1", "y2", "y3", "y4", "y5"], inits)
    g = load(model)
    before = op_types(g)
    assert not BatchNormFolding()(g).modified
    assert op_types(g) == before


def test_light_inception_v2_folds_every_batchnorm() -> None:
    g = load(light_path("inception_v2"))
    ConstantFolding()(g)
    r = BatchNormFolding()(g)
    types = op_types(g)
    assert r.modified
    assert not {"BatchNormalization", "Mul", "Add"} & set(types)
    assert types.count("Conv") == 69
