"""Unit assignment: named ops get the class the choice says, given as a mapping or a callable."""
from __future__ import annotations

import numpy as np
import pytest
from onnx import helper

from cimopt.ir.errors import UsageError
from cimopt.ir.graph import Graph, OpClass
from cimopt.ir.load import load
from cimopt.ir.passes.assign_units import AssignUnits
from cimopt.ir.passes.legalize import Legalize

from pass_helpers import make_model


def _legalised() -> Graph:
    nodes = [helper.make_node("MatMul", ["a", "b"], ["m"]), helper.make_node("MatMul", ["m", "w"], ["y"])]
    m = make_model(nodes, {"a": (4, 8), "b": (8, 8)}, ["y"], {"w": np.ones((8, 3), np.float32)})
    return Legalize(vector_matmul=True, has_host=True)(load(m)).graph


def _names(g: Graph) -> tuple[str, str]:
    act, static = g.ops()
    return act.name, static.name


def test_mapping_sets_the_named_ops_only() -> None:
    g = _legalised()
    act, static = _names(g)
    before = g.op(act).op_class
    assert before is OpClass.VECTOR and g.op(static).op_class is OpClass.CROSSBAR
    r = AssignUnits({act: OpClass.HOST})(g)
    assert r.modified and r.graph is g
    assert g.op(act).op_class is OpClass.HOST and g.op(static).op_class is OpClass.CROSSBAR
    assert not AssignUnits({act: OpClass.HOST})(g).modified


def test_callable_sees_the_graph_as_found() -> None:
    g = _legalised()
    act, _ = _names(g)
    seen: list[OpClass | None] = []

    def choose(graph: Graph) -> dict[str, OpClass]:
        seen.append(graph.op(act).op_class)
        return {act: OpClass.CROSSBAR}

    assert AssignUnits(choose)(g).modified
    assert seen == [OpClass.VECTOR] and g.op(act).op_class is OpClass.CROSSBAR


def test_unknown_op_is_a_usage_error_naming_the_pass() -> None:
    with pytest.raises(UsageError, match="assign_units: no op named ghost"):
        AssignUnits({"ghost": OpClass.HOST})(_legalised())
