"""SQNR and latency vs ADC resolution (4..12 bits), bit-true, for ResNet-50 (light graph, random weights).

Usage (needs the ``plot`` extra, matplotlib):
    python experiments/numerics_adc_bits.py [--target isaac] [--bits 4 12] [--vector-format F]
        [--plot docs/numerics_adc_bits.png] [--budgets 10 20 ...]

One heuristic compile (latency mode); then, per ADC resolution, the program runs in
``--numerics int`` (all rows the DACs drive per conversion, as compiled) and the output SQNR vs
the float reference is printed with the program's makespan (the ADC's resolution does not change
its timing in the target model).  Beside it, the rows per conversion each layer needs for its
conversions to lose nothing at that resolution (`cost.adc_error`) and the latency of that mapping
(sum over layers of one copy's MVM time, the cost model's proxy): fewer ADC bits buy the same
accuracy with more reads.  ``--vector-format float32`` (default) keeps the vector unit exact so
the curve shows the ADC alone; pass ``target`` to use the preset's own format.  Last, at the
target's own ADC resolution, the rows-per-conversion choice under SQNR budgets (greedy, DP and
the LP bound of `solver.accuracy_budget`): the accuracy/latency Pareto front of the mapping.
"""
from __future__ import annotations

import argparse
import dataclasses
import time

import onnx

from cimopt.accuracy import errors, layer_signals
from cimopt.compiler import compile_model
from cimopt.cost.adc_error import AdcOption, options
from cimopt.demo import light_graph, randomised
from cimopt.inputs import random_inputs
from cimopt.ir.graph import OpClass
from cimopt.options import CompileOptions
from cimopt.solver import accuracy_budget
from cimopt.targets.load import load_target
from cimopt.targets.machine import execute
from cimopt.targets.numerics_calib import calibrate, float_trace
from cimopt.targets.numerics_engine import NumericsConfig


def lossless_option(opts: list[AdcOption]) -> AdcOption:
    """The first (fewest reads) option whose conversions lose nothing, else the most accurate one."""
    return next((o for o in opts if o.error == 0), opts[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--target", default="isaac")
    ap.add_argument("--model", default="light_resnet50")
    ap.add_argument("--bits", type=int, nargs=2, default=(4, 12))
    ap.add_argument("--vector-format", default="float32", help="float32 | float16 | bfloat16 | target")
    ap.add_argument("--plot", default="docs/numerics_adc_bits.png")
    ap.add_argument("--budgets", type=float, nargs="*", default=[10.0, 20.0, 30.0, 40.0, 50.0, 60.0],
                    help="min SQNR dB budgets for the rows-per-conversion table")
    a = ap.parse_args()
    base = load_target(a.target)
    if base.numerics is None:
        raise SystemExit(f"{a.target} has no [numerics] section")
    if a.vector_format != "target":
        base = dataclasses.replace(base, numerics=dataclasses.replace(base.numerics, vector_format=a.vector_format))
    model = randomised(onnx.load(light_graph(a.model)), 0)
    res = compile_model(model, base, CompileOptions())
    g, wl = res.frontend.graph, res.frontend.workload
    x = random_inputs(g, 0)
    cal_in = random_inputs(g, 1)
    cal = calibrate(g, [cal_in], base.precision.activation_bits)
    ref = float_trace(g, x)
    sig = layer_signals(g, base, cal, cal_in)
    xops = [op for op in wl.ops if op.op_class is OpClass.CROSSBAR]
    out = g.outputs[0]
    print(f"{a.model} on {a.target} ({base.precision.weight_bits}-bit weights, {base.precision.activation_bits}-bit "
          f"activations, {base.core.cell_bits}-bit cells, {base.core.dac_bits}-bit DACs, vector format "
          f"{base.numerics.vector_format}); makespan {res.program.makespan_ns / 1e3:.1f} us at every resolution")
    print(f"{'ADC bits':>8} {'SQNR dB':>8} {'cosine':>9} {'saturated':>10} {'run s':>6} "
          f"{'lossless rows (min..max)':>25} {'latency at those rows us':>25}")
    rows_bits, sqnrs, lats = [], [], []
    for bits in range(a.bits[0], a.bits[1] + 1):
        t = dataclasses.replace(base, core=dataclasses.replace(base.core, adc_bits=bits))
        t0 = time.perf_counter()
        r = execute(res.program, g, t, x, numerics=NumericsConfig("int", cal))
        run_s = time.perf_counter() - t0
        e = errors(r.outputs[out], ref[out])
        sat = sum(x.saturations for x in r.numerics.layers.values()) if r.numerics else 0
        choice = [lossless_option(options(t, op, sig[op.name])) for op in xops]
        lat = sum(o.latency_ns for o in choice) / 1e3
        rs = [o.rows_per_conversion for o in choice]
        print(f"{bits:>8} {e['sqnr_db']:>8.2f} {e['cosine']:>9.6f} {sat:>10} {run_s:>6.1f} "
              f"{f'{min(rs)}..{max(rs)}':>25} {lat:>25.1f}", flush=True)
        rows_bits.append(bits)
        sqnrs.append(e["sqnr_db"])
        lats.append(lat)
    mono = all(b >= a_ for a_, b in zip(sqnrs, sqnrs[1:]))
    print(f"SQNR non-decreasing in ADC bits: {'yes' if mono else 'NO'}")
    print(f"\nrows per conversion under a budget at {base.core.adc_bits}-bit ADCs (error model; latency = sum of "
          f"layers' one-copy MVM time):")
    print(f"{'budget dB':>10} {'predicted dB':>13} {'greedy us':>10} {'dp us':>10} {'LP bound us':>12} "
          f"{'dp status':>10}")
    for budget in a.budgets:
        prob = accuracy_budget.build(wl, base, sig, budget)
        gsol, _ = accuracy_budget.solve(prob, "greedy")
        xsol, xst = accuracy_budget.solve(prob, "dp")
        if xst.status.name == "INFEASIBLE":
            print(f"{budget:>10.1f} {'-':>13} {'-':>10} {'-':>10} {'-':>12} {xst.status.name:>10}")
            continue
        print(f"{budget:>10.1f} {xsol.predicted_sqnr_db:>13.1f} {gsol.objective / 1e3:>10.1f} "
              f"{xsol.objective / 1e3:>10.1f} {xst.bound / 1e3:>12.1f} {xst.status.name:>10}")
    try:
        import matplotlib
    except ImportError:
        raise SystemExit("the plot needs matplotlib: pip install -e '.[plot]'") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6, 3.6))
    ax.plot(rows_bits, sqnrs, "o-", color="tab:blue")
    ax.set_xlabel("ADC bits")
    ax.set_ylabel("output SQNR, dB (all rows per conversion)", color="tab:blue")
    ax2 = ax.twinx()
    ax2.plot(rows_bits, lats, "s--", color="tab:red")
    ax2.set_ylabel("latency with lossless rows, us (sum of layers)", color="tab:red")
    ax.set_title(f"{a.model} on {a.target}, --numerics int")
    fig.tight_layout()
    fig.savefig(a.plot, dpi=120)
    print(f"plot written to {a.plot}")


if __name__ == "__main__":
    main()
