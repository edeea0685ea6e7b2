"""Shape re-inference as a pass: specs recomputed from the graph, no op changed."""
from __future__ import annotations

import pytest
from onnx import helper

from cimopt.ir.errors import ShapeError
from cimopt.ir.graph import TensorSpec
from cimopt.ir.load import load
from cimopt.ir.passes.shape_inference import InferShapes

from pass_helpers import make_model, op_types


def test_specs_restored_ops_untouched() -> None:
    nodes = [helper.make_node("Relu", ["x"], ["a"]), helper.make_node("Transpose", ["a"], ["y"], perm=[1, 0])]
    g = load(make_model(nodes, {"x": (2, 5)}, ["y"]))
    want = g.spec("y")
    g.tensors["y"] = TensorSpec("y", None)        # as a rewrite that leaves the spec stale would
    ops = op_types(g)
    r = InferShapes()(g)
    assert not r.modified and r.graph is g and op_types(g) == ops
    assert g.spec("y") == want and g.shape("y") == (5, 2)


def test_input_without_static_shape_is_a_shape_error() -> None:
    g = load(make_model([helper.make_node("Relu", ["x"], ["y"])], {"x": (2, 3)}, ["y"]))
    g.tensors["x"] = TensorSpec("x", None, g.spec("x").dtype)
    with pytest.raises(ShapeError, match="no static shape"):
        InferShapes()(g)
