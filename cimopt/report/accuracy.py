"""Accuracy of a bit-true (``int``) or noisy (``analog``) run against the float reference.

Per output and per crossbar layer: SQNR in dB (``10 log10(sum ref^2 / sum (ours - ref)^2)``,
+inf when equal), cosine similarity, max abs error; per classifier output (2-D, at least 5
classes) top-1 agreement (fraction of rows whose argmax is the reference's) and top-5 agreement
(fraction whose reference argmax is among our five largest); per layer ADC saturations and
conversions.  The reference of a layer is its float value on the same inputs (`float_trace`),
so a layer's figures include the error of the layers before it.  With ``trials`` > 1 (analog)
every figure is given as the mean over trials with its standard deviation beside it.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from cimopt.calibration import calibration_samples
from cimopt.inputs import random_inputs
from cimopt.ir.graph import Graph, OpClass
from cimopt.ir.program import Program
from cimopt.targets.machine.executor import execute, MachineResult
from cimopt.targets.machine.float_reference import calibrate, float_trace
from cimopt.targets.machine.numerics_engine import NumericsConfig
from cimopt.targets.physics.numerics import ActQuant
from cimopt.targets.spec import Target


def sqnr_db(ours: np.ndarray, ref: np.ndarray) -> float:
    r = np.asarray(ref, dtype=np.float64)
    e = np.asarray(ours, dtype=np.float64) - r
    noise, signal = float((e * e).sum()), float((r * r).sum())
    if not math.isfinite(noise):
        return -math.inf
    if noise == 0:
        return math.inf
    return 10 * math.log10(signal / noise) if signal > 0 else -math.inf


def bit_true_sqnr_db(program: Program, graph: Graph, target: Target, seed: int = 0) -> float:
    """The worst output's SQNR (dB) of ``program`` run ``--numerics int`` on seeded random inputs
    (``seed``) against the float reference, calibrated as `compile --min-sqnr-db` is by default
    (`cimopt.calibration.calibration_samples`, which never use the input of ``seed`` 0)."""
    cal = calibrate(graph, calibration_samples(None, graph, 0), target.precision.activation_bits)
    x = random_inputs(graph, seed)
    ref = float_trace(graph, x)
    outs = execute(program, graph, target, x, numerics=NumericsConfig("int", cal)).outputs
    return min(sqnr_db(outs[k], ref[k]) for k in graph.outputs)


def cosine(ours: np.ndarray, ref: np.ndarray) -> float:
    a, b = np.asarray(ours, dtype=np.float64).ravel(), np.asarray(ref, dtype=np.float64).ravel()
    na, nb = float(np.linalg.norm(a)), float(np.linalg.norm(b))
    if not (math.isfinite(na) and math.isfinite(nb)):
        return math.nan
    if na == 0 or nb == 0:
        return 1.0 if na == nb else 0.0
    return float(a @ b) / (na * nb)


def errors(ours: np.ndarray, ref: np.ndarray) -> dict[str, float]:
    """SQNR (dB), cosine and max abs error of one tensor; top-1/top-5 agreement for classifier outputs."""
    d: dict[str, float] = {"sqnr_db": sqnr_db(ours, ref), "cosine": cosine(ours, ref),
                           "max_abs_error": float(np.max(np.abs(ours.astype(np.float64) - ref))) if ref.size else 0.0}
    if ref.ndim == 2 and ref.shape[1] >= 5:
        want = np.argmax(ref, axis=1)
        top5 = np.argsort(-ours, axis=1)[:, :5]
        d["top1_agreement"] = float(np.mean(np.argmax(ours, axis=1) == want))
        d["top5_agreement"] = float(np.mean((top5 == want[:, None]).any(axis=1)))
    return d


@dataclass(frozen=True)
class NumericsRun:
    """What `run_numerics` measured: per trial the machine result and the report figures."""

    mode: str
    machines: tuple[MachineResult, ...]
    outputs: dict[str, dict[str, float]]      # output -> figure -> mean over trials
    outputs_std: dict[str, dict[str, float]]
    layers: list[dict[str, float | str | int]]  # graph order; figures are means, *_std beside

    def worst_layers(self, n: int = 3) -> list[dict[str, float | str | int]]:
        return sorted(self.layers, key=lambda d: float(d["sqnr_db"]))[:n]

    def as_json(self) -> dict[str, object]:
        def clean(v: object) -> object:
            if isinstance(v, float) and not math.isfinite(v):
                return None if math.isnan(v) else (1e308 if v > 0 else -1e308)
            return v
        outs = {k: {f: clean(x) for f, x in v.items()} | {f"{f}_std": clean(x) for f, x in self.outputs_std[k].items()}
                for k, v in self.outputs.items()}
        return {"mode": self.mode, "trials": len(self.machines), "outputs": outs,
                "layers": [{k: clean(v) for k, v in d.items()} for d in self.layers]}


def _mean_std(values: Sequence[float]) -> tuple[float, float]:
    a = np.asarray(values, dtype=np.float64)
    if np.all(np.isinf(a)) and len(set(a.tolist())) == 1:
        return float(a[0]), 0.0
    return float(np.mean(a)), float(np.std(a)) if len(a) > 1 else 0.0


def run_numerics(program: Program, graph: Graph, target: Target, inputs: Mapping[str, np.ndarray], mode: str,
                 activations: Mapping[str, ActQuant], *, seed: int = 0, drift_s: float = 0.0,
                 trials: int = 1) -> NumericsRun:
    """Run ``program`` ``trials`` times in ``mode`` (seeds ``seed .. seed + trials - 1``) and compare
    every output and crossbar layer with the float reference on ``inputs``."""
    ref = float_trace(graph, inputs)
    machines = tuple(execute(program, graph, target, inputs,
                             numerics=NumericsConfig(mode, activations, seed=seed + k, drift_s=drift_s))
                     for k in range(trials))
    outputs: dict[str, dict[str, float]] = {}
    outputs_std: dict[str, dict[str, float]] = {}
    for name in graph.outputs:
        per = [errors(m.outputs[name], ref[name]) for m in machines if name in m.outputs]
        if not per:
            continue
        outputs[name], outputs_std[name] = {}, {}
        for f in per[0]:
            outputs[name][f], outputs_std[name][f] = _mean_std([p[f] for p in per])
    layers: list[dict[str, float | str | int]] = []
    for op in graph.ops():
        if op.op_class is not OpClass.CROSSBAR:
            continue
        recs = [m.numerics.layers[op.name] for m in machines if m.numerics and op.name in m.numerics.layers]
        if not recs:
            continue
        r = ref[op.outputs[0]]
        per = [errors(x.output, r) for x in recs]
        row: dict[str, float | str | int] = {"op": op.name, "op_type": op.op_type}
        for f in ("sqnr_db", "cosine", "max_abs_error"):
            row[f], row[f"{f}_std"] = _mean_std([p[f] for p in per])
        row["adc_saturations"] = int(round(np.mean([x.saturations for x in recs])))
        row["adc_conversions"] = int(recs[0].conversions)
        layers.append(row)
    return NumericsRun(mode, machines, outputs, outputs_std, layers)


def report_lines(run: NumericsRun, worst: int = 3) -> list[str]:
    """Text lines: per output, the worst layers, saturation totals."""
    spread = len(run.machines) > 1
    lines = []
    for k, v in run.outputs.items():
        s = run.outputs_std[k]
        pm = (lambda f: f" +- {s[f]:.2g}") if spread else (lambda f: "")
        extra = "".join(f", {f.replace('_agreement', '')} agreement {v[f]:.2f}{pm(f)}"
                        for f in ("top1_agreement", "top5_agreement") if f in v)
        lines.append(f"  output {k}: SQNR {v['sqnr_db']:.1f} dB{pm('sqnr_db')}, cosine {v['cosine']:.5f}"
                     f"{pm('cosine')}, max abs error {v['max_abs_error']:.3g}{extra}")
    sat = sum(int(d["adc_saturations"]) for d in run.layers)
    conv = sum(int(d["adc_conversions"]) for d in run.layers)
    lines.append(f"  ADC: {sat} of {conv} conversions saturated ({100 * sat / max(conv, 1):.3g} %)")
    for d in run.worst_layers(worst):
        lines.append(f"  worst layer {d['op']} ({d['op_type']}): SQNR {float(d['sqnr_db']):.1f} dB, cosine "
                     f"{float(d['cosine']):.5f}, {d['adc_saturations']} saturations")
    return lines
