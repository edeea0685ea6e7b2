"""Speed of the bit-true mode: ``--numerics int`` vs the float run of the same program.

Usage: python experiments/numerics_speed.py [--model light_resnet50] [--target isaac]

One heuristic compile (latency mode), then the reference machine on the same seeded input:
float (the mapping check), then int (the preset's 8-bit ADCs, all rows the DACs drive per
conversion) with its calibration timed apart.  Prints the seconds of each and int / float.
"""
from __future__ import annotations

import argparse
import time

import onnx

from cimopt.calibration import calibration_samples
from cimopt.compiler import compile_model
from cimopt.demo import light_graph
from cimopt.inputs import random_inputs
from cimopt.ir.random_weights import randomise_light_graph
from cimopt.options import CompileOptions
from cimopt.targets.load import load_target
from cimopt.targets.machine.executor import execute
from cimopt.targets.machine.float_reference import calibrate
from cimopt.targets.machine.numerics_engine import NumericsConfig


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="light_resnet50")
    ap.add_argument("--target", default="isaac")
    a = ap.parse_args()
    t = load_target(a.target)
    res = compile_model(randomise_light_graph(onnx.load(light_graph(a.model)), 0), t, CompileOptions())
    g = res.frontend.graph
    x = random_inputs(g, 0)
    t0 = time.perf_counter()
    execute(res.program, g, t, x)
    float_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    cal = calibrate(g, calibration_samples(None, g, 0), t.precision.activation_bits)
    cal_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    execute(res.program, g, t, x, numerics=NumericsConfig("int", cal))
    int_s = time.perf_counter() - t0
    print(f"{a.model} on {a.target}: float {float_s:.1f} s, int {int_s:.1f} s ({int_s / float_s:.2f}x), "
          f"calibration {cal_s:.1f} s")


if __name__ == "__main__":
    main()
