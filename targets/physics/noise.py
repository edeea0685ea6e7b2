"""Analog cell non-idealities, in the form of AIHWKit's phenomenological PCM inference model.

Conductances are normalised to ``g_max`` (1.0 = the top cell level ``2^cell_bits - 1``); the
functions return them in level units so the crossbar arithmetic (`targets.physics.numerics.tile_mvm`)
reads them like integer levels.  With ``t = drift_t0_s + drift_s`` (s since programming):

* programming: ``g_p = g_t + sigma_p(g_t) xi``, ``sigma_p = (c0 + c1 g_t + c2 g_t^2) / g_max_us``;
* drift: ``g_d = g_p (t / t0)^-nu``, ``nu = |nu_mean + nu_std xi|_+`` drawn per cell;
* stuck cells: a fraction ``stuck_at_rate`` of cells read ``g_max`` (``stuck_on_fraction`` of
  them) or 0, whatever was programmed;
* read noise, drawn anew for every read (`read`): ``sigma_r = q g_d sqrt(log((t + t_read) / (2 t_read)))``;
* conductances are physical: clipped at 0.

``xi`` are standard normal draws from the caller's seeded generator.
"""
from __future__ import annotations

import math

import numpy as np

from cimopt.targets.numerics_spec import AnalogSpec


def inference_time_s(a: AnalogSpec, drift_s: float) -> float:
    """Time of the read since programming completed, s."""
    return a.drift_t0_s + drift_s


def program(levels: np.ndarray, cell_bits: int, a: AnalogSpec, rng: np.random.Generator,
            drift_s: float) -> np.ndarray:
    """Programmed, drifted cells (level units, float64) for target ``levels`` (integers)."""
    top = 2 ** cell_bits - 1
    g = np.asarray(levels, dtype=np.float64) / top
    sigma = (a.prog_noise_c0_us + a.prog_noise_c1_us * g + a.prog_noise_c2_us * g * g) / a.g_max_us
    gp = g + sigma * rng.standard_normal(g.shape)
    nu = np.maximum(a.drift_nu_mean + a.drift_nu_std * rng.standard_normal(g.shape), 0.0)
    t = inference_time_s(a, drift_s)
    gd = np.maximum(gp, 0.0) * (t / a.drift_t0_s) ** -nu
    if a.stuck_at_rate > 0:
        stuck = rng.random(g.shape) < a.stuck_at_rate
        on = rng.random(g.shape) < a.stuck_on_fraction
        gd = np.where(stuck, np.where(on, 1.0, 0.0), gd)
    return gd * top


def read(cells: np.ndarray, a: AnalogSpec, rng: np.random.Generator, drift_s: float) -> np.ndarray:
    """``cells`` (level units) as one read sees them, with 1/f read noise."""
    t = inference_time_s(a, drift_s)
    k = a.read_noise_q * math.sqrt(math.log((t + a.read_t_s) / (2 * a.read_t_s)))
    if k == 0:
        return cells
    return np.maximum(cells + k * cells * rng.standard_normal(cells.shape, dtype=np.float32), 0.0).astype(cells.dtype)


def drift_compensation(a: AnalogSpec, drift_s: float) -> float:
    """Factor that undoes the expected drift: ``(t / t0)^nu_mean`` when compensation is on, else 1."""
    if not a.drift_compensation:
        return 1.0
    return (inference_time_s(a, drift_s) / a.drift_t0_s) ** a.drift_nu_mean
