"""Rows per ADC conversion under an accuracy budget: the knapsack methods against brute force, the
error model against the bit-true run, and a chosen mapping meeting its budget when run bit-true."""
from __future__ import annotations

import dataclasses
import itertools
import math

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from cimopt.calibration import layer_signals
from cimopt.compiler import compile_model
from cimopt.cost.adc_error import AdcOption, options
from cimopt.inputs import random_inputs
from cimopt.ir.graph import OpClass
from cimopt.options import CompileOptions
from cimopt.report.accuracy import sqnr_db
from cimopt.solver.accuracy import knapsack as ab
from cimopt.solver.stats import Status
from cimopt.targets.load import load_target
from cimopt.targets.machine.executor import execute
from cimopt.targets.machine.float_reference import calibrate, float_trace
from cimopt.targets.machine.numerics_engine import NumericsConfig
from cimopt.targets.physics import timing
from cimopt.targets.spec import Target
from models import resnet18, small_cnn


def _random_problem(rng: np.random.Generator, layers: int, budget: float) -> ab.AccuracyProblem:
    opts = []
    for _ in range(layers):
        n = int(rng.integers(1, 5))
        cost = np.sort(rng.uniform(1, 100, n))
        err = np.sort(rng.uniform(0, 1, n))[::-1]
        opts.append(tuple(AdcOption(2 ** k, float(c), 0.0, float(e)) for k, (c, e) in enumerate(zip(cost, err))))
    return ab.AccuracyProblem(tuple(f"l{i}" for i in range(layers)), tuple(opts), budget, "latency", resolution=4000)


@pytest.mark.parametrize("seed", range(12))
def test_methods_against_brute_force(seed: int) -> None:
    rng = np.random.default_rng(seed)
    p = _random_problem(rng, int(rng.integers(2, 6)), float(rng.uniform(0.3, 2.0)))
    feasible = [sum(p.options[i][j].latency_ns for i, j in enumerate(pick))
                for pick in itertools.product(*[range(len(o)) for o in p.options])
                if sum(p.options[i][j].error for i, j in enumerate(pick)) <= p.budget]
    g, gs = ab.solve(p, "greedy")
    x, xs = ab.solve(p, "dp")
    if not feasible:
        assert gs.status is Status.INFEASIBLE and xs.status is Status.INFEASIBLE and "budget" in gs.note
        return
    best = min(feasible)
    for sol, st in ((g, gs), (x, xs)):
        assert sol.error <= p.budget * (1 + 1e-12)
        assert st.bound <= best + 1e-9 <= sol.objective + 2e-9
    assert x.objective <= g.objective
    assert x.objective <= best * 1.05 + 1e-9   # the DP's rounding of errors costs at most a little here


def test_infeasible_budget_names_the_shortfall() -> None:
    p = ab.AccuracyProblem(("a",), ((AdcOption(128, 1.0, 1.0, 0.5), AdcOption(64, 2.0, 2.0, 0.1)),), 0.01, "latency")
    _, st = ab.solve(p, "dp")
    assert st.status is Status.INFEASIBLE and "10.0 dB" in st.note and "20.0 dB" in st.note


def test_fewer_rows_cost_more_time_and_lose_less() -> None:
    t = load_target("isaac")
    base = timing.mvm_task(t, [(128, 128)], 10, 1, 128, 16, False)
    same = timing.mvm_task(t, [(128, 128)], 10, 1, 128, 16, False, 128)
    half = timing.mvm_task(t, [(128, 128)], 10, 1, 128, 16, False, 64)
    assert same == base and half.latency_ns > base.latency_ns and half.energy.total > base.energy.total


def _one_conv(cin: int = 32) -> onnx.ModelProto:
    rng = np.random.default_rng(3)
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, cin, 8, 8])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 16, 8, 8])
    w = numpy_helper.from_array(rng.normal(0, 0.1, (16, cin, 3, 3)).astype(np.float32), "w")
    node = helper.make_node("Conv", ["x", "w"], ["y"], pads=[1, 1, 1, 1])
    m = helper.make_model(helper.make_graph([node], "g", [x], [y], [w]), opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 7
    return m


def _target(adc_bits: int) -> Target:
    t = load_target("isaac")
    assert t.numerics is not None
    return dataclasses.replace(t, core=dataclasses.replace(t.core, adc_bits=adc_bits),
                               numerics=dataclasses.replace(t.numerics, vector_format="float32"))


@pytest.mark.parametrize("adc_bits", [5, 7])
def test_error_model_matches_bit_true_run(adc_bits: int) -> None:
    """A conv fed by the graph input (no upstream error): predicted vs measured ADC noise power."""
    t = _target(adc_bits)
    res = compile_model(_one_conv(), t, CompileOptions())
    g, wl = res.frontend.graph, res.frontend.workload
    x = random_inputs(g, 0)
    cal = calibrate(g, [x], 16)
    sig = layer_signals(g, t, cal, x)
    (op,) = [o for o in wl.ops if o.op_class is OpClass.CROSSBAR]
    ref = float_trace(g, x)["y"].astype(np.float64)
    lossless = execute(res.program, g, _target(24), x, numerics=NumericsConfig("int", cal)).outputs["y"]
    for opt in options(t, op, sig[op.name]):
        prog = ab.apply(res.program, ab.Choice({op.name: opt.rows_per_conversion}, 0.0, opt.error))
        got = execute(prog, g, t, x, numerics=NumericsConfig("int", cal)).outputs["y"]
        measured = (np.mean((got - ref) ** 2) - np.mean((lossless - ref) ** 2)) / np.mean(ref ** 2)
        if opt.error == 0:
            np.testing.assert_array_equal(got, lossless)
        else:
            assert 0.5 < measured / opt.error < 2.0, (opt, measured)


def test_budget_met_bit_true() -> None:
    """The DP's choice for a 35 dB budget, run bit-true, reaches 35 dB at the output; the cheapest
    choice (all rows per conversion) does not, so the budget made the choice."""
    t = _target(6)
    res = compile_model(small_cnn(), t, CompileOptions())
    g = res.frontend.graph
    cal_in = random_inputs(g, 1)
    cal = calibrate(g, [cal_in], 16)
    p = ab.build(res.frontend.workload, t, layer_signals(g, t, cal, cal_in), 35.0)
    choice, st = ab.solve(p, "dp")
    assert st.status in (Status.OPTIMAL, Status.FEASIBLE) and choice.predicted_sqnr_db >= 35.0
    x = random_inputs(g, 0)
    ref = float_trace(g, x)["y"]
    chosen = execute(ab.apply(res.program, choice), g, t, x, numerics=NumericsConfig("int", cal)).outputs["y"]
    cheapest = execute(res.program, g, t, x, numerics=NumericsConfig("int", cal)).outputs["y"]
    assert sqnr_db(chosen, ref) >= 35.0
    assert sqnr_db(cheapest, ref) < 35.0
    assert not math.isinf(st.bound) and st.bound <= choice.objective


def test_bad_method_and_budget_are_usage_errors() -> None:
    from cimopt.ir.errors import UsageError

    p = ab.AccuracyProblem(("a",), ((AdcOption(128, 1.0, 1.0, 0.5),),), 1.0, "latency")
    with pytest.raises(UsageError, match="accuracy method 'cpsat'"):
        ab.solve(p, "cpsat")
    res = compile_model(_one_conv(), _target(8), CompileOptions())
    with pytest.raises(UsageError, match="--min-sqnr-db must be a finite number"):
        ab.build(res.frontend.workload, _target(8), {}, math.inf)


@pytest.mark.parametrize("method", ["greedy", "dp"])
def test_compile_min_sqnr_db_is_a_stage_whose_program_meets_the_budget(method: str) -> None:
    """`compile --min-sqnr-db`: the accuracy stage runs first, the schedule is built with its rows
    per conversion (the float run has no duration violation), and the bit-true run meets the budget."""
    t = _target(6)
    m = small_cnn()
    res = compile_model(m, t, CompileOptions(min_sqnr_db=10.0, methods=(("accuracy", method),)))
    st = res.stats["accuracy"]
    assert st.method == method and st.bound <= st.objective
    assert list(res.stats)[0] == "accuracy" and "calibration" in res.stage_s
    p, g = res.program, res.frontend.graph
    assert any(i.rows_per_conversion for i in p.instructions if i.kind == "mvm")
    x = random_inputs(g, 0)
    assert not execute(p, g, t, x).violations
    cal = calibrate(g, [random_inputs(g, 1), random_inputs(g, 2)], t.precision.activation_bits)
    out = execute(p, g, t, x, numerics=NumericsConfig("int", cal)).outputs["y"]
    assert sqnr_db(out, float_trace(g, x)["y"]) >= 10.0
    plain = compile_model(m, t, CompileOptions())
    assert "accuracy" not in plain.stats


@pytest.mark.parametrize("name", ["small_cnn", "resnet18_32"])
def test_preset_budgets_met_bit_true_or_refused(name: str) -> None:
    """On the isaac preset (bfloat16 vector unit, 8-bit ADCs) a --min-sqnr-db program meets its
    budget run bit-true on an input the calibration never saw, or the compile refuses it naming
    the best achievable SQNR; the error model's floor (quantisation, rounding) is part of it."""
    t = load_target("isaac")
    m = small_cnn() if name == "small_cnn" else resnet18(hw=32, classes=10)
    for budget in (10.0, 20.0, 30.0):
        try:
            res = compile_model(m, t, CompileOptions(min_sqnr_db=budget))
        except ab.BudgetUnreachable as e:
            assert e.best_db < budget and "unreachable" in str(e) and f"{e.best_db:.1f} dB" in str(e)
            continue
        assert res.predicted_sqnr_db is not None and res.predicted_sqnr_db >= budget
        g = res.frontend.graph
        cal = calibrate(g, [random_inputs(g, 1), random_inputs(g, 2)], t.precision.activation_bits)
        x = random_inputs(g, 0)
        out = execute(res.program, g, t, x, numerics=NumericsConfig("int", cal)).outputs[g.outputs[0]]
        assert sqnr_db(out, float_trace(g, x)[g.outputs[0]]) >= budget, (name, budget)


def test_unreachable_budget_is_a_typed_error_naming_the_best() -> None:
    """The floor of a bfloat16 vector unit is far below 90 dB: the compile refuses, with the
    best the error model predicts, instead of a program that misses the budget."""
    t = load_target("isaac")
    with pytest.raises(ab.BudgetUnreachable, match=r"--min-sqnr-db 90: the budget is unreachable.*best achievable"):
        compile_model(small_cnn(), t, CompileOptions(min_sqnr_db=90.0))
    g = compile_model(small_cnn(), t, CompileOptions()).frontend.graph
    cal = calibrate(g, [random_inputs(g, 1)], 16)
    sig = layer_signals(g, t, cal, random_inputs(g, 1))
    res = compile_model(small_cnn(), t, CompileOptions())
    p = ab.build(res.frontend.workload, t, sig, 90.0)
    assert 0 < p.floor and -10 * math.log10(p.floor) < 90.0
