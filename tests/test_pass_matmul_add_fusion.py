"""MatMul + Add fusion into ai.cimopt::Linear."""
from __future__ import annotations

import numpy as np
import pytest
from onnx import helper

from cimopt.ir.graph import CIMOPT_DOMAIN
from cimopt.ir.load import load
from cimopt.ir.passes.activation_fusion import ActivationFusion
from cimopt.ir.passes.matmul_add_fusion import MatMulAddFusion

from pass_helpers import apply_and_compare, assert_same_function, make_model, op_types

RNG = np.random.default_rng(5)


def _rand(*shape: int) -> np.ndarray:
    return RNG.standard_normal(shape).astype(np.float32)


@pytest.mark.parametrize("bias_shape, bias_first", [((4,), False), ((4,), True), ((1, 4), False),
                                                    ((1, 1, 4), True)])
def test_matmul_add_becomes_linear(bias_shape: tuple[int, ...], bias_first: bool) -> None:
    add_in = ["b", "m"] if bias_first else ["m", "b"]
    nodes = [helper.make_node("MatMul", ["x", "w"], ["m"]), helper.make_node("Add", add_in, ["h"]),
             helper.make_node("Neg", ["h"], ["y"])]
    model = make_model(nodes, {"x": (2, 3, 8)}, ["y"], {"w": _rand(8, 4), "b": _rand(*bias_shape)})
    r = apply_and_compare(model, MatMulAddFusion())
    lin, neg = r.graph.ops()
    assert r.modified and (lin.op_type, lin.domain) == ("Linear", CIMOPT_DOMAIN)
    assert lin.inputs[:2] == ("x", "w") and lin.outputs == ("h",) and neg.inputs == ("h",)
    assert r.graph.constants[lin.inputs[2]].shape == (4,)
    assert "m" not in r.graph.tensors


def test_linear_takes_over_the_add_activation() -> None:
    nodes = [helper.make_node("MatMul", ["x", "w"], ["m"]), helper.make_node("Add", ["m", "b"], ["h"]),
             helper.make_node("Relu", ["h"], ["y"])]
    model = make_model(nodes, {"x": (3, 8)}, ["y"], {"w": _rand(8, 4), "b": _rand(4)})
    g = load(model)
    ActivationFusion()(g)
    assert MatMulAddFusion()(g).modified
    (lin,) = g.ops()
    assert lin.op_type == "Linear" and lin.activation is not None and lin.outputs == ("y",)
    assert_same_function(model, g)


def test_not_fused_cases() -> None:
    inits = {"w": _rand(8, 4), "b": _rand(4), "bfull": _rand(3, 4), "bwide": _rand(1, 1, 4)}
    nodes = [helper.make_node("MatMul", ["x", "w"], ["m1"]), helper.make_node("Add", ["m1", "bfull"], ["y1"]),
             helper.make_node("MatMul", ["x", "wx"], ["m2"]), helper.make_node("Add", ["m2", "b"], ["y2"]),
             helper.make_node("MatMul", ["x", "w"], ["m3"]), helper.make_node("Add", ["m3", "b"], ["y3"]),
             helper.make_node("Neg", ["m3"], ["y4"]),
             helper.make_node("MatMul", ["x", "w"], ["m4"]), helper.make_node("Add", ["m4", "bwide"], ["y5"]),
             helper.make_node("MatMul", ["x", "w"], ["m5"]), helper.make_node("Add", ["m5", "x2"], ["y6"])]
    model = make_model(nodes, {"x": (3, 8), "wx": (8, 4), "x2": (3, 4)}, ["y1", "y2", "y3", "y4", "y5", "y6"],
                       inits)
    g = load(model)
    before = op_types(g)
    assert not MatMulAddFusion()(g).modified
    assert op_types(g) == before
