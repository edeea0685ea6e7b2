"""The compile pipeline: valid schedules and memory plans, segmentation, modes, determinism."""
from __future__ import annotations

import pytest

import models
from cimopt.compiler import compile_model
from cimopt.ir.errors import CapacityError
from cimopt.ir.program_expand import expand
from cimopt.options import CompileOptions
from cimopt.solver.stats import Status
from cimopt.targets.load import load_target


def _check_program(p) -> None:  # noqa: ANN001 - Program
    p = expand(p)   # every repetition of a compact instruction
    ends = {i.id: i.end_ns for i in p.instructions}
    for i in p.instructions:
        assert i.end_ns >= i.start_ns
        for d in i.deps:
            assert ends[d] <= i.start_ns, f"instruction {i.id} starts before its dependency {d} ends"
    by_res: dict[str, list] = {}
    for i in p.instructions:
        if i.resource and i.end_ns > i.start_ns:
            by_res.setdefault(i.resource, []).append((i.start_ns, i.end_ns))
    for r, iv in by_res.items():
        iv.sort()
        for (a0, a1), (b0, b1) in zip(iv, iv[1:]):
            assert a1 <= b0, f"resource {r} used twice at once"
    assert p.makespan_ns == max(i.end_ns for i in p.instructions)


@pytest.mark.parametrize("preset", ["isaac", "pimcomp", "edge", "sram-dimc", "puma"])
def test_latency_mode_valid(preset: str) -> None:
    res = compile_model(models.small_cnn(), load_target(preset), CompileOptions(mode="latency"))
    _check_program(res.program)
    s = res.stats
    for k in ("tiling", "replication", "placement", "scheduling", "memory"):
        assert s[k].bound <= s[k].objective + 1e-6 * max(1.0, s[k].objective)
    assert s["memory"].objective >= s["memory"].bound


def test_throughput_mode_interval() -> None:
    res = compile_model(models.small_cnn(), load_target("pimcomp"), CompileOptions(mode="throughput"))
    p = res.program
    assert 0 < p.initiation_interval_ns <= p.makespan_ns
    assert res.stats["scheduling"].status is Status.OPTIMAL      # II at the max-load bound
    # every resource's work fits in one interval
    load: dict[str, int] = {}
    for i in p.instructions:
        if i.resource:
            load[i.resource] = load.get(i.resource, 0) + i.end_ns - i.start_ns
    assert max(load.values()) <= p.initiation_interval_ns


def test_replication_methods_ordered() -> None:
    t = load_target("pimcomp")
    got = {}
    for method in ("none", "uniform", "balance"):
        res = compile_model(models.small_cnn(hw=32), t, CompileOptions(methods=(("replication", method),), mode="throughput"))
        got[method] = res.stats["replication"].objective
    assert got["balance"] <= got["uniform"] <= got["none"]


def test_segmentation_when_the_model_does_not_fit() -> None:
    edge = load_target("edge")
    from cimopt.targets.spec import Target
    from dataclasses import replace

    tiny = replace(edge, name="tiny", chip=replace(edge.chip, mesh_rows=1, mesh_cols=1),
                   core=replace(edge.core, crossbars=3))
    assert isinstance(tiny, Target)
    res = compile_model(models.small_cnn(), tiny, CompileOptions())
    p = res.program
    assert p.segments > 1
    assert any(i.kind == "write" for i in p.instructions)
    assert any(i.kind == "barrier" for i in p.instructions)
    _check_program(p)


def _tiny_chip():  # noqa: ANN202
    from dataclasses import replace

    edge = load_target("edge")
    return replace(edge, chip=replace(edge.chip, mesh_rows=1, mesh_cols=1),
                   core=replace(edge.core, crossbars=2, crossbar_rows=32, dacs_per_crossbar=32))


def test_depthwise_larger_than_chip_is_split_into_segments() -> None:
    res = compile_model(models.small_cnn(), _tiny_chip(), CompileOptions())
    assert res.program.segments > 1
    assert any(op.name.startswith("depthwise/") for op in res.frontend.graph.ops())


def test_op_larger_than_chip_that_cannot_be_split_is_a_capacity_error() -> None:
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    w = numpy_helper.from_array(np.ones((200, 40), np.float32), "w")
    g = helper.make_graph([helper.make_node("Gemm", ["x", "w"], ["y"], transA=1, name="fc")], "g",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [200, 2])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 40])], [w])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    with pytest.raises(CapacityError, match=r"op fc \(Gemm\) needs \d+ crossbars"):
        compile_model(m, _tiny_chip(), CompileOptions())


def test_deterministic_for_a_seed() -> None:
    t = load_target("isaac")
    a = compile_model(models.small_cnn(), t, CompileOptions(seed=3)).program
    b = compile_model(models.small_cnn(), t, CompileOptions(seed=3)).program
    assert a.instructions == b.instructions and a.buffers == b.buffers


def test_encoder_compiles_with_host_ops() -> None:
    res = compile_model(models.tiny_encoder(), load_target("isaac"), CompileOptions(), {"ids": (1, 6)})
    kinds = {i.kind for i in res.program.instructions}
    assert {"mvm", "vector", "host"} <= kinds
    _check_program(res.program)
