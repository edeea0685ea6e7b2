"""Epilogue fusion (issue 11): vector ops the target's crossbar output stage applies in line
(``core.output_stage_ops``) become part of the crossbar op, the machine runs them and still
matches onnxruntime; the target field is validated."""
from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from cimopt.compiler import compile_model
from cimopt.cost.model import CostModel
from cimopt.demo import light_graph
from cimopt.frontend import prepare
from cimopt.inputs import compare, random_inputs, reference_outputs
from cimopt.ir.export import to_onnx
from cimopt.ir.graph import OpClass
from cimopt.ir.random_weights import randomise_light_graph
from cimopt.ir.tiles import tile_matrix
from cimopt.options import CompileOptions
from cimopt.solver.e2e_bound import bound_problem, chunked_bound, end_to_end_bound
from cimopt.targets.errors import TargetError
from cimopt.targets.load import load_target, PRESET_DIR
from cimopt.targets.machine.executor import execute
from cimopt.targets.machine.float_reference import calibrate, float_trace
from cimopt.targets.machine.numerics_engine import NumericsConfig
from cimopt.targets.physics import timing
from cimopt.targets.spec import Target


def _model(nodes: list[onnx.NodeProto], inits: dict[str, np.ndarray], x: tuple[int, ...],
           y: tuple[int, ...], opset: int = 17) -> onnx.ModelProto:
    g = helper.make_graph(nodes, "m", [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(x))],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, list(y))],
                          [numpy_helper.from_array(v.astype(np.float32), k) for k, v in inits.items()])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    return m


def _w(r: np.random.Generator, *shape: int) -> np.ndarray:
    return r.normal(0, np.sqrt(2.0 / np.prod(shape[1:])), shape)


def conv_relu_pool(seed: int = 0) -> onnx.ModelProto:
    """Conv + Relu + MaxPool 3x3 stride 2 (overlapping windows) + a 1x1 Conv."""
    r = np.random.default_rng(seed)
    n = helper.make_node
    nodes = [n("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1], name="conv1"),
             n("Relu", ["c1"], ["r1"], name="relu1"),
             n("MaxPool", ["r1"], ["p1"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1], name="pool1"),
             n("Conv", ["p1", "w2"], ["y"], name="conv2")]
    inits = {"w1": _w(r, 8, 3, 3, 3), "b1": r.normal(0, 0.1, 8), "w2": _w(r, 4, 8, 1, 1)}
    return _model(nodes, inits, (1, 3, 16, 16), (1, 4, 8, 8))


def residual(seed: int = 0) -> onnx.ModelProto:
    """Two residual adds: one of a conv branch (Add + Relu), one of the block's own input."""
    r = np.random.default_rng(seed)
    n = helper.make_node
    nodes = [n("Conv", ["x", "wa"], ["a"], pads=[1, 1, 1, 1], name="conv_a"),
             n("Relu", ["a"], ["ra"], name="relu_a"),
             n("Conv", ["ra", "wb"], ["b"], pads=[1, 1, 1, 1], name="conv_b"),
             n("Conv", ["x", "ws"], ["s"], name="conv_skip"),
             n("Add", ["b", "s"], ["sum1"], name="add1"),
             n("Relu", ["sum1"], ["h"], name="relu_h"),
             n("Conv", ["h", "wc"], ["c"], pads=[1, 1, 1, 1], name="conv_c"),
             n("Add", ["c", "h"], ["sum2"], name="add2"),
             n("Conv", ["sum2", "wd"], ["y"], name="conv_out")]
    inits = {"wa": _w(r, 8, 4, 3, 3), "wb": _w(r, 8, 8, 3, 3), "ws": _w(r, 8, 4, 1, 1),
             "wc": _w(r, 8, 8, 3, 3), "wd": _w(r, 2, 8, 1, 1)}
    return _model(nodes, inits, (1, 4, 12, 12), (1, 2, 12, 12))


def _epilogues(model: onnx.ModelProto, target: Target) -> dict[str, tuple[str, ...]]:
    fe = prepare(model, target)
    return {w.name: w.epilogue for w in fe.workload.ops if w.epilogue}


def _vector_types(model: onnx.ModelProto, target: Target) -> list[str]:
    return [w.op_type for w in prepare(model, target).workload.ops if w.op_class is OpClass.VECTOR]


def test_pool_fused_where_the_target_allows_it() -> None:
    m = conv_relu_pool()
    assert _epilogues(m, load_target("isaac")) == {"conv1": ("MaxPool",)}
    assert _epilogues(m, load_target("pimcomp")) == {}
    # the width part runs in the output stage, the height part over chunk boundaries stays a vector op
    fe = prepare(m, load_target("isaac"))
    pool = fe.graph.op("pool1")
    assert pool.op_class is OpClass.VECTOR and pool.attr("kernel_shape") == (3, 1)
    assert fe.graph.op("conv1").epilogue.ops[0].attr("kernel_shape") == (1, 3)
    pim = prepare(m, load_target("pimcomp"))
    assert pim.graph.op("pool1").attr("kernel_shape") == (3, 3)
    isaac_pool = fe.workload.op("pool1").ops
    assert isaac_pool == pytest.approx(pim.workload.op("pool1").ops / 3)


def test_residual_add_fused_on_puma_not_on_isaac() -> None:
    m = residual()
    assert sorted(_epilogues(m, load_target("puma")).values()) == [("Add",), ("Add",)]
    assert "Add" not in _vector_types(m, load_target("puma"))
    assert _vector_types(m, load_target("isaac")).count("Add") == 2
    assert _epilogues(m, load_target("isaac")) == {}


def test_fused_graph_exports_to_the_same_function() -> None:
    for m, preset in ((conv_relu_pool(1), "isaac"), (residual(1), "puma")):
        fe = prepare(m, load_target(preset))
        x = random_inputs(fe.graph, 0)
        mine = ort.InferenceSession(to_onnx(fe.graph).SerializeToString()).run(["y"], x)[0]
        ref = ort.InferenceSession(m.SerializeToString()).run(["y"], x)[0]
        np.testing.assert_allclose(mine, ref, rtol=1e-4, atol=1e-5)


def _runs_and_matches(model: onnx.ModelProto, preset: str, mode: str) -> None:
    t = load_target(preset)
    res = compile_model(model, t, CompileOptions(mode=mode))
    assert any(w.epilogue for w in res.frontend.workload.ops), "nothing was fused"
    g = res.frontend.graph
    x = random_inputs(g, 0)
    out = execute(res.program, g, t, x)
    assert not out.violations, out.violations[:3]
    ok, errs = compare(out.outputs, reference_outputs(model, x, list(g.outputs)))
    assert ok, errs
    assert out.makespan_ns == res.program.makespan_ns


@pytest.mark.parametrize("mode", ["latency", "throughput"])
@pytest.mark.parametrize("make,preset", [(conv_relu_pool, "isaac"), (residual, "puma"), (conv_relu_pool, "puma")])
def test_fused_models_match_onnxruntime(make: Callable[[int], onnx.ModelProto], preset: str, mode: str) -> None:
    _runs_and_matches(make(2), preset, mode)


@pytest.mark.parametrize("mode", ["latency", "throughput"])
def test_light_squeezenet_fused_on_isaac_matches(mode: str) -> None:
    _runs_and_matches(randomise_light_graph(onnx.load(light_graph("light_squeezenet")), 0), "isaac", mode)


def test_int_numerics_apply_the_epilogue_in_vector_precision() -> None:
    """Bit-true run (lossless ADC, float32 vector unit): every layer, epilogue included, tracks the
    float reference; with the bfloat16 vector unit the fused outputs are bfloat16 values."""
    base = load_target("puma")
    assert base.numerics is not None
    for fmt in ("float32", "bfloat16"):
        num = dataclasses.replace(base.numerics, vector_format=fmt)
        t = dataclasses.replace(base, core=dataclasses.replace(base.core, adc_bits=24), numerics=num)
        res = compile_model(residual(3), t, CompileOptions())
        g = res.frontend.graph
        x = random_inputs(g, 0)
        r = execute(res.program, g, t, x, numerics=NumericsConfig("int", calibrate(g, [x], 16)))
        assert not r.violations and r.numerics is not None
        ref = float_trace(g, x)
        for name, layer in r.numerics.layers.items():
            if g.op(name).epilogue is None:
                continue
            y = ref[g.op(name).outputs[0]].astype(np.float64)
            sqnr = 10 * np.log10((y ** 2).sum() / ((layer.output - y) ** 2).sum())
            assert sqnr > (70 if fmt == "float32" else 30), (name, fmt, sqnr)
            if fmt == "bfloat16":
                bits = np.ascontiguousarray(layer.output, dtype=np.float32).view(np.uint32)
                assert not (bits & 0xFFFF).any(), name


def test_output_stage_is_pipelined_in_mvm_cost() -> None:
    t = load_target("isaac")
    fe = prepare(conv_relu_pool(), t)
    w = fe.workload.op("conv1")
    assert w.matrix is not None and w.epilogue_ops > 0
    tiles = tile_matrix(w.name, w.matrix, t.core.crossbar_rows, t.core.crossbar_cols, t.weight_slices)
    plain = timing.mvm_cost(t, tiles, w.matrix, 100, True)
    fused = timing.mvm_cost(t, tiles, w.matrix, 100, True, 0, w.output_stage_per_vector())
    assert fused.energy.vector > plain.energy.vector
    # a pipeline stage: only its fill adds latency while it is faster than the crossbars
    assert plain.latency_ns < fused.latency_ns < plain.latency_ns + 100


def test_e2e_bound_counts_fused_work_as_crossbar_work() -> None:
    m = conv_relu_pool()
    bounds = {}
    for preset in ("isaac", "pimcomp"):
        t = dataclasses.replace(load_target("isaac"), core=dataclasses.replace(
            load_target("isaac").core, output_stage_ops=() if preset == "pimcomp" else ("MaxPool",)))
        fe = prepare(m, t)
        bp = bound_problem(fe.graph, fe.workload, t, CostModel(t), "throughput")
        bounds[preset] = end_to_end_bound(bp)
        res = compile_model(m, t, CompileOptions(mode="throughput"))
        assert bounds[preset].value_ns <= res.program.metric("e2e_objective_ns") + 1e-6
        assert chunked_bound(bp).value_ns <= res.program.metric("e2e_objective_ns") + 1e-6
    assert bounds["isaac"].figure("vector") < bounds["pimcomp"].figure("vector")


def _bad(tmp_path: Path, value: str) -> str:
    text = (PRESET_DIR / "isaac.toml").read_text()
    lines = [f"output_stage_ops = {value}" if ln.startswith("output_stage_ops = ") else ln
             for ln in text.splitlines()]
    path = tmp_path / "bad.toml"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(TargetError) as info:
        load_target(str(path))
    return str(info.value)


def test_output_stage_ops_validation(tmp_path: Path) -> None:
    msg = _bad(tmp_path, '["MaxPool", "Conv"]')
    assert "bad.toml: core.output_stage_ops: 'Conv' is not an op type the output stage can apply" in msg
    assert "MaxPool" in msg and "\n" not in msg
    assert "did you mean 'MaxPool'" in _bad(tmp_path, '["Maxpool"]')
    assert "core.output_stage_ops: expected a list of distinct op types" in _bad(tmp_path, '"MaxPool"')
    assert "core.output_stage_ops: expected a list of distinct op types" in _bad(tmp_path, '["Relu", "Relu"]')
    text = (PRESET_DIR / "isaac.toml").read_text().replace("output_stage_width = 32", "output_stage_width = 0")
    (tmp_path / "w.toml").write_text(text)
    with pytest.raises(TargetError, match="core.output_stage_width: expected a positive integer"):
        load_target(str(tmp_path / "w.toml"))


@pytest.mark.parametrize("name", ["isaac", "puma", "pimcomp", "edge", "sram-dimc"])
def test_every_preset_documents_its_output_stage(name: str) -> None:
    text = (PRESET_DIR / f"{name}.toml").read_text()
    for field in ("output_stage_ops", "output_stage_width", "output_stage_latency_ns", "output_stage_energy_pj_per_op"):
        line = next(ln for ln in text.splitlines() if ln.startswith(f"{field} = "))
        assert "# ref:" in line or "# assumed:" in line or "ISAAC" in line or "PUMA" in line, line
