"""Legalisation: every op gets the unit that runs it (crossbar, vector unit or host), by the
rules in the pass's docstring; ops nothing can run are all listed in one error."""
from __future__ import annotations

import numpy as np
import pytest
from onnx import helper

from cimopt.ir.errors import UnsupportedOperatorError
from cimopt.ir.graph import OpClass
from cimopt.ir.load import load
from cimopt.ir.passes.legalize import Legalize

from pass_helpers import make_model

W = np.ones((4, 4), np.float32)


def _classes(model, **kw: bool) -> dict[str, OpClass]:
    g = load(model)
    Legalize(vector_matmul=kw.get("vector_matmul", False), has_host=kw.get("has_host", True))(g)
    return {op.name: op.op_class for op in g.ops()}


def test_constant_weights_go_to_the_crossbars() -> None:
    nodes = [helper.make_node("Conv", ["x", "cw", "cb"], ["c"], name="conv", pads=[1, 1, 1, 1]),
             helper.make_node("Flatten", ["c"], ["f"], name="flat"),
             helper.make_node("Gemm", ["f", "gw"], ["g"], name="gemm", transB=1),
             helper.make_node("MatMul", ["g", "mw"], ["y"], name="matmul")]
    model = make_model(nodes, {"x": (1, 2, 2, 2)}, ["y"],
                       {"cw": np.ones((2, 2, 3, 3), np.float32), "cb": np.zeros(2, np.float32),
                        "gw": np.ones((4, 8), np.float32), "mw": W})
    got = _classes(model)
    assert got == {"conv": OpClass.CROSSBAR, "flat": OpClass.VECTOR, "gemm": OpClass.CROSSBAR,
                   "matmul": OpClass.CROSSBAR}


def test_runtime_weights_or_bias_are_not_crossbar_ops() -> None:
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], name="dyn_weight"),
             helper.make_node("Gemm", ["a", "gw", "bias"], ["g"], name="dyn_bias"),
             helper.make_node("MatMul", ["a", "w3"], ["m"], name="batched_const")]
    model = make_model(nodes, {"x": (1, 2, 3, 3), "w": (2, 2, 1, 1), "a": (2, 4), "bias": (4,)}, ["c", "g", "m"],
                       {"gw": W, "w3": np.ones((2, 4, 4), np.float32)})
    got = _classes(model)
    assert all(c is not OpClass.CROSSBAR for c in got.values()), got


def test_activation_matmul_goes_to_the_vector_unit_only_when_the_target_says_so() -> None:
    model = make_model([helper.make_node("MatMul", ["q", "k"], ["s"], name="qk")], {"q": (2, 3), "k": (3, 2)}, ["s"])
    assert _classes(model, vector_matmul=True)["qk"] is OpClass.VECTOR
    assert _classes(model, vector_matmul=False)["qk"] is not OpClass.CROSSBAR


def test_host_ops_without_a_host_are_all_listed() -> None:
    nodes = [helper.make_node("TopK", ["x", "k"], ["v", "i"], name="topk"),
             helper.make_node("NonZero", ["x"], ["nz"], name="nonzero")]
    model = make_model(nodes, {"x": (1, 6)}, ["v", "i", "nz"], {"k": np.array([2], np.int64)})
    assert _classes(model, has_host=True) == {"topk": OpClass.HOST, "nonzero": OpClass.HOST}
    with pytest.raises(UnsupportedOperatorError, match=r"2 op\(s\).*topk \(TopK\).*nonzero \(NonZero\).*\[host\]"):
        _classes(model, has_host=False)


def test_second_run_changes_nothing() -> None:
    model = make_model([helper.make_node("Relu", ["x"], ["y"], name="relu")], {"x": (2, 2)}, ["y"])
    g = load(model)
    assert Legalize(vector_matmul=False, has_host=True)(g).modified
    assert not Legalize(vector_matmul=False, has_host=True)(g).modified
    assert g.ops()[0].op_class is OpClass.VECTOR
