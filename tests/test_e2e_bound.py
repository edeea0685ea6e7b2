"""The end-to-end bound (`solver.e2e_bound`): per-class figures on hand-made problems, and never
above the objective of programs compiled with every method combination on small models."""
from __future__ import annotations

import itertools

import pytest

import models
from cimopt.compiler import compile_model
from cimopt.options import CompileOptions
from cimopt.solver.e2e_bound import (BoundOp, BoundProblem, crossbar_work_ns, end_to_end_bound,
                                     program_crossbar_ns)
from cimopt.targets.load import load_target


def _problem(mode: str, crossbars: int = 8) -> BoundProblem:
    ops = (BoundOp("a", "crossbar", 1000.0, 100.0, 1, 2, 10, 100.0, 0.0, 64, (5.0, 5.0)),
           BoundOp("v", "vector", 400.0, 40.0, 4),
           BoundOp("h", "host", 300.0, 300.0),
           BoundOp("b", "crossbar", 500.0, 50.0, 1, 2, 10, 50.0, 0.0, 64, (7.0, 7.0)))
    return BoundProblem(ops, ((0, 1, 10), (1, 2, 10), (2, 3, 10)), mode, crossbars, 2, 1.0, 1.0)


def test_classes_throughput() -> None:
    b = end_to_end_bound(_problem("throughput"))
    c = dict(b.classes)
    assert c["host"] == 300.0
    assert c["vector"] == 200.0                 # 400 ns over 2 vector units
    assert c["crossbar-row"] == 100.0
    # whole copies over 8 crossbars: 2 r_a + 2 r_b <= 8 with r = ceil(work / T): (3, 1) or (2, 2),
    # T = 500 ns (water filling, r = work / T, would give 375 ns)
    assert c["crossbar"] == pytest.approx(500.0, rel=1e-6)
    assert b.limited_by == "crossbar" and b.value_ns == c["crossbar"]


def test_classes_latency_and_segmented() -> None:
    b = end_to_end_bound(_problem("latency"))
    assert dict(b.classes)["critical-path"] == pytest.approx(100 + 40 + 300 + 50)
    s = dict(end_to_end_bound(_problem("throughput", crossbars=2)).classes)   # 4 crossbars needed, 2 on chip
    assert s["crossbar"] == pytest.approx((2 * 1000 + 2 * 500) / 2)
    assert s["reprogram"] == pytest.approx((5 + 5) / 2)                      # 2 cheapest writes over 2 crossbars
    assert s["dram-uncharged"] == pytest.approx(128.0)   # reported, not in the bound


def test_program_crossbar_time() -> None:
    assert program_crossbar_ns([(100, 4), (50, 2)], 10) == 50.0
    assert program_crossbar_ns([(100, 4)], 10, inferences=2) == 20.0


@pytest.mark.parametrize("crossbars", [2, 4, 8, 64])
@pytest.mark.parametrize("mode", ["latency", "throughput"])
def test_physical_limit_counts_one_fill_per_op_and_the_bound_is_at_least_it(crossbars: int, mode: str) -> None:
    # a: 2 crossbars, 10 vectors of 100 ns, 30 ns fill; b: 2 crossbars, 10 vectors of 50 ns, 20 ns fill
    ops = (BoundOp("a", "crossbar", 1030.0, 130.0, 1, 2, 10, 100.0, 30.0, 64, (5.0, 5.0)),
           BoundOp("b", "crossbar", 520.0, 70.0, 1, 2, 10, 50.0, 20.0, 64, (7.0, 7.0)))
    p = BoundProblem(ops, ((0, 1, 10),), mode, crossbars, 2, 1.0, 1.0)
    assert crossbar_work_ns(p) == pytest.approx((2 * (1000 + 30) + 2 * (500 + 20)) / crossbars)
    b = end_to_end_bound(p)
    assert b.value_ns >= b.figure("crossbar") >= crossbar_work_ns(p)


COMBOS = list(itertools.product(("none", "uniform", "balance"), ("inorder", "snake", "greedy"), ("heuristic",)))
COMBOS.append(("cpsat", "greedy", "exact"))


@pytest.mark.parametrize("preset", ["isaac", "pimcomp", "edge"])
@pytest.mark.parametrize("mode", ["latency", "throughput"])
def test_bound_below_every_program(preset: str, mode: str) -> None:
    t = load_target(preset)
    m = models.small_cnn(seed=4)
    for rep, place, solver in COMBOS:
        opts = CompileOptions(mode=mode, methods=(("replication", rep), ("placement", f"{place}+ls")),
                              solver=solver, time_limit_s=1.0, workers=1, deterministic=True)
        p = compile_model(m, t, opts).program
        bound = p.metric("e2e_bound_ns")
        objective = p.metric("e2e_objective_ns")
        per_inf = p.initiation_interval_ns if p.mode == "throughput" else p.makespan_ns
        assert objective == pytest.approx(per_inf)
        assert 0 < bound <= objective, (rep, place, solver, dict(p.extra), bound, objective)
        assert p.metric("physical_limit_ns") <= bound * (1 + 1e-9)   # the bound tightens the limit
        assert p.metric("physical_limit_ns") <= p.metric("program_crossbar_ns") * (1 + 1e-9) + 1e-6


@pytest.mark.parametrize("preset", ["isaac", "puma"])
@pytest.mark.parametrize("mode", ["latency", "throughput"])
def test_bound_below_encoder_programs(preset: str, mode: str) -> None:
    p = compile_model(models.tiny_encoder(seed=5), load_target(preset), CompileOptions(mode=mode),
                      {"ids": (2, 6)}).program
    assert 0 < p.metric("e2e_bound_ns") <= p.metric("e2e_objective_ns"), dict(p.extra)


@pytest.mark.slow
def test_resnet50_pimcomp_throughput_bound_is_at_least_the_physical_limit(light_dir: str) -> None:
    """Issue 20: the bound was 816.0 us, the physical limit 820.5 us.  The limit counted the
    program's own row chunks' pipeline fills; it is now the model's crossbar work (one fill per
    op), which the bound's crossbar class includes, and the program's figure is reported apart."""
    import os

    p = compile_model(os.path.join(light_dir, "light_resnet50.onnx"), load_target("pimcomp"),
                      CompileOptions(mode="throughput")).program
    assert p.metric("physical_limit_ns") <= p.metric("e2e_bound_ns") * (1 + 1e-9)
    assert p.metric("physical_limit_ns") <= p.metric("program_crossbar_ns")
    assert p.metric("e2e_bound_ns") <= p.metric("e2e_objective_ns")
