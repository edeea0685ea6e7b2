"""Functional kernels (targets.machine.kernels) against onnxruntime: every crossbar op type, tiled on small
16 x 16 crossbars with 2 bit slices (several row/column tiles, block-diagonal packing), output
chunks concatenated equal the whole output."""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from cimopt.ir import load as ir_load
from cimopt.ir.chunks import chunk_axis, split_rows, WHOLE
from cimopt.ir.graph import Graph, OpClass
from cimopt.ir.passes.legalize import Legalize
from cimopt.ir.passes.optimize import optimize
from cimopt.ir.program import TileWrite
from cimopt.ir.tiles import tile_matrix
from cimopt.ir.workload import matrix_of
from cimopt.targets.machine.kernels import mvm_chunk, run_op, tile_block
from cimopt.targets.machine.rows import put_rows

ROWS, COLS, SLICES = 16, 16, 2


def make_model(nodes: Sequence[onnx.NodeProto], inputs: Mapping[str, Sequence[int]], outputs: Sequence[str],
               inits: Mapping[str, np.ndarray]) -> onnx.ModelProto:
    """A float32 opset-17 model; output shapes left to inference."""
    ins = [helper.make_tensor_value_info(n, TensorProto.FLOAT, list(s)) for n, s in inputs.items()]
    outs = [helper.make_empty_tensor_value_info(n) for n in outputs]
    g = helper.make_graph(list(nodes), "t", ins, outs, [numpy_helper.from_array(v, k) for k, v in inits.items()])
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return onnx.shape_inference.infer_shapes(model)


def prepared(model: onnx.ModelProto) -> Graph:
    """Load, optimise and legalise a model (vector ops on the vector unit, host available)."""
    g = optimize(ir_load.load(model)).graph
    return Legalize(vector_matmul=False, has_host=True)(g).graph


def tile_writes(graph: Graph, op_name: str) -> list[TileWrite]:
    """One replica's tiles of ``op_name`` on 16 x 16 crossbars, one crossbar each."""
    m = matrix_of(graph, graph.op(op_name))
    return [TileWrite(0, i, op_name, 0, t.index, t.group0, t.ngroups, t.row0, t.row1, t.col0, t.col1)
            for i, t in enumerate(tile_matrix(op_name, m, ROWS, COLS, SLICES))]


def blocks_of(graph: Graph, op_name: str) -> list[tuple[TileWrite, np.ndarray]]:
    op = graph.op(op_name)
    return [(tw, tile_block(op, graph.constants, tw)) for tw in tile_writes(graph, op_name)]


def reference(model: onnx.ModelProto, feeds: Mapping[str, np.ndarray]) -> list[np.ndarray]:
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, dict(feeds))


def crossbar_output(graph: Graph, x: np.ndarray, chunks: int = 3) -> np.ndarray:
    """The graph's single crossbar op computed chunk by chunk from its tiles."""
    (op,) = [o for o in graph.ops() if o.op_class is OpClass.CROSSBAR]
    blocks = blocks_of(graph, op.name)
    ax = chunk_axis(graph, op)
    y = np.zeros(graph.shape(op.outputs[0]), dtype=np.float32)
    ranges = [(0, 1)] if ax.axis == WHOLE else split_rows(ax.rows, chunks)
    for r0, r1 in ranges:
        put_rows(y, ax.axis, r0, r1, mvm_chunk(graph, op, x, r0, r1, blocks))
    return y


def one_op(op_type: str, x_shape: Sequence[int], w: np.ndarray, b: np.ndarray | None = None,
           act: str | None = None, **attrs: object) -> onnx.ModelProto:
    inits = {"W": w}
    ins = ["X", "W"]
    if b is not None:
        inits["B"] = b
        ins.append("B")
    nodes = [helper.make_node(op_type, ins, ["Y0" if act else "Y"], **attrs)]
    if act:
        nodes.append(helper.make_node(act, ["Y0"], ["Y"]))
    return make_model(nodes, {"X": x_shape}, ["Y"], inits)


def check(model: onnx.ModelProto, x: np.ndarray, chunks: int = 3) -> None:
    g = prepared(model)
    got = crossbar_output(g, x, chunks)
    (want,) = reference(model, {"X": x})
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


RNG = np.random.default_rng(0)


def rand(*shape: int) -> np.ndarray:
    return RNG.standard_normal(shape).astype(np.float32)


@pytest.mark.parametrize("attrs", [
    {"pads": [1, 1, 1, 1]},
    {"pads": [0, 2, 1, 0], "strides": [2, 1]},
    {"pads": [2, 2, 2, 2], "dilations": [2, 2], "strides": [1, 2]},
    {"auto_pad": "SAME_UPPER", "strides": [2, 2]},
    {"auto_pad": "SAME_LOWER"},
    {"auto_pad": "VALID", "group": 2},
    {"pads": [1, 1, 1, 1], "group": 2},
])
def test_conv2d(attrs: dict[str, object]) -> None:
    g = int(attrs.get("group", 1))  # type: ignore[call-overload]
    model = one_op("Conv", (2, 6, 9, 8), rand(20, 6 // g, 3, 3), rand(20), "Relu", **attrs)
    check(model, rand(2, 6, 9, 8))


def test_conv_depthwise_packed() -> None:
    # K = 2*2 = 4 rows, N = 1: four groups per 16 x 16 crossbar; Clip bounds are constant inputs
    model = make_model([helper.make_node("Conv", ["X", "W", "B"], ["C"], pads=[1, 0, 1, 1], group=8),
                        helper.make_node("Clip", ["C", "lo", "hi"], ["Y"])], {"X": (1, 8, 7, 7)}, ["Y"],
                       {"W": rand(8, 1, 2, 2), "B": rand(8), "lo": np.array(-0.5, np.float32),
                        "hi": np.array(0.7, np.float32)})
    g = prepared(model)
    tws = tile_writes(g, next(iter(g.ops())).name)
    assert any(tw.ngroups > 1 for tw in tws)
    check(model, rand(1, 8, 7, 7))


def test_conv_many_tiles() -> None:
    # K = 5*3*3 = 45 rows (3 row tiles), N = 19 columns (3 column tiles of 8 weights)
    model = one_op("Conv", (1, 5, 6, 6), rand(19, 5, 3, 3), None, "LeakyRelu", pads=[1, 1, 1, 1])
    g = prepared(model)
    tws = tile_writes(g, next(iter(g.ops())).name)
    assert len({tw.row0 for tw in tws}) == 3 and len({tw.col0 for tw in tws}) == 3
    check(model, rand(1, 5, 6, 6), chunks=4)


def test_conv1d_and_3d() -> None:
    check(one_op("Conv", (2, 3, 11), rand(7, 3, 3), rand(7), "Sigmoid", pads=[1, 2], strides=[2]), rand(2, 3, 11))
    check(one_op("Conv", (1, 2, 5, 6, 4), rand(4, 2, 3, 2, 2), rand(4), "Tanh", pads=[1, 0, 1, 1, 1, 0]),
          rand(1, 2, 5, 6, 4))


@pytest.mark.parametrize("attrs", [
    {"strides": [2, 2], "pads": [1, 1, 1, 1], "output_padding": [1, 1]},
    {"strides": [2, 2], "group": 2},
    {"strides": [2, 1], "dilations": [1, 2], "pads": [0, 1, 1, 0]},
    {"strides": [2, 2], "output_shape": [10, 9]},
    {"strides": [2, 2], "auto_pad": "SAME_UPPER"},
    {"strides": [2, 2], "auto_pad": "SAME_LOWER"},
])
def test_conv_transpose(attrs: dict[str, object]) -> None:
    g = int(attrs.get("group", 1))  # type: ignore[call-overload]
    model = one_op("ConvTranspose", (2, 6, 5, 4), rand(6, 10 // g, 3, 3), rand(10), "HardSigmoid", **attrs)
    check(model, rand(2, 6, 5, 4))


def test_conv_transpose_1d_3d_and_row_tiles() -> None:
    check(one_op("ConvTranspose", (2, 3, 7), rand(3, 5, 4), rand(5), None, strides=[3], pads=[1, 2]), rand(2, 3, 7))
    check(one_op("ConvTranspose", (1, 2, 3, 4, 3), rand(2, 3, 2, 2, 3), None, "Relu", strides=[2, 1, 2]),
          rand(1, 2, 3, 4, 3))
    # K = 20 input channels: two row tiles whose partial sums add up before the scatter
    check(one_op("ConvTranspose", (1, 20, 3, 3), rand(20, 4, 3, 3), rand(4), None, strides=[2, 2]), rand(1, 20, 3, 3))


def test_gemm_matrix_c() -> None:
    model = make_model([helper.make_node("Gemm", ["X", "W", "C"], ["Y"], alpha=0.7, beta=-1.3)], {"X": (9, 37)}, ["Y"],
                       {"W": rand(37, 23), "C": rand(9, 1)})
    check(model, rand(9, 37))


@pytest.mark.parametrize("trans_a,trans_b,alpha,beta", [(0, 0, 1.0, 1.0), (1, 0, 0.5, 2.0), (0, 1, 1.5, 0.3),
                                                        (1, 1, 1.0, 1.0)])
def test_gemm(trans_a: int, trans_b: int, alpha: float, beta: float) -> None:
    a_shape = (37, 9) if trans_a else (9, 37)
    w = rand(23, 37) if trans_b else rand(37, 23)
    model = one_op("Gemm", a_shape, w, rand(23), "HardSwish", transA=trans_a, transB=trans_b, alpha=alpha,
                   beta=beta)
    check(model, rand(*a_shape))


def test_matmul_3d_and_linear() -> None:
    check(one_op("MatMul", (2, 5, 30), rand(30, 21)), rand(2, 5, 30), chunks=4)
    model = make_model([helper.make_node("MatMul", ["X", "W"], ["M"]), helper.make_node("Add", ["M", "B"], ["Z"]),
                        helper.make_node("Relu", ["Z"], ["Y"])], {"X": (3, 4, 18)}, ["Y"],
                       {"W": rand(18, 40), "B": rand(40)})
    g = prepared(model)
    assert [o.op_type for o in g.ops()] == ["Linear"]
    check(model, rand(3, 4, 18), chunks=5)


def test_missing_tile_changes_output() -> None:
    model = one_op("Conv", (1, 5, 6, 6), rand(19, 5, 3, 3), None, None, pads=[1, 1, 1, 1])
    g = prepared(model)
    op = next(iter(g.ops()))
    x = rand(1, 5, 6, 6)
    blocks = blocks_of(g, op.name)
    full = mvm_chunk(g, op, x, 0, 6, blocks)
    part = mvm_chunk(g, op, x, 0, 6, blocks[1:])
    assert not np.allclose(full, part)


def test_run_op_vector() -> None:
    model = make_model([helper.make_node("Conv", ["X", "W"], ["C"], pads=[1, 1, 1, 1]),
                        helper.make_node("MaxPool", ["C"], ["Y"], kernel_shape=[2, 2], strides=[2, 2])],
                       {"X": (1, 2, 6, 6)}, ["Y"], {"W": rand(3, 2, 3, 3)})
    g = prepared(model)
    pool = [o for o in g.ops() if o.op_type == "MaxPool"][0]
    c = rand(1, 3, 6, 6)
    sessions: dict[str, object] = {}
    (y,) = run_op(g, pool, [c], sessions)
    assert pool.name in sessions
    np.testing.assert_allclose(y, c.reshape(1, 3, 3, 2, 3, 2).max(axis=(3, 5)))


@pytest.mark.parametrize("chunks", [1, 5, 17, 144])
def test_conv_vector_ranges_of_any_size(chunks: int) -> None:
    # 2 images x 9 x 8 = 144 output vectors: ranges within a row, over rows and over both images,
    # down to one vector each, computed from their own windows only
    model = one_op("Conv", (2, 6, 9, 8), rand(20, 6, 3, 3), rand(20), "Relu", pads=[1, 0, 1, 2], strides=[1, 1])
    check(model, rand(2, 6, 9, 8), chunks)
