"""Activation fusion: activations become the `Activation` of the op producing their input."""
from __future__ import annotations

import numpy as np
import pytest
from onnx import helper

from cimopt.ir.graph import CIMOPT_DOMAIN, OpSpec
from cimopt.ir.load import load
from cimopt.ir.passes.activation_fusion import ActivationFusion

from pass_helpers import apply_and_compare, assert_same_function, make_model, op_types, run_graph

RNG = np.random.default_rng(3)


def _rand(*shape: int) -> np.ndarray:
    return RNG.standard_normal(shape).astype(np.float32)


def test_conv_relu_fuses_and_keeps_the_output_name() -> None:
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"]), helper.make_node("Relu", ["c"], ["r"]),
             helper.make_node("MaxPool", ["r"], ["y"], kernel_shape=[2, 2])]
    model = make_model(nodes, {"x": (1, 3, 6, 6)}, ["y"], {"w": _rand(4, 3, 3, 3)})
    r = apply_and_compare(model, ActivationFusion())
    conv, pool = r.graph.ops()
    assert r.modified and op_types(r.graph) == ["Conv", "MaxPool"]
    assert conv.activation is not None and conv.activation.op_type == "Relu"
    assert conv.outputs == ("r",) and pool.inputs == ("r",)
    assert "c" not in r.graph.tensors


@pytest.mark.parametrize("act, attrs", [("LeakyRelu", {"alpha": 0.2}), ("Sigmoid", {}), ("Tanh", {}),
                                        ("HardSigmoid", {"alpha": 0.3, "beta": 0.4}), ("HardSwish", {})])
def test_other_activations_after_elementwise_and_matmul(act: str, attrs: dict[str, float]) -> None:
    nodes = [helper.make_node("MatMul", ["x", "w"], ["m"]), helper.make_node(act, ["m"], ["a"], **attrs),
             helper.make_node("Add", ["a", "x2"], ["s"]), helper.make_node(act, ["s"], ["y"], **attrs)]
    model = make_model(nodes, {"x": (2, 4), "x2": (2, 3)}, ["y"], {"w": _rand(4, 3)})
    r = apply_and_compare(model, ActivationFusion())
    mm, add = r.graph.ops()
    assert mm.activation is not None and mm.activation.op_type == act
    assert dict(mm.activation.attrs) == pytest.approx(attrs)
    assert add.activation is not None and add.outputs == ("y",)


def test_clip_with_constant_bounds_and_omitted_min() -> None:
    nodes = [helper.make_node("Gemm", ["x", "w"], ["g"], transB=1),
             helper.make_node("Clip", ["g", "lo", "hi"], ["c"]),
             helper.make_node("Sub", ["c", "x2"], ["s"]),
             helper.make_node("Clip", ["s", "", "hi"], ["y"])]
    inits = {"w": _rand(3, 4), "lo": np.array(0.0, np.float32), "hi": np.array(0.5, np.float32)}
    model = make_model(nodes, {"x": (2, 4), "x2": (2, 3)}, ["y"], inits)
    r = apply_and_compare(model, ActivationFusion())
    gemm, sub = r.graph.ops()
    assert gemm.activation is not None and gemm.activation.inputs == ("lo", "hi")
    assert sub.activation is not None and len(sub.activation.inputs) == 2
    assert r.graph.constants[sub.activation.inputs[0]] == -np.inf


def test_clip_attributes_in_old_opsets() -> None:
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"]), helper.make_node("Clip", ["c"], ["y"], min=0.0, max=6.0)]
    model = make_model(nodes, {"x": (1, 3, 5, 5)}, ["y"], {"w": _rand(4, 3, 3, 3)}, opset=9)
    r = apply_and_compare(model, ActivationFusion())
    (conv,) = r.graph.ops()
    assert conv.activation is not None and dict(conv.activation.attrs) == {"min": 0.0, "max": 6.0}


def test_relu_after_linear() -> None:
    g = load(make_model([helper.make_node("Relu", ["x"], ["y"])], {"x": (2, 4)}, ["y"]))
    relu = g.ops()[0]
    g.constants["w"] = _rand(4, 4)
    g.remove_op(relu.name)
    g.add_op(OpSpec("lin", "Linear", ("x", "w"), ("h",), domain=CIMOPT_DOMAIN))
    g.add_op(OpSpec(relu.name, "Relu", ("h",), ("y",)))
    before = g.copy()
    r = ActivationFusion()(g)
    (lin,) = r.graph.ops()
    assert lin.op_type == "Linear" and lin.activation is not None and lin.outputs == ("y",)
    feeds = {"x": _rand(2, 4)}
    np.testing.assert_allclose(run_graph(g, feeds)["y"], run_graph(before, feeds)["y"], rtol=1e-5)


def test_not_fused_cases() -> None:
    nodes = [helper.make_node("Conv", ["x", "w"], ["c1"]),
             helper.make_node("Relu", ["c1"], ["y1"]),
             helper.make_node("Sigmoid", ["c1"], ["y2"]),                # c1 has two readers
             helper.make_node("Conv", ["x", "w"], ["c2"]),              # c2 is a graph output
             helper.make_node("Relu", ["c2"], ["y3"]),
             helper.make_node("MaxPool", ["x"], ["p"], kernel_shape=[2, 2]),
             helper.make_node("Relu", ["p"], ["y4"]),                    # MaxPool is not a producer
             helper.make_node("Conv", ["x", "w"], ["c3"]),
             helper.make_node("Clip", ["c3", "lo"], ["y5"])]             # min is a graph input
    model = make_model(nodes, {"x": (1, 3, 5, 5), "lo": ()}, ["y1", "y2", "c2", "y3", "y4", "y5"],
                       {"w": _rand(4, 3, 3, 3)})
    g = load(model)
    before = op_types(g)
    assert not ActivationFusion()(g).modified
    assert op_types(g) == before


def test_second_activation_is_not_fused_onto_the_first() -> None:
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"]), helper.make_node("Relu", ["c"], ["r"]),
             helper.make_node("Sigmoid", ["r"], ["y"])]
    model = make_model(nodes, {"x": (1, 3, 5, 5)}, ["y"], {"w": _rand(4, 3, 3, 3)})
    r = apply_and_compare(model, ActivationFusion())
    assert op_types(r.graph) == ["Conv", "Sigmoid"]
    assert not ActivationFusion()(r.graph).modified
    assert_same_function(model, r.graph)
