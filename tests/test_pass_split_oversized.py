"""split_oversized: ops larger than a segment become parts that fit, with the same function."""
from __future__ import annotations

import math

import numpy as np
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from cimopt.ir.errors import CapacityError
from cimopt.ir.export import to_onnx
from cimopt.ir.load import load
from cimopt.ir.passes.optimize import optimize
from cimopt.ir.passes.split_oversized import SplitOversized


def _model(kind: str, opset: int = 13):  # noqa: ANN202
    r = np.random.default_rng(0)
    if kind == "conv":
        x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 40, 6, 6])
        inits = [numpy_helper.from_array(r.normal(0, 0.1, (70, 40, 3, 3)).astype(np.float32), "w"),
                 numpy_helper.from_array(r.normal(0, 0.1, (70,)).astype(np.float32), "b")]
        nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"], pads=[1, 1, 1, 1]),
                 helper.make_node("Relu", ["c"], ["y"])]
    elif kind == "gemm":
        x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [3, 300])
        inits = [numpy_helper.from_array(r.normal(0, 0.1, (90, 300)).astype(np.float32), "w"),
                 numpy_helper.from_array(r.normal(0, 0.1, (90,)).astype(np.float32), "b")]
        nodes = [helper.make_node("Gemm", ["x", "w", "b"], ["c"], transB=1, alpha=0.5, beta=2.0),
                 helper.make_node("Relu", ["c"], ["y"])]
    else:
        x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 5, 300])
        inits = [numpy_helper.from_array(r.normal(0, 0.1, (300, 90)).astype(np.float32), "w"),
                 numpy_helper.from_array(r.normal(0, 0.1, (90,)).astype(np.float32), "b")]
        nodes = [helper.make_node("MatMul", ["x", "w"], ["m"]), helper.make_node("Add", ["m", "b"], ["y"])]
    yshape = {"conv": [1, 70, 6, 6], "gemm": [3, 90]}.get(kind, [2, 5, 90])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, yshape)
    m = helper.make_model(helper.make_graph(nodes, "g", [x], [y], inits), opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 7
    return m


@pytest.mark.parametrize("kind", ["conv", "gemm", "matmul"])
@pytest.mark.parametrize("opset", [9, 13])
@pytest.mark.parametrize("limit", [2, 3, 5])
def test_split_keeps_the_function(kind: str, opset: int, limit: int) -> None:
    m = _model(kind, opset)
    g = optimize(load(m)).graph
    r = SplitOversized(rows=32, cols=32, slices=2, limit=limit)(g)
    assert r.modified
    for op in r.graph.ops():
        if op.op_type in ("Conv", "Gemm", "MatMul", "Linear") and op.inputs[1] in r.graph.constants:
            w = r.graph.constants[op.inputs[1]]
            k, n = (int(np.prod(w.shape[1:])), w.shape[0]) if op.op_type == "Conv" else w.shape
            assert math.ceil(k / 32) * math.ceil(n / 16) <= limit
    x = np.random.default_rng(1).standard_normal(tuple(d.dim_value for d in m.graph.input[0].type.tensor_type.shape.dim)).astype(np.float32)
    ref = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    got = ort.InferenceSession(to_onnx(r.graph).SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-5)


def test_small_ops_untouched() -> None:
    g = optimize(load(_model("conv"))).graph
    assert not SplitOversized(rows=128, cols=128, slices=2, limit=100)(g).modified


def test_grouped_conv_whose_one_window_does_not_fit_is_named() -> None:
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 64, 10, 10])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 64, 2, 2])
    w = numpy_helper.from_array(np.ones((64, 32, 9, 9), np.float32), "w")
    m = helper.make_model(helper.make_graph([helper.make_node("Conv", ["x", "w"], ["y"], group=2, name="gconv")],
                                            "g", [x], [y], [w]), opset_imports=[helper.make_opsetid("", 13)])
    with pytest.raises(CapacityError, match="gconv"):
        SplitOversized(rows=32, cols=32, slices=2, limit=2)(load(m))


def _grouped(groups: int, cin: int, cout: int, hw: int = 5, act: bool = True):  # noqa: ANN202
    r = np.random.default_rng(3)
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, cin, hw, hw])
    inits = [numpy_helper.from_array(r.normal(0, 0.3, (cout, cin // groups, 3, 3)).astype(np.float32), "w"),
             numpy_helper.from_array(r.normal(0, 0.1, (cout,)).astype(np.float32), "b")]
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c" if act else "y"], pads=[1, 1, 1, 1], group=groups)]
    if act:
        nodes.append(helper.make_node("Relu", ["c"], ["y"]))
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, cout, hw, hw])
    m = helper.make_model(helper.make_graph(nodes, "g", [x], [y], inits), opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 7
    return m


def _crossbars(graph, rows: int, cols: int, slices: int) -> list[int]:  # noqa: ANN001
    from cimopt.ir.tiles import tile_count
    from cimopt.ir.workload import matrix_of
    return [tile_count(matrix_of(graph, op), rows, cols, slices) for op in graph.ops()
            if op.op_type == "Conv"]


@pytest.mark.parametrize("groups,cin,cout,limit", [(64, 64, 64, 2),     # depthwise, packed 3 groups a crossbar
                                                   (64, 64, 128, 3),    # depthwise with multiplier 2
                                                   (4, 32, 32, 5),      # grouped, each group 3 x 1 crossbars
                                                   (2, 32, 40, 2)])     # one group exceeds the limit: rule 4
def test_grouped_conv_split_keeps_the_function(groups: int, cin: int, cout: int, limit: int) -> None:
    m = _grouped(groups, cin, cout)
    g = optimize(load(m)).graph
    r = SplitOversized(rows=32, cols=32, slices=2, limit=limit)(g)
    assert r.modified
    sizes = _crossbars(r.graph, 32, 32, 2)
    assert len(sizes) > 1 and max(sizes) <= limit
    x = np.random.default_rng(1).standard_normal((1, cin, 5, 5)).astype(np.float32)
    ref = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    got = ort.InferenceSession(to_onnx(r.graph).SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-5)


def test_grouped_conv_that_fits_is_left_alone() -> None:
    g = optimize(load(_grouped(8, 16, 16))).graph
    assert not SplitOversized(rows=32, cols=32, slices=2, limit=50)(g).modified


@pytest.mark.parametrize(("cin", "cout", "limit"), [(80, 6, 3), (20, 40, 2), (8, 40, 4)])
def test_conv_transpose_split_keeps_the_function(cin: int, cout: int, limit: int) -> None:
    r = np.random.default_rng(4)
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, cin, 3, 3])
    inits = [numpy_helper.from_array(r.normal(0, 0.3, (cin, cout, 2, 2)).astype(np.float32), "w"),
             numpy_helper.from_array(r.normal(0, 0.1, (cout,)).astype(np.float32), "b")]
    nodes = [helper.make_node("ConvTranspose", ["x", "w", "b"], ["c"], strides=[2, 2]),
             helper.make_node("Relu", ["c"], ["y"])]
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, cout, 6, 6])
    m = helper.make_model(helper.make_graph(nodes, "g", [x], [y], inits), opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 7
    g = optimize(load(m)).graph
    res = SplitOversized(rows=32, cols=32, slices=2, limit=limit)(g)
    assert res.modified
    from cimopt.ir.tiles import tile_count
    from cimopt.ir.workload import matrix_of
    sizes = [tile_count(matrix_of(res.graph, op), 32, 32, 2) for op in res.graph.ops()
             if op.op_type == "ConvTranspose"]
    assert len(sizes) > 1 and max(sizes) <= limit
    xv = np.random.default_rng(1).standard_normal((1, cin, 3, 3)).astype(np.float32)
    ref = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": xv})[0]
    got = ort.InferenceSession(to_onnx(res.graph).SerializeToString(),
                               providers=["CPUExecutionProvider"]).run(None, {"x": xv})[0]
    np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-5)
