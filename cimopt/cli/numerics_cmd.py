"""``cimopt run --numerics int|analog``: the bit-true run, its calibration and its accuracy report.

In these modes ``run`` makes no float-match claim (the arithmetic is quantised on purpose): it
prints the machine's timing line, the accuracy report (per output SQNR, cosine, max error,
top-1/top-5 agreement; ADC saturations; the worst layers) and every violation, and returns 0
when the program ran with no violation, 1 otherwise.  ``--json`` prints what the float mode
prints (errors against onnxruntime, of the first trial), with ``match`` null, plus
``"numerics": {...}`` (`NumericsRun.as_json`).
"""
from __future__ import annotations

import argparse
import json
import math
import time
from typing import Any

import numpy as np
import onnx

from cimopt.calibration import CALIBRATION_SAMPLES, calibration_samples
from cimopt.ir import units
from cimopt.ir.errors import UsageError
from cimopt.ir.graph import Graph



def add_args(r: argparse.ArgumentParser) -> None:
    r.add_argument("--numerics", choices=("float", "int", "analog"), default="float",
                   help="float (default): check the mapping against onnxruntime; int: bit-true quantised "
                        "crossbars, DACs, ADCs and vector unit; analog: int plus device noise and drift")
    r.add_argument("--calibrate", metavar="X.npz",
                   help="activation calibration inputs: one array per model input, of its shape or with a "
                        f"leading sample axis (default: {CALIBRATION_SAMPLES} seeded random inputs)")
    r.add_argument("--drift-s", type=float, default=0.0, help="analog: seconds since programming (default 0)")
    r.add_argument("--trials", type=int, default=1, help="analog: noise draws to average (default 1)")


def run(a: argparse.Namespace, program: Any, target: Any, graph: Graph, model: onnx.ModelProto,
        inputs: dict[str, np.ndarray]) -> int:
    """The ``run`` command in int or analog mode; the exit code.  ``model``: the model onnxruntime
    runs for the errors of ``--json`` (with ``--random-weights`` the randomised copy the program
    was compiled from)."""
    from cimopt.targets.machine.float_reference import calibrate

    from cimopt.report.accuracy import report_lines, run_numerics
    from cimopt.inputs import compare, reference_outputs

    if a.trials < 1:
        raise UsageError("--trials must be at least 1")
    if a.drift_s < 0 or not math.isfinite(a.drift_s):
        raise UsageError("--drift-s must be a finite number of seconds >= 0")
    if a.numerics == "int" and (a.trials != 1 or a.drift_s):
        raise UsageError("--trials and --drift-s apply to --numerics analog only (int is deterministic)")
    cal = calibrate(graph, calibration_samples(a.calibrate, graph, a.seed), target.precision.activation_bits)
    t0 = time.perf_counter()
    nr = run_numerics(program, graph, target, inputs, a.numerics, cal, seed=a.seed, drift_s=a.drift_s,
                      trials=a.trials)
    run_s = time.perf_counter() - t0
    res = nr.machines[0]
    viol = [f"{v.kind}: {v.message}" for v in res.violations]
    if a.json:
        ref = reference_outputs(model, inputs, list(graph.outputs))
        _, errs = compare(res.outputs, ref)
        print(json.dumps({"match": None, "violations": viol,
                          "max_abs_error": max((e[0] for e in errs.values()), default=0.0),
                          "max_rel_error": max((e[1] for e in errs.values()), default=0.0),
                          "makespan_ns": float(res.makespan_ns),
                          "initiation_interval_ns": float(res.initiation_interval_ns),
                          "energy_pj": float(res.energy.total), "program_makespan_ns": float(program.makespan_ns),
                          "outputs": {k: {"max_abs_error": e[0], "max_rel_error": e[1]} for k, e in errs.items()},
                          "run_s": run_s, "numerics": nr.as_json()}))
    else:
        print(f"ran {res.instructions} instructions x {a.trials} trial(s) in {run_s:.1f} s ({a.numerics} numerics); "
              f"machine makespan {units.time(res.makespan_ns, 6)} (program says {units.time(program.makespan_ns, 6)}), "
              f"energy {units.energy(res.energy.total)}")
        for line in report_lines(nr):
            print(line)
        for v in viol[:20]:
            print(f"  violation {v}")
        print(f"numerics {a.numerics}: accuracy vs the float reference above (no float-match check); "
              f"{len(viol)} violation(s)")
    return 0 if not viol else 1
