"""``--numerics int`` is bit-true: with an ADC wide enough to lose nothing, every crossbar op's integer
column sums equal quantised inputs times quantised weights in int64, computed here independently
of the crossbar code (no slices, passes, tiles or encodings), for each layer kind."""
from __future__ import annotations

import dataclasses

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from cimopt.compiler import compile_model
from cimopt.demo import light_graph
from cimopt.inputs import random_inputs
from cimopt.ir.graph import Graph, OpClass, OpSpec
from cimopt.ir.random_weights import randomise_light_graph
from cimopt.ir.workload import matrix_of
from cimopt.options import CompileOptions
from cimopt.targets.load import load_target
from cimopt.targets.machine.executor import execute, MachineResult
from cimopt.targets.machine.float_reference import calibrate, float_trace
from cimopt.targets.machine.numerics_engine import NumericsConfig
from cimopt.targets.spec import Target
from models import small_cnn, tiny_encoder


def wide_adc(t: Target, bits: int = 24, encoding: str | None = None, fmt: str = "float32") -> Target:
    """``t`` with an ADC that loses nothing, and a float32 vector unit."""
    assert t.numerics is not None
    num = dataclasses.replace(t.numerics, vector_format=fmt, weight_encoding=encoding or t.numerics.weight_encoding)
    return dataclasses.replace(t, core=dataclasses.replace(t.core, adc_bits=bits), numerics=num)


def weight_matrix(graph: Graph, op: OpSpec, group: int) -> np.ndarray:
    """The K x N weights of one group, read from the ONNX layout directly."""
    w = np.asarray(graph.constants[op.inputs[1]], dtype=np.float64)
    m = matrix_of(graph, op)
    if op.op_type == "Conv":
        return w.reshape(w.shape[0], -1)[group * m.n:(group + 1) * m.n].T
    if op.op_type == "ConvTranspose":
        return w.reshape(w.shape[0], -1)[group * m.k:(group + 1) * m.k]
    if op.op_type == "Gemm" and op.attr("transB", 0):
        return w.T
    return w


def int_reference(w: np.ndarray, bits: int) -> np.ndarray:
    """Per-column symmetric quantisation, written out element by element in int64."""
    qmax = 2 ** (bits - 1) - 1
    out = np.zeros(w.shape, dtype=np.int64)
    for j in range(w.shape[1]):
        amax = float(np.max(np.abs(w[:, j])))
        s = amax / qmax if amax > 0 else 1.0
        out[:, j] = np.clip(np.rint(w[:, j] / s), -qmax, qmax).astype(np.int64)
    return out


def run_int(model: onnx.ModelProto, t: Target, shortcut: bool,
            segments: int = 1) -> tuple[Graph, MachineResult, dict]:
    """Compile (checking the program has at least ``segments`` segments) and run bit-true with a trace."""
    res = compile_model(model, t, CompileOptions())
    assert res.program.segments >= segments
    g = res.frontend.graph
    x = random_inputs(g, 0)
    cal = calibrate(g, [random_inputs(g, 1)], t.precision.activation_bits)
    cfg = NumericsConfig("int", cal, trace=True, lossless_shortcut=shortcut)
    return g, execute(res.program, g, t, x, numerics=cfg), cal


def assert_bit_true(g: Graph, r: MachineResult, cal: dict, bits: int, kinds: set[str], rows: int = 128) -> None:
    """Every crossbar op's traced sums equal the int64 reference; ``kinds`` were among the ops
    (``/grouped``: groups > 1, ``/rowtiles``: more weight rows than a crossbar's ``rows``)."""
    assert r.numerics is not None and not r.violations
    seen = set()
    ops = [op for op in g.ops() if op.op_class is OpClass.CROSSBAR]
    assert {op.name for op in ops} == set(r.numerics.traces)
    for op in ops:
        m = matrix_of(g, op)
        z = cal[op.inputs[0]].zero
        qs = [int_reference(weight_matrix(g, op, gi), bits) for gi in range(m.groups)]
        for xq, total in r.numerics.traces[op.name]:
            assert xq.dtype == np.int64 and xq.min() >= 0 and xq.max() < 2 ** cal[op.inputs[0]].bits
            for gi, q in enumerate(qs):
                want = (xq[:, gi * m.k:(gi + 1) * m.k] - z) @ q
                np.testing.assert_array_equal(total[:, gi, :].astype(np.int64), want)
        assert r.numerics.layers[op.name].saturations == 0
        seen.add(op.op_type + ("/grouped" if m.groups > 1 else "") + ("/rowtiles" if m.k > rows else ""))
    assert kinds <= seen, seen


@pytest.mark.parametrize("shortcut", [True, False])
@pytest.mark.parametrize("encoding", ["offset", "differential"])
def test_conv_grouped_transpose_gemm_bit_true(shortcut: bool, encoding: str) -> None:
    t = wide_adc(load_target("isaac"), encoding=encoding)
    g, r, cal = run_int(small_cnn(), t, shortcut)
    assert_bit_true(g, r, cal, 16, {"Conv", "Conv/grouped", "Conv/rowtiles", "ConvTranspose", "Gemm"})


@pytest.mark.parametrize("shortcut", [True, False])
def test_linear_bit_true_8bit_target(shortcut: bool) -> None:
    model = tiny_encoder()
    t = wide_adc(load_target("pimcomp"))
    res = compile_model(model, t, CompileOptions(), {"ids": (1, 6)})
    g = res.frontend.graph
    x = random_inputs(g, 0)
    cal = calibrate(g, [x], t.precision.activation_bits)
    r = execute(res.program, g, t, x, numerics=NumericsConfig("int", cal, trace=True, lossless_shortcut=shortcut))
    assert_bit_true(g, r, cal, 8, {"Linear"})


def _big_conv_model() -> onnx.ModelProto:
    rng = np.random.default_rng(0)
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 40, 6, 6])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 70, 6, 6])
    inits = [numpy_helper.from_array(rng.normal(0, 0.1, (70, 40, 3, 3)).astype(np.float32), "w"),
             numpy_helper.from_array(rng.normal(0, 0.1, (70,)).astype(np.float32), "b")]
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c"], ["y"])]
    m = helper.make_model(helper.make_graph(nodes, "g", [x], [y], inits), opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 7
    return m


def test_split_ops_bit_true() -> None:
    """A conv larger than half of a one-core chip is split (ir/passes/split_oversized.py) into parts,
    run in segments with the crossbars reprogrammed by write instructions between them."""
    base = load_target("isaac")
    small = dataclasses.replace(base, chip=dataclasses.replace(base.chip, mesh_rows=1, mesh_cols=1),
                                core=dataclasses.replace(base.core, crossbars=16, crossbar_rows=32, crossbar_cols=64,
                                                         dacs_per_crossbar=32))
    t = wide_adc(small)
    g, r, cal = run_int(_big_conv_model(), t, shortcut=False, segments=2)
    assert any("/" in op.name for op in g.ops() if op.op_class is OpClass.CROSSBAR), "the conv was not split"
    assert_bit_true(g, r, cal, 16, {"Conv/rowtiles"}, rows=32)


def test_lossless_int_run_tracks_float_reference() -> None:
    """End to end (im2col, scales, bias, activations): 16-bit weights and inputs, lossless ADC."""
    t = wide_adc(load_target("isaac"))
    res = compile_model(small_cnn(), t, CompileOptions())
    g = res.frontend.graph
    x = random_inputs(g, 0)
    cal = calibrate(g, [x], 16)
    r = execute(res.program, g, t, x, numerics=NumericsConfig("int", cal))
    ref = float_trace(g, x)
    assert r.numerics is not None
    for name, layer in r.numerics.layers.items():
        y = ref[g.op(name).outputs[0]].astype(np.float64)
        sqnr = 10 * np.log10((y ** 2).sum() / ((layer.output - y) ** 2).sum())
        assert sqnr > 70, (name, sqnr)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["light_squeezenet", "light_shufflenet"])
def test_light_graphs_bit_true(name: str) -> None:
    t = wide_adc(load_target("isaac"))
    g, r, cal = run_int(randomise_light_graph(onnx.load(light_graph(name))), t, shortcut=True)
    assert_bit_true(g, r, cal, 16, {"Conv"} | ({"Conv/grouped"} if name == "light_shufflenet" else set()))
