"""Vector ops in row chunks: axes and receptive fields (`ir.vector_chunks`), and a model whose
chunked vector ops run on several vector units and still match onnxruntime."""
from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper

from cimopt.compiler import compile_model
from cimopt.inputs import compare, random_inputs, reference_outputs
from cimopt.ir.chunks import FLAT, VEC, WHOLE
from cimopt.ir.graph import Graph, OpSpec
from cimopt.ir.load import load as load_model
from cimopt.ir.vector_chunks import chunk_fraction_cost, vector_chunk_axis, vector_needed_rows
from cimopt.options import CompileOptions
from cimopt.targets.load import load_target
from cimopt.targets.machine.executor import execute


def _model(seed: int = 0) -> onnx.ModelProto:
    """Conv -> MaxPool (3x3 s2 p1) -> Conv -> Add (residual) -> AveragePool -> Concat (channels)
    -> Sigmoid -> GlobalAveragePool -> Flatten -> Gemm -> Softmax."""
    r = np.random.default_rng(seed)
    inits = [helper.make_tensor(n, TensorProto.FLOAT, a.shape, a.ravel().tolist()) for n, a in (
        ("w1", r.normal(0, 0.3, (8, 3, 3, 3)).astype(np.float32)),
        ("w2", r.normal(0, 0.3, (8, 8, 3, 3)).astype(np.float32)),
        ("wf", r.normal(0, 0.3, (16, 5)).astype(np.float32)))]
    n = helper.make_node
    nodes = [
        n("Conv", ["x", "w1"], ["c1"], pads=[1, 1, 1, 1], name="conv1"),
        n("MaxPool", ["c1"], ["p1"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1], name="pool1"),
        n("Conv", ["p1", "w2"], ["c2"], pads=[1, 1, 1, 1], name="conv2"),
        n("Add", ["c2", "p1"], ["a"], name="add"),
        n("AveragePool", ["a"], ["p2"], kernel_shape=[2, 2], strides=[1, 1], name="pool2"),
        n("Concat", ["p2", "p2"], ["cat"], axis=1, name="cat"),
        n("Sigmoid", ["cat"], ["s"], name="sig"),
        n("GlobalAveragePool", ["s"], ["g"], name="gap"),
        n("Flatten", ["g"], ["f"], name="flat"),
        n("Gemm", ["f", "wf"], ["l"], name="fc"),
        n("Softmax", ["l"], ["y"], axis=1, name="softmax"),
    ]
    g = helper.make_graph(nodes, "chunky", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 32, 32])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 5])], inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


def _graph() -> Graph:
    return load_model(_model())


def _op(g: Graph, name: str) -> OpSpec:
    return g.op(name)


def test_axes_of_vector_ops() -> None:
    g = _graph()
    # 16 x 16 output vectors in (image, row, column) order
    assert (vector_chunk_axis(g, _op(g, "pool1")).axis, vector_chunk_axis(g, _op(g, "pool1")).rows) == (VEC, 256)
    assert vector_chunk_axis(g, _op(g, "add")).axis == VEC
    assert vector_chunk_axis(g, _op(g, "cat")).axis == VEC        # concat on channels: each vector its own
    assert (vector_chunk_axis(g, _op(g, "gap")).axis, vector_chunk_axis(g, _op(g, "gap")).rows) == (1, 16)
    assert vector_chunk_axis(g, _op(g, "flat")).axis == WHOLE     # a view: one task
    assert vector_chunk_axis(g, _op(g, "softmax")).rows == 1       # (1, 5) softmax over its last axis: one row


def test_receptive_fields() -> None:
    g = _graph()
    # MaxPool 3x3 stride 2 pad 1 on 32 x 32: output rows 4:8 (vectors 64:128 of 16 per row) read
    # input rows 7:16 (vectors 224:512 of 32 per row); one output vector reads rows 0:2
    assert vector_needed_rows(g, _op(g, "pool1"), "c1", 64, 128) == (VEC, 224, 512)
    assert vector_needed_rows(g, _op(g, "pool1"), "c1", 0, 1) == (VEC, 0, 64)
    # a part of a row reads the rows its windows cover: vectors 20:21 (row 1, column 4) read rows 1:4
    assert vector_needed_rows(g, _op(g, "pool1"), "c1", 20, 21) == (VEC, 32, 128)
    assert vector_needed_rows(g, _op(g, "add"), "p1", 3, 5) == (VEC, 3, 5)
    assert vector_needed_rows(g, _op(g, "gap"), "s", 2, 6) == (1, 2, 6)
    assert vector_needed_rows(g, _op(g, "flat"), "g", 0, 1) == (WHOLE, 0, 0)


def test_flat_axis_for_rank_three() -> None:
    n = helper.make_node
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 6, 8])
    b = helper.make_tensor_value_info("b", TensorProto.FLOAT, [1, 1, 8])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 6, 8])
    g = load_model(helper.make_model(helper.make_graph(
        [n("Add", ["x", "b"], ["s"], name="add"), n("LayerNormalization", ["s", "sc"], ["y"], axis=-1, name="ln")],
        "t", [x, b], [y], [helper.make_tensor("sc", TensorProto.FLOAT, [8], [1.0] * 8)]),
        opset_imports=[helper.make_opsetid("", 17)]))
    assert (vector_chunk_axis(g, g.op("add")).axis, vector_chunk_axis(g, g.op("add")).rows) == (FLAT, 6)
    assert vector_needed_rows(g, g.op("add"), "x", 1, 3) == (FLAT, 1, 3)
    assert vector_needed_rows(g, g.op("add"), "b", 1, 3) == (WHOLE, 0, 0)   # broadcast along the rows
    assert vector_chunk_axis(g, g.op("ln")).axis == FLAT


def test_chunk_cost_shares() -> None:
    assert chunk_fraction_cost(100, 200.0, 400, 1, 4) == (25, 50.0, 100)
    assert chunk_fraction_cost(100, 200.0, 400, 4, 4) == (100, 200.0, 400)


def test_chunked_vector_ops_spread_and_match() -> None:
    m = _model(1)
    t = load_target("isaac")
    for mode in ("latency", "throughput"):
        res = compile_model(m, t, CompileOptions(mode=mode))
        vec = [i for i in res.program.instructions if i.kind == "vector"]
        pools = [i for i in vec if i.op == "pool1"]
        assert len(pools) > 1 and all(i.writes[0].axis == VEC for i in pools)
        assert len({i.unit for i in vec}) > 1     # more than one vector unit
        inputs = random_inputs(res.frontend.graph, 0)
        out = execute(res.program, res.frontend.graph, t, inputs)
        assert not out.violations, out.violations[:3]
        ok, errs = compare(out.outputs, reference_outputs(m, inputs, list(res.frontend.graph.outputs)))
        assert ok, errs


def test_dynamic_matmul_rows_read_all_of_the_right_operand() -> None:
    n = helper.make_node
    q = helper.make_tensor_value_info("q", TensorProto.FLOAT, [1, 2, 4, 4])
    k = helper.make_tensor_value_info("k", TensorProto.FLOAT, [1, 2, 4, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2, 4, 4])
    g = load_model(helper.make_model(helper.make_graph([n("MatMul", ["q", "k"], ["y"], name="mm")], "t", [q, k], [y]),
                                     opset_imports=[helper.make_opsetid("", 17)]))
    assert (vector_chunk_axis(g, g.op("mm")).axis, vector_chunk_axis(g, g.op("mm")).rows) == (2, 4)
    assert vector_needed_rows(g, g.op("mm"), "q", 1, 3) == (2, 1, 3)
    assert vector_needed_rows(g, g.op("mm"), "k", 1, 3) == (WHOLE, 0, 0)   # same shape, still read whole


def _shuffle_model(seed: int = 0) -> onnx.ModelProto:
    """Conv (8 channels) -> channel shuffle (Reshape to 2 x 4 groups, Transpose, Reshape back) ->
    Conv -> Flatten of a (1, 8, 1, 1) global pool: ShuffleNet's structure."""
    r = np.random.default_rng(seed)
    inits = [helper.make_tensor(n, TensorProto.FLOAT, a.shape, a.ravel().tolist()) for n, a in (
        ("w1", r.normal(0, 0.3, (8, 3, 3, 3)).astype(np.float32)),
        ("w2", r.normal(0, 0.3, (8, 8, 1, 1)).astype(np.float32)))]
    inits += [helper.make_tensor("s5", TensorProto.INT64, [5], [1, 2, 4, 16, 16]),
              helper.make_tensor("s4", TensorProto.INT64, [4], [1, 8, 16, 16])]
    n = helper.make_node
    nodes = [
        n("Conv", ["x", "w1"], ["c1"], pads=[1, 1, 1, 1], name="conv1"),
        n("Reshape", ["c1", "s5"], ["g5"], name="split_groups"),
        n("Transpose", ["g5"], ["t5"], perm=[0, 2, 1, 3, 4], name="shuffle"),
        n("Reshape", ["t5", "s4"], ["sh"], name="join_groups"),
        n("Conv", ["sh", "w2"], ["c2"], name="conv2"),
        n("GlobalAveragePool", ["c2"], ["g"], name="gap"),
        n("Flatten", ["g"], ["y"], name="flat"),
    ]
    g = helper.make_graph(nodes, "shuffle", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 16, 16])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 8])], inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


def test_layout_ops_chunk_along_the_rows_they_keep() -> None:
    g = load_model(_shuffle_model())
    # (1, 8, 16, 16) -> (1, 2, 4, 16, 16): the height moves from axis 2 to axis 3
    assert (vector_chunk_axis(g, g.op("split_groups")).axis, vector_chunk_axis(g, g.op("split_groups")).rows) == (3, 16)
    assert vector_needed_rows(g, g.op("split_groups"), "c1", 2, 5) == (2, 2, 5)
    assert vector_needed_rows(g, g.op("split_groups"), "s5", 2, 5) == (WHOLE, 0, 0)   # the shape
    # (1, 8, 1, 1) -> (1, 8) keeps only the channels, the last axis of its output: one task
    assert vector_chunk_axis(g, g.op("flat")).axis == WHOLE


def test_channel_shuffle_runs_in_row_chunks_and_matches() -> None:
    m = _shuffle_model(2)
    t = load_target("isaac")
    for mode in ("latency", "throughput"):
        res = compile_model(m, t, CompileOptions(mode=mode))
        for op, axis in (("split_groups", 3), ("shuffle", 3), ("join_groups", 2)):
            tasks = [i for i in res.program.instructions if i.kind == "vector" and i.op == op]
            assert len(tasks) > 1 and all(i.writes[0].axis == axis for i in tasks), (op, tasks[:2])
        inputs = random_inputs(res.frontend.graph, 0)
        out = execute(res.program, res.frontend.graph, t, inputs)
        assert not out.violations, out.violations[:3]
        ok, errs = compare(out.outputs, reference_outputs(m, inputs, list(res.frontend.graph.outputs)))
        assert ok, errs
