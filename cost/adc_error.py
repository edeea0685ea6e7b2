"""Rows per ADC conversion as a per-layer choice: its latency, energy and predicted ADC error.

Driving fewer rows per read (``rows_per_conversion`` r) means more reads per MVM (latency and
energy from `targets.physics.timing.mvm_task`, the machine's own physics) and smaller column sums, so a
finer ADC step (`targets.physics.numerics.CrossbarNumerics.adc`).  The error model, per output element:

* each conversion with step D > 1 adds an error uniform over the D residues of an integer sum,
  variance ``(D^2 + 2) / 12`` (ties to even; 0 when D = 1, no saturation with the full-scale
  fraction at 1);
* a weight column's result is ``sum over passes p, slices s of 2^(p dac_bits + s cell_bits)``
  times its conversions, so its integer error variance is
  ``sum over the row groups g it reads of var(D_g) x sum_{p,s} 4^(p dac_bits + s cell_bits)``;
* dequantised (x input scale x weight scale) and divided by the layer output's mean square
  (from the float reference), it is the layer's relative noise ``e = N / P``; the output's
  relative noise is taken as the sum of the layers' (first order, unit gain), so
  ``SQNR_out ~ -10 log10(sum e)``;
* what no rows-per-conversion choice changes, the floor: each layer's own weight and input
  quantisation (`quantisation_error`) and, per rounding to the vector format (every crossbar
  and vector op's result), at most ``u^2 / 3`` (`rounding_error`), added to the same sum.

`tests/test_accuracy_budget.py` checks the prediction against the bit-true run.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from cimopt.ir.graph import Graph, OpSpec
from cimopt.ir.tiles import tile_matrix
from cimopt.ir.workload import Matrix, matrix_of, WorkOp
from cimopt.targets.machine.kernels import group_matrix
from cimopt.targets.physics import timing
from cimopt.targets.physics.numerics import ActQuant, crossbar_numerics, quantize_weights
from cimopt.targets.spec import Target


@dataclass(frozen=True)
class LayerSignal:
    """What the error model needs of one crossbar layer, measured on calibration data."""

    input_scale: float          # activation scale of its input (real value per code step)
    weight_scale_ms: float      # mean over columns of (weight scale)^2
    output_power: float         # mean square of the float layer output
    input_power: float = 0.0    # mean square of the float layer input
    weight_power: float = 0.0   # mean over columns of the column's sum of squared weights
    rows: int = 0               # K: weights per output (a column's length)
    clip_power: float = 0.0     # mean square of what the calibrated range clips off the input (estimate)


@dataclass(frozen=True)
class AdcOption:
    rows_per_conversion: int
    latency_ns: float           # one copy, all the layer's vectors
    energy_pj: float
    error: float                # predicted relative noise power of the layer output (N / P)


def row_choices(target: Target) -> list[int]:
    """r = the rows the DACs drive, halved down to 1."""
    r = min(target.core.dacs_per_crossbar, target.core.crossbar_rows)
    out = []
    while r >= 1:
        out.append(r)
        r //= 2
    return out


def _row_groups(m: Matrix, target: Target, r: int) -> list[int]:
    """Rows seen by each conversion a weight column takes part in (its row groups, all row tiles)."""
    rows = target.core.crossbar_rows
    seen: list[int] = []
    for r0 in range(0, m.k, rows):
        tile = min(rows, m.k - r0)
        seen.extend(min(r, tile - g0) for g0 in range(0, tile, r))
    return seen


def integer_noise(target: Target, m: Matrix, r: int) -> float:
    """Predicted error variance of one output's integer sum (code units) at ``r`` rows per conversion."""
    p = crossbar_numerics(target, r)
    weights = sum(4.0 ** (k * p.dac_bits + s * p.cell_bits) for k in range(p.passes) for s in range(p.slices))
    var = 0.0
    for rows in _row_groups(m, target, r):
        step = p.adc(rows)[0]
        var += (step * step + 2) / 12 if step > 1 else 0.0
    return var * weights


def options(target: Target, op: WorkOp, signal: LayerSignal) -> list[AdcOption]:
    """Every useful rows-per-conversion choice of a crossbar op, fewest reads first; the list stops
    at the first choice whose conversions lose nothing (fewer rows would only cost more)."""
    m = op.matrix
    if m is None:
        raise ValueError(f"op {op.name} has no weight matrix")
    c = target.core
    tiles = tile_matrix(op.name, m, c.crossbar_rows, c.crossbar_cols, target.weight_slices)
    out = []
    for r in row_choices(target):
        cost = timing.mvm_cost(target, tiles, m, m.vectors, bool(op.activation), r, op.output_stage_per_vector())
        n = integer_noise(target, m, r) * signal.input_scale ** 2 * signal.weight_scale_ms
        err = n / signal.output_power if signal.output_power > 0 else (0.0 if n == 0 else math.inf)
        out.append(AdcOption(r, cost.latency_ns, cost.energy.total, err))
        if err == 0:
            break
    return out


#: the output's relative noise is taken as this times the sum of the layers' (3 dB): noise added
#: before a residual block reaches its output on both paths, so the gain can pass 1 (ResNet-18 at
#: 32x32 on isaac: measured 1.9 dB below the unit-gain sum)
PROPAGATION_MARGIN = 2.0

#: unit roundoff of each vector format (half an ulp relative to the value: 2^-(significand bits))
UNIT_ROUNDOFF: dict[str, float] = {"float32": 2.0 ** -24, "float16": 2.0 ** -11, "bfloat16": 2.0 ** -8}


def rounding_error(fmt: str) -> float:
    """Relative noise power one rounding to ``fmt`` adds, at most: an error uniform over
    +-u|x| (u the unit roundoff) has variance u^2 x^2 / 3."""
    return UNIT_ROUNDOFF[fmt] ** 2 / 3


def quantisation_error(signal: LayerSignal) -> float:
    """Relative noise power of a layer's output from its own weight and input quantisation
    (whatever the ADC does): each weight off by an error uniform over its column's step,
    variance ``step^2 / 12``, times the inputs (``K E[x^2] mean(step^2) / 12``), plus each input
    off by one uniform over its step (``input_scale^2 / 12 x mean column sum of w^2``) and by what
    the calibrated range clips off (``clip_power x mean column sum of w^2``), over the output's
    mean square."""
    n = ((signal.rows * signal.input_power * signal.weight_scale_ms + signal.input_scale ** 2 * signal.weight_power) / 12
         + signal.clip_power * signal.weight_power)
    if signal.output_power > 0:
        return n / signal.output_power
    return 0.0 if n == 0 else math.inf


def predicted_sqnr_db(errors: list[float]) -> float:
    """Output SQNR (dB) the model predicts from the layers' relative noise powers."""
    total = float(np.sum(errors))
    return math.inf if total == 0 else -10 * math.log10(total)


def _mean_square(a: np.ndarray) -> float:
    v = np.asarray(a, dtype=np.float64)
    v = v[np.isfinite(v)]
    return float(np.mean(v * v)) if v.size else 0.0


def layer_signal(graph: Graph, op: OpSpec, weight_bits: int, act: ActQuant, output: np.ndarray,
                 weights: Mapping[str, np.ndarray] | None = None, inputs: np.ndarray | None = None,
                 clip_power: float = 0.0) -> LayerSignal:
    """The error model's inputs for ``op``: its input scale, weight scales and powers, the float
    ``output``'s and (given) ``inputs``' mean squares (non-finite values left out); ``weights``
    maps a crossbar-written MatMul's operand (`ir.written`) to its float value (default: the
    graph's constants); ``clip_power`` the input's clipping estimate."""
    m = matrix_of(graph, op)
    src = graph.constants if weights is None else weights
    mats = [group_matrix(op, src, g) for g in range(m.groups)]
    scales = np.concatenate([quantize_weights(w, weight_bits)[1] for w in mats])
    power = float(np.mean(np.concatenate([(np.asarray(w, dtype=np.float64) ** 2).sum(axis=0) for w in mats])))
    return LayerSignal(act.scale, float(np.mean(scales ** 2)), _mean_square(output),
                       _mean_square(inputs) if inputs is not None else 0.0, power, m.k, clip_power)
