"""ir.subgraphs: outer-scope reads of If/Loop/Scan bodies, and the node's own input count."""
from __future__ import annotations

import onnx
from onnx import TensorProto, helper

import quirk_models as q
from cimopt.ir.subgraphs import node_input_count, outer_references


def test_if_outer_references() -> None:
    node = next(n for n in q.if_outer_scope().graph.node if n.op_type == "If")
    assert sorted(outer_references(node)) == ["h", "one", "two"]
    assert node_input_count("If", (), 4) == 1


def test_loop_body_reads_and_nested_definitions() -> None:
    inner = helper.make_graph([helper.make_node("Add", ["v", "outer2"], ["w"])], "inner", [],
                              [helper.make_tensor_value_info("w", TensorProto.FLOAT, [1])])
    body = helper.make_graph(
        [helper.make_node("Add", ["s_in", "outer1"], ["v"]),
         helper.make_node("If", ["c_in"], ["s_out"], then_branch=inner, else_branch=inner),
         helper.make_node("Identity", ["c_in"], ["c_out"])], "body",
        [helper.make_tensor_value_info("i", TensorProto.INT64, []), helper.make_tensor_value_info("c_in", TensorProto.BOOL, []),
         helper.make_tensor_value_info("s_in", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("c_out", TensorProto.BOOL, []),
         helper.make_tensor_value_info("s_out", TensorProto.FLOAT, [1])])
    loop = helper.make_node("Loop", ["M", "", "s0"], ["s"], body=body)
    assert outer_references(loop) == ["outer1", "outer2"]
    attrs = (("body", onnx.helper.get_attribute_value(loop.attribute[0])),)
    assert node_input_count("Loop", attrs, 5) == 3
    assert node_input_count("Conv", (), 3) == 3
