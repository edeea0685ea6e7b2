"""The ``[numerics]`` section of a target file: how the chip's arithmetic loses accuracy.

Layout (every field required when the section is present; the section itself is optional, and a
target without it cannot run ``--numerics int`` or ``analog``)::

    [numerics]
    weight_encoding = "offset"          # "offset" | "differential": how a signed weight is stored
    adc_full_scale_fraction = 1.0       # (0, 1]: fraction of the largest column sum the ADC's top code covers
    vector_format = "bfloat16"          # "float32" | "float16" | "bfloat16": vector-unit number format
    [numerics.analog]                   # device non-idealities (``--numerics analog``)
    g_max_us = 25.0                     # conductance of the top cell level, uS
    prog_noise_c0_us = 0.26             # programming noise sigma = c0 + c1 g/g_max + c2 (g/g_max)^2, uS
    prog_noise_c1_us = 1.97
    prog_noise_c2_us = -1.17
    drift_nu_mean = 0.06                # drift exponent nu of g(t) = g(t0) (t / t0)^-nu
    drift_nu_std = 0.02
    drift_t0_s = 20.0                   # first read after programming, s
    read_noise_q = 0.0012               # 1/f read noise: sigma = q (g/g_max) sqrt(log((t + t_read)/(2 t_read)))
    read_t_s = 2.5e-7                   # t_read of the 1/f fit, s
    stuck_at_rate = 0.0005              # fraction of cells stuck
    stuck_on_fraction = 0.5             # of the stuck cells, the fraction stuck at g_max (the rest at 0)
    drift_compensation = true           # scale outputs by the expected drift (global compensation)

``offset``: a weight q in [-(2^(b-1)-1), 2^(b-1)-1] is stored as the unsigned q + 2^(b-1) and the
offset times the sum of the inputs is subtracted digitally (ISAAC, ISCA'16, section on signed
arithmetic).  ``differential``: |q| is stored on the positive or the negative bit line of a pair
and the column current is their difference (PCM/ReRAM differential pairs, AIHWKit's default
single-pair conductance converter); a pair counts as one of the program's columns.

Errors are `TargetError` naming the file and the dotted field, like the rest of `targets.load`.
"""
from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cimopt.targets.errors import TargetError

WEIGHT_ENCODINGS: tuple[str, ...] = ("offset", "differential")
VECTOR_FORMATS: tuple[str, ...] = ("float32", "float16", "bfloat16")


@dataclass(frozen=True)
class AnalogSpec:
    """Device non-idealities, in the form of AIHWKit's phenomenological PCM inference model."""

    g_max_us: float
    prog_noise_c0_us: float
    prog_noise_c1_us: float
    prog_noise_c2_us: float
    drift_nu_mean: float
    drift_nu_std: float
    drift_t0_s: float
    read_noise_q: float
    read_t_s: float
    stuck_at_rate: float
    stuck_on_fraction: float
    drift_compensation: bool


@dataclass(frozen=True)
class NumericsSpec:
    """How a target stores signed weights, converts column sums and rounds vector results."""

    weight_encoding: str
    adc_full_scale_fraction: float
    vector_format: str
    analog: AnalogSpec


def _fail(source: str, field: str, expected: str, got: object) -> TargetError:
    return TargetError(f"{source}: {field}: expected {expected}, got {got!r}")


def _number(table: Mapping[str, Any], key: str, where: str, source: str) -> float:
    v = table[key]
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise _fail(source, f"{where}.{key}", "a finite number", v)
    return float(v)


def _fields(table: object, cls: type, where: str, source: str) -> dict[str, Any]:
    if not isinstance(table, dict):
        raise _fail(source, where, f"a table [{where}]", table)
    known = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(k for k in table if k not in known)
    if unknown:
        raise TargetError(f"{source}: {where}.{unknown[0]}: unknown field; known fields of {where}: "
                          f"{', '.join(known)}")
    missing = [f"{where}.{k}" for k in known if k not in table]
    if missing:
        raise TargetError(f"{source}: missing field(s) {', '.join(missing)}")
    return dict(table)


def _parse_analog(table: object, source: str) -> AnalogSpec:
    where = "numerics.analog"
    t = _fields(table, AnalogSpec, where, source)
    vals: dict[str, Any] = {}
    for f in dataclasses.fields(AnalogSpec):
        if f.name == "drift_compensation":
            if not isinstance(t[f.name], bool):
                raise _fail(source, f"{where}.{f.name}", "true or false", t[f.name])
            vals[f.name] = t[f.name]
            continue
        v = _number(t, f.name, where, source)
        if f.name in ("g_max_us", "drift_t0_s", "read_t_s") and v <= 0:
            raise _fail(source, f"{where}.{f.name}", "a positive number", v)
        if f.name in ("drift_nu_mean", "drift_nu_std", "read_noise_q") and v < 0:
            raise _fail(source, f"{where}.{f.name}", "a number >= 0", v)
        if f.name in ("stuck_at_rate", "stuck_on_fraction") and not 0 <= v <= 1:
            raise _fail(source, f"{where}.{f.name}", "a fraction in [0, 1]", v)
        vals[f.name] = v
    spec = AnalogSpec(**vals)
    # the programming-noise polynomial must not go negative on the conductance range [0, g_max]
    for g in (0.0, 0.5, 1.0, -spec.prog_noise_c1_us / (2 * spec.prog_noise_c2_us) if spec.prog_noise_c2_us else 0.0):
        if 0 <= g <= 1:
            s = spec.prog_noise_c0_us + spec.prog_noise_c1_us * g + spec.prog_noise_c2_us * g * g
            if s < 0:
                raise TargetError(f"{source}: {where}.prog_noise_c0_us..c2_us: the programming noise "
                                  f"polynomial is negative ({s:.3g} uS) at g/g_max = {g:.3g}")
    return spec


def parse_numerics(table: object, source: str) -> NumericsSpec:
    """Validate a parsed ``[numerics]`` table (with its ``[numerics.analog]`` sub-table)."""
    t = _fields(table, NumericsSpec, "numerics", source)
    enc = t["weight_encoding"]
    if enc not in WEIGHT_ENCODINGS:
        raise _fail(source, "numerics.weight_encoding", f"one of {', '.join(WEIGHT_ENCODINGS)}", enc)
    fmt = t["vector_format"]
    if fmt not in VECTOR_FORMATS:
        raise _fail(source, "numerics.vector_format", f"one of {', '.join(VECTOR_FORMATS)}", fmt)
    frac = _number(t, "adc_full_scale_fraction", "numerics", source)
    if not 0 < frac <= 1:
        raise _fail(source, "numerics.adc_full_scale_fraction", "a fraction in (0, 1]", frac)
    return NumericsSpec(enc, frac, fmt, _parse_analog(t["analog"], source))
