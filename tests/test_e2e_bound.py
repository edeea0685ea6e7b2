"""The end-to-end bounds (`solver.e2e_bound`): per-class figures on hand-made problems, and the
granularity-free bound and the bound at the granularity used never above the objective of
programs compiled with every method combination (small models; light graphs in the slow set)."""
from __future__ import annotations

import itertools

import pytest

import models
from cimopt.compiler import compile_model
from cimopt.options import CompileOptions
from cimopt.solver.e2e_bound import (BoundOp, BoundProblem, chunked_bound, crossbar_work_ns, end_to_end_bound,
                                     program_crossbar_ns, shared_fill_copies_ns)
from cimopt.targets.load import load_target


def _problem(mode: str, crossbars: int = 8) -> BoundProblem:
    ops = (BoundOp("a", "crossbar", 1000.0, 100.0, 1, 2, 10, 100.0, 0.0, 64, (5.0, 5.0), vector_ns=100.0),
           BoundOp("v", "vector", 400.0, 40.0, 4, vector_ns=1.0, elements=100),
           BoundOp("h", "host", 300.0, 300.0, vector_ns=3.0),
           BoundOp("b", "crossbar", 500.0, 50.0, 1, 2, 10, 50.0, 0.0, 64, (7.0, 7.0), vector_ns=50.0))
    edges = ((0, 1, 10), (1, 2, 10), (2, 3, 10))
    return BoundProblem(ops, edges, mode, crossbars, 2, 1.0, 1.0, 1, frozenset((u, v) for u, v, _ in edges))


def test_classes_throughput() -> None:
    b = end_to_end_bound(_problem("throughput"))
    c = dict(b.classes)
    assert c["host"] == 300.0
    assert c["vector"] == 200.0                 # 400 ns over 2 vector units
    assert "crossbar-row" not in c              # granularity-free: no row class
    assert dict(chunked_bound(_problem("throughput")).classes)["crossbar-row"] == 100.0
    # whole copies over 8 crossbars: 2 r_a + 2 r_b <= 8 with r = ceil(work / T): (3, 1) or (2, 2),
    # T = 500 ns (water filling, r = work / T, would give 375 ns)
    assert c["crossbar"] == pytest.approx(500.0, rel=1e-6)
    assert b.limited_by == "crossbar" and b.value_ns == c["crossbar"]
    assert dict(chunked_bound(_problem("throughput")).classes)["crossbar"] == pytest.approx(500.0, rel=1e-6)


def test_copies_may_take_turns_over_intervals() -> None:
    """One vector of 10 ns after a 90 ns fill, 4 crossbars: 4 copies taking turns start an
    inference every 25 ns; the compiler's fixed chunks per copy need one vector's 100 ns."""
    p = BoundProblem((BoundOp("fc", "crossbar", 100.0, 100.0, 1, 1, 1, 10.0, 90.0, vector_ns=100.0),), (),
                     "throughput", 4, 1, 1.0, 1.0)
    assert shared_fill_copies_ns(p) == pytest.approx(25.0, rel=1e-6)
    assert end_to_end_bound(p).value_ns == pytest.approx(25.0, rel=1e-6)
    assert chunked_bound(p).figure("crossbar") == pytest.approx(100.0, rel=1e-6)


def test_classes_latency_and_segmented() -> None:
    # at the compiler's granularity: one row chunk of each op, one after another
    assert dict(chunked_bound(_problem("latency")).classes)["critical-path"] == pytest.approx(100 + 40 + 300 + 50)
    b = end_to_end_bound(_problem("latency"))
    c = dict(b.classes)
    # one vector per op: heads a 0, v 100, h 101, b 104; a's 10 vectors on its 3 copies (2 + 2 x 3 <= 8)
    # end at 400, v (over 2 units) at 401, h (whole) at 404, b's last vector 50 ns later
    assert c["critical-path"] == pytest.approx(454.0)
    # together under the budget (r_a + r_b <= 4): a's tail 54, b's head 104: r = (2, 2), T = 54 + 5 x 100
    assert c["critical-path-copies"] == pytest.approx(554.0, rel=1e-6)
    assert b.limited_by == "critical-path-copies"
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
        _check_bounds(p, (rep, place, solver))


def _check_bounds(p, what: object) -> None:
    """Both bounds at most the program's objective, each limit at most the granularity-free bound."""
    free, rows = p.metric("e2e_bound_ns"), p.metric("e2e_chunked_bound_ns")
    objective = p.metric("e2e_objective_ns")
    per_inf = p.initiation_interval_ns / p.metric("batch") if p.mode == "throughput" else p.makespan_ns
    assert objective == pytest.approx(per_inf)
    assert 0 < free <= objective * (1 + 1e-9), (what, dict(p.extra), free, objective)
    assert 0 < rows <= objective * (1 + 1e-9), (what, dict(p.extra), rows, objective)
    assert p.metric("physical_limit_ns") <= free * (1 + 1e-9)   # the bound tightens the limit
    if p.mode == "latency":
        assert p.metric("physical_limit_ns") <= p.metric("latency_limit_ns") <= free * (1 + 1e-9)
    assert p.metric("physical_limit_ns") <= p.metric("program_crossbar_ns") * (1 + 1e-9) + 1e-6


@pytest.mark.parametrize("preset", ["isaac", "puma"])
@pytest.mark.parametrize("mode", ["latency", "throughput"])
def test_bound_below_encoder_programs(preset: str, mode: str) -> None:
    p = compile_model(models.tiny_encoder(seed=5), load_target(preset), CompileOptions(mode=mode),
                      {"ids": (2, 6)}).program
    _check_bounds(p, preset)


@pytest.mark.slow
@pytest.mark.parametrize("model", ["light_squeezenet", "light_shufflenet"])
@pytest.mark.parametrize("preset", ["isaac", "pimcomp"])
@pytest.mark.parametrize("mode", ["latency", "throughput"])
def test_free_bound_below_light_graph_programs(light_dir: str, model: str, preset: str, mode: str) -> None:
    """The granularity-free bound under the heuristic's and the exact path's programs."""
    import os

    for solver in ("heuristic", "exact"):
        opts = CompileOptions(mode=mode, solver=solver, time_limit_s=2.0, workers=1, deterministic=True)
        _check_bounds(compile_model(os.path.join(light_dir, model + ".onnx"), load_target(preset), opts).program,
                      (model, preset, mode, solver))


@pytest.mark.slow
def test_resnet50_pimcomp_throughput_bound_is_at_least_the_physical_limit(light_dir: str) -> None:
    """Issue 20: the bound was 816.0 us, the physical limit 820.5 us.  The limit counted the
    program's own row chunks' pipeline fills; it is now the model's crossbar work (one fill per
    op), which the bound's crossbar class includes, and the program's figure is reported apart."""
    import os

    p = compile_model(os.path.join(light_dir, "light_resnet50.onnx"), load_target("pimcomp"),
                      CompileOptions(mode="throughput")).program
    assert p.metric("physical_limit_ns") <= p.metric("e2e_chunked_bound_ns") * (1 + 1e-9)
    _check_bounds(p, "resnet50")
