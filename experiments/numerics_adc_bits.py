"""SQNR and latency vs ADC resolution (4..12 bits), bit-true, and the accuracy/latency Pareto
front of mapping under an SQNR budget, for ResNet-50 and a Transformer encoder on isaac.

Usage (the plot needs matplotlib, a dependency):
    python experiments/numerics_adc_bits.py --model light_resnet50 --out R.json [--target isaac]
        [--bits 4 12] [--vector-format F] [--pareto-adc-bits 6] [--budgets 10 20 ...]
    python experiments/numerics_adc_bits.py --model encoder --out E.json ...
    python experiments/numerics_adc_bits.py --plot-from R.json E.json --plot docs/numerics_adc_bits.png
(``--skip-sweep`` runs only the front, ``--budgets`` with no value only the sweep, so the two can
run side by side; ``--plot-from`` merges the files of one model.)

``--model``: a light graph of the onnx package (seeded random weights, `cimopt.ir.random_weights.randomise_light_graph`)
or ``encoder`` (`built_models.encoder`: BERT-base-sized, hidden 768, 12 heads, FFN 3072,
sequence ``--seq``, ``--layers`` layers; where the compile writes the attention's activation x
activation MatMuls into crossbars (`cost.matmul_units`) they see the ADC too, else they run on the
host or vector units).

ADC sweep: one heuristic compile (latency mode); per ADC resolution the program runs in
``--numerics int`` (all rows the DACs drive per conversion, as compiled) and the output SQNR vs
the float reference is printed.  Beside it, the rows per conversion each layer needs for its
conversions to lose nothing at that resolution (`cost.adc_error`) and the latency of that mapping
(sum over layers of one copy's MVM time, the cost model's proxy): fewer ADC bits buy the same
accuracy with more reads.  ``--vector-format float32`` (default) keeps the vector unit exact so
the curve shows the ADC alone; pass ``target`` to use the preset's own format.

Pareto front: at ``--pareto-adc-bits`` (the target with that ADC resolution), per budget the
model is compiled as ``cimopt compile --min-sqnr-db B`` does, the program is run bit-true on an
input the calibration never saw, and its makespan (the program's latency) is printed against
the SQNR the error model predicted and the SQNR measured.  A budget the compile refuses
(`BudgetUnreachable`) is printed as refused with the best achievable SQNR.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import math
import time

import onnx
from built_models import encoder

from cimopt.calibration import layer_signals
from cimopt.compiler import compile_model
from cimopt.cost.adc_error import AdcOption, options
from cimopt.demo import light_graph
from cimopt.inputs import random_inputs
from cimopt.ir.graph import OpClass
from cimopt.ir.random_weights import randomise_light_graph
from cimopt.options import CompileOptions
from cimopt.report.accuracy import bit_true_sqnr_db, errors
from cimopt.solver.accuracy.knapsack import BudgetUnreachable
from cimopt.targets.load import load_target
from cimopt.targets.machine.executor import execute
from cimopt.targets.machine.float_reference import calibrate, float_trace
from cimopt.targets.machine.numerics_engine import NumericsConfig
from cimopt.targets.spec import Target


def lossless_option(opts: list[AdcOption]) -> AdcOption:
    """The first (fewest reads) option whose conversions lose nothing, else the most accurate one."""
    return next((o for o in opts if o.error == 0), opts[-1])


def load_model(name: str, layers: int, seq: int) -> onnx.ModelProto:
    return encoder(layers=layers, seq=seq) if name == "encoder" else randomise_light_graph(onnx.load(light_graph(name)), 0)


def with_adc(t: Target, bits: int) -> Target:
    return dataclasses.replace(t, core=dataclasses.replace(t.core, adc_bits=bits))


def adc_sweep(model: onnx.ModelProto, base: Target, bits: range) -> list[dict[str, float]]:
    """Per ADC resolution: output SQNR (all rows per conversion), lossless rows and their latency."""
    res = compile_model(model, base, CompileOptions())
    g, wl = res.frontend.graph, res.frontend.workload
    x, cal_in = random_inputs(g, 0), random_inputs(g, 1)
    cal = calibrate(g, [cal_in], base.precision.activation_bits)
    ref = float_trace(g, x)
    sig = layer_signals(g, base, cal, cal_in)
    xops = [op for op in wl.ops if op.op_class is OpClass.CROSSBAR]
    out = g.outputs[0]
    print(f"makespan {res.program.makespan_ns / 1e3:.1f} us at every resolution; {len(xops)} crossbar layers")
    print(f"{'ADC bits':>8} {'SQNR dB':>8} {'cosine':>9} {'saturated':>10} {'run s':>6} "
          f"{'lossless rows (min..max)':>25} {'latency at those rows us':>25}")
    rows = []
    for b in bits:
        t = with_adc(base, b)
        t0 = time.perf_counter()
        r = execute(res.program, g, t, x, numerics=NumericsConfig("int", cal))
        run_s = time.perf_counter() - t0
        e = errors(r.outputs[out], ref[out])
        sat = sum(v.saturations for v in r.numerics.layers.values()) if r.numerics else 0
        choice = [lossless_option(options(t, op, sig[op.name])) for op in xops]
        lat = sum(o.latency_ns for o in choice) / 1e3
        rs = [o.rows_per_conversion for o in choice]
        print(f"{b:>8} {e['sqnr_db']:>8.2f} {e['cosine']:>9.6f} {sat:>10} {run_s:>6.1f} "
              f"{f'{min(rs)}..{max(rs)}':>25} {lat:>25.1f}", flush=True)
        rows.append({"adc_bits": b, "sqnr_db": e["sqnr_db"], "saturations": sat, "run_s": run_s,
                     "lossless_rows_min": min(rs), "lossless_rows_max": max(rs), "lossless_latency_us": lat})
    mono = all(q["sqnr_db"] >= p["sqnr_db"] for p, q in zip(rows, rows[1:]))
    print(f"SQNR non-decreasing in ADC bits: {'yes' if mono else 'NO'}")
    return rows


def pareto(model: onnx.ModelProto, t: Target, budgets: list[float]) -> list[dict[str, float | str]]:
    """Per budget: compile under it, run bit-true; makespan vs predicted and measured SQNR."""
    print(f"mapping under a budget at {t.core.adc_bits}-bit ADCs (compile --min-sqnr-db B, heuristic, latency):")
    print(f"{'budget dB':>10} {'outcome':>9} {'predicted dB':>13} {'measured dB':>12} {'makespan us':>12} "
          f"{'rows/conversion (min..max)':>27}")
    rows: list[dict[str, float | str]] = []
    measured: dict[tuple[tuple[str, int], ...], float] = {}   # one bit-true run per distinct choice
    for b in budgets:
        try:
            res = compile_model(model, t, CompileOptions(min_sqnr_db=b))
        except BudgetUnreachable as e:
            print(f"{b:>10.1f} {'refused':>9} {e.best_db:>13.1f}", flush=True)
            rows.append({"budget_db": b, "outcome": "refused", "predicted_db": e.best_db})
            continue
        g = res.frontend.graph
        key = tuple(sorted((i.op, i.rows_per_conversion) for i in res.program.instructions if i.kind == "mvm"))
        if key not in measured:
            measured[key] = bit_true_sqnr_db(res.program, g, t)
        meas = measured[key]
        rpc = [i.rows_per_conversion for i in res.program.instructions if i.kind == "mvm" and i.rows_per_conversion]
        pred = res.predicted_sqnr_db if res.predicted_sqnr_db is not None else math.nan
        span = f"{min(rpc)}..{max(rpc)}" if rpc else "-"
        print(f"{b:>10.1f} {'compiled':>9} {pred:>13.1f} {meas:>12.1f} {res.program.makespan_ns / 1e3:>12.1f} "
              f"{span:>27}", flush=True)
        rows.append({"budget_db": b, "outcome": "compiled", "predicted_db": pred, "measured_db": meas,
                     "makespan_us": res.program.makespan_ns / 1e3, "rows": span})
    return rows


def finite(v: float) -> float:
    return v if math.isfinite(v) else float("nan")


def plot(paths: list[str], out: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    merged: dict[str, dict] = {}   # results of one model from several files (sweep and front run apart)
    for p in paths:
        with open(p) as f:
            r = json.load(f)
        m = merged.setdefault(r["label"], {**r, "sweep": [], "pareto": []})
        m["sweep"] += r["sweep"]
        m["pareto"] += r["pareto"]
    runs = list(merged.values())
    fig, (ax, bx, cx) = plt.subplots(1, 3, figsize=(14, 4))
    for r, colour in zip(runs, ("tab:blue", "tab:orange", "tab:green")):
        bits = [d["adc_bits"] for d in r["sweep"]]
        ax.plot(bits, [d["sqnr_db"] for d in r["sweep"]], "o-", color=colour, label=r["label"])
        bx.semilogy(bits, [d["lossless_latency_us"] / 1e3 for d in r["sweep"]], "s--", color=colour, label=r["label"])
        done = sorted((d for d in r["pareto"] if d["outcome"] == "compiled"), key=lambda d: d["makespan_us"])
        top = max((d["makespan_us"] for d in done), default=1.0)
        cx.plot([finite(d["measured_db"]) for d in done], [d["makespan_us"] / top for d in done], "o-", color=colour,
                label=f"{r['label']}: measured")
        cx.plot([min(finite(d["predicted_db"]), 80.0) for d in done], [d["makespan_us"] / top for d in done], "x",
                color=colour, label=f"{r['label']}: predicted")
    ax.set(xlabel="ADC bits", ylabel="output SQNR, dB (all rows per conversion)", title="SQNR vs ADC bits")
    bx.set(xlabel="ADC bits", ylabel="ms (sum of layers' one-copy MVM time)",
           title="latency with lossless rows per conversion")
    cx.set(xlabel="output SQNR, dB", ylabel="program makespan / the most accurate choice's",
           title=f"compile --min-sqnr-db, {runs[0]['pareto_adc_bits']}-bit ADC")
    for a in (ax, bx, cx):
        a.grid(alpha=0.3)
        a.legend(fontsize=7)
    fig.suptitle(f"--numerics int on {runs[0]['target']}")
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    print(f"plot written to {out}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--target", default="isaac")
    ap.add_argument("--model", default="light_resnet50", help="a light graph name, or encoder")
    ap.add_argument("--layers", type=int, default=2, help="encoder layers")
    ap.add_argument("--seq", type=int, default=128, help="encoder sequence length")
    ap.add_argument("--bits", type=int, nargs=2, default=(4, 12))
    ap.add_argument("--vector-format", default="float32", help="float32 | float16 | bfloat16 | target")
    ap.add_argument("--pareto-adc-bits", type=int, default=6)
    ap.add_argument("--budgets", type=float, nargs="*", default=[-10.0, -5.0, 0.0, 5.0, 10.0, 20.0])
    ap.add_argument("--skip-sweep", action="store_true", help="only the Pareto front (budgets)")
    ap.add_argument("--out", help="write the figures as JSON here")
    ap.add_argument("--plot-from", nargs="+", metavar="JSON", help="only draw the plot from these results")
    ap.add_argument("--plot", default="docs/numerics_adc_bits.png")
    a = ap.parse_args()
    if a.plot_from:
        plot(a.plot_from, a.plot)
        return
    base = load_target(a.target)
    if base.numerics is None:
        raise SystemExit(f"{a.target} has no [numerics] section")
    if a.vector_format != "target":
        base = dataclasses.replace(base, numerics=dataclasses.replace(base.numerics, vector_format=a.vector_format))
    model = load_model(a.model, a.layers, a.seq)
    label = f"encoder {a.layers}x768 seq {a.seq}" if a.model == "encoder" else a.model.removeprefix("light_")
    print(f"{label} on {a.target} ({base.precision.weight_bits}-bit weights, {base.precision.activation_bits}-bit "
          f"activations, {base.core.cell_bits}-bit cells, {base.core.dac_bits}-bit DACs, vector format "
          f"{base.numerics.vector_format})")
    sweep = [] if a.skip_sweep else adc_sweep(model, base, range(a.bits[0], a.bits[1] + 1))
    front = pareto(model, with_adc(base, a.pareto_adc_bits), a.budgets) if a.budgets else []
    if a.out:
        with open(a.out, "w") as f:
            json.dump({"label": label, "target": a.target, "pareto_adc_bits": a.pareto_adc_bits, "sweep": sweep,
                       "pareto": front}, f, indent=1)
        print(f"figures written to {a.out}")


if __name__ == "__main__":
    main()
