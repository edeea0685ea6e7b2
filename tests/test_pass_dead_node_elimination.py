"""Dead node elimination: ops that cannot reach a graph output go, then unused constants."""
from __future__ import annotations

import numpy as np
from onnx import helper

from cimopt.ir.graph import Activation, OpSpec
from cimopt.ir.load import load
from cimopt.ir.passes.dead_node_elimination import DeadNodeElimination

from pass_helpers import apply_and_compare, make_model, op_types


def test_unused_branch_and_its_constants_go() -> None:
    nodes = [helper.make_node("Relu", ["x"], ["a"]),
             helper.make_node("Add", ["a", "k"], ["dead1"]),
             helper.make_node("Neg", ["dead1"], ["dead2"]),
             helper.make_node("Mul", ["a", "k2"], ["y"])]
    inits = {"k": np.ones((2, 3), np.float32), "k2": np.full((2, 3), 2.0, np.float32)}
    model = make_model(nodes, {"x": (2, 3)}, ["y"], inits)
    r = apply_and_compare(model, DeadNodeElimination())
    assert r.modified and op_types(r.graph) == ["Relu", "Mul"]
    assert set(r.graph.constants) == {"k2"}
    assert "dead1" not in r.graph.tensors and "dead2" not in r.graph.tensors


def test_live_graph_is_unmodified() -> None:
    model = make_model([helper.make_node("Relu", ["x"], ["y"])], {"x": (2,)}, ["y"])
    g = load(model)
    assert not DeadNodeElimination()(g).modified and op_types(g) == ["Relu"]


def test_constants_read_by_a_fused_activation_stay() -> None:
    nodes = [helper.make_node("Relu", ["x"], ["y"])]
    model = make_model(nodes, {"x": (2,)}, ["y"], {"lo": np.array([0.0], np.float32)})
    g = load(model)
    relu = g.ops()[0]
    g.constants["hi"] = np.array(0.5, np.float32)
    g.replace_op(OpSpec(relu.name, "Neg", relu.inputs, relu.outputs,
                        activation=Activation("Clip", (), ("lo", "hi"))))
    r = DeadNodeElimination()(g)
    assert set(g.constants) == {"lo", "hi"} and not r.modified
