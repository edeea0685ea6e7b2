"""Bit-true crossbar arithmetic: quantisation, signed encoding, bit slices, DAC passes, ADC.

Integers throughout; products and column sums are formed with float BLAS on integer-valued
arrays, which is exact while every value stays below 2^24 (float32: column sums, which
`crossbar_numerics` checks for the target, and pass sums, whose bound `tile_mvm` checks) or
2^53 (float64: the shift-and-add over slices).

* Weights: per matrix column (for Conv, Gemm, MatMul one output channel) symmetric,
  ``scale = max|w| / (2^(b-1) - 1)``, ``q = round(w / scale)`` in ``[-(2^(b-1)-1), 2^(b-1)-1]``.
* Activations: per tensor, from a calibration range; a tensor that is never negative uses the
  codes ``0 .. 2^b - 1`` with zero point 0, any other one zero point ``2^(b-1)`` (offset binary)
  with ``scale = max|x| / (2^(b-1) - 1)``.  The DACs stream the unsigned codes; the zero point
  times the column's weight sum is subtracted digitally.
* Signed weights (`targets.numerics_spec`): ``offset`` stores ``q + 2^(b-1)``; ``differential``
  stores ``|q|`` on the positive or negative line of a pair.
* Slices: a weight's ``slices = ceil(b / cell_bits)`` physical columns are adjacent, slice 0
  (least significant ``cell_bits``) first, weight columns in the order of the tile
  (`ir.tiles`; block-diagonal groups side by side), as `kernels.tile_block` lays the matrix.
* Passes: input codes are cut into ``ceil(a / dac_bits)`` chunks of ``dac_bits``, least
  significant first; each pass drives ``rows_per_read`` rows at a time (a row group).
* ADC: per pass, row group and column, ``code = round(S / step)`` (ties to even: integer sums
  fall on ties, which rounding half up would bias coherently across passes) clipped to the ADC's
  codes (``0 .. 2^n - 1``, or ``-2^(n-1) .. 2^(n-1) - 1`` for differential columns), where
  ``step = 2^ceil(log2(full_scale / top))`` (a power of two, so reconstruction is a shift) and
  ``full_scale = fraction * rows * (2^dac_bits - 1) * (2^cell_bits - 1)`` with ``rows`` the most
  rows of one group a column can see in that read.  A clipped code is a saturation.
* Shift-and-add: ``sum over passes p and slices s of code * step * 2^(p dac_bits + s cell_bits)``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from cimopt.ir.errors import ModelError
from cimopt.targets.errors import TargetError
from cimopt.targets.spec import Target

# ---- quantisation -------------------------------------------------------------------------
def quantize_weights(w: np.ndarray, bits: int) -> tuple[np.ndarray, np.ndarray]:
    """(codes int64 like ``w``, scale float64 per column): symmetric per column of a K x N matrix.

    An all-zero column has scale 0 (codes 0): whatever its cells and ADC add to the column's
    sum is multiplied by 0, as a dead channel's output is exactly 0.  Non-finite weights are a
    `ModelError` (no cell can hold them).
    """
    wf = np.asarray(w, dtype=np.float64)
    if not np.all(np.isfinite(wf)):
        raise ModelError(f"a crossbar op's weight matrix (a model constant, or a crossbar-written MatMul's "
                         f"operand at run time) holds {int(np.count_nonzero(~np.isfinite(wf)))} non-finite "
                         f"value(s) (NaN or infinity); no crossbar cell can store them")
    qmax = 2 ** (bits - 1) - 1
    amax = np.abs(wf).max(axis=0) if w.size else np.zeros(w.shape[1])
    scale = amax / qmax
    q = np.clip(np.rint(wf / np.where(scale > 0, scale, 1.0)), -qmax, qmax).astype(np.int64)
    return q, scale


@dataclass(frozen=True)
class ActQuant:
    """One tensor's activation quantiser: real value = scale * (code - zero), codes 0 .. 2^bits - 1."""

    scale: float
    zero: int
    bits: int


def act_quant(lo: float, hi: float, bits: int) -> ActQuant:
    """The quantiser for a tensor whose calibration values lie in ``[lo, hi]``."""
    if lo >= 0:
        return ActQuant(hi / (2 ** bits - 1) if hi > 0 else 1.0, 0, bits)
    amax = max(-lo, hi)
    return ActQuant(amax / (2 ** (bits - 1) - 1), 2 ** (bits - 1), bits)


def quantize_acts(x: np.ndarray, q: ActQuant) -> np.ndarray:
    """Codes (int64) of ``x``, rounded to nearest and clipped to ``0 .. 2^bits - 1``.

    A value beyond the range saturates at the end code, infinities included (a vector format's
    overflow); NaN, which no DAC can drive, becomes the zero point's code (real 0).
    """
    v = np.nan_to_num(np.asarray(x, dtype=np.float64), nan=0.0, posinf=np.finfo(np.float64).max,
                      neginf=-np.finfo(np.float64).max)
    with np.errstate(over="ignore"):
        codes = np.rint(v / q.scale) + q.zero
    return np.clip(codes, 0, 2 ** q.bits - 1).astype(np.int64)


# ---- the crossbar's arithmetic ------------------------------------------------------------
@dataclass(frozen=True)
class CrossbarNumerics:
    """The bit widths and choices one crossbar MVM runs with."""

    weight_bits: int
    cell_bits: int
    dac_bits: int
    activation_bits: int
    adc_bits: int
    rows_per_read: int
    encoding: str               # "offset" | "differential"
    full_scale_fraction: float

    @property
    def slices(self) -> int:
        return math.ceil(self.weight_bits / self.cell_bits)

    @property
    def passes(self) -> int:
        return math.ceil(self.activation_bits / self.dac_bits)

    @property
    def signed(self) -> bool:
        return self.encoding == "differential"

    def adc(self, rows: int) -> tuple[int, int, int]:
        """(step, lowest code, highest code) of a conversion whose column sees ``rows`` driven rows."""
        top = 2 ** (self.adc_bits - 1) - 1 if self.signed else 2 ** self.adc_bits - 1
        full = self.full_scale_fraction * rows * (2 ** self.dac_bits - 1) * (2 ** self.cell_bits - 1)
        step = 2 ** max(0, math.ceil(math.log2(full / top))) if full > top else 1
        return step, (-top - 1 if self.signed else 0), top

    def lossless(self, rows: int) -> bool:
        """True when no conversion over ``rows`` rows can round or clip: step 1 and the largest sum fits."""
        step, _, top = self.adc(rows)
        return step == 1 and rows * (2 ** self.dac_bits - 1) * (2 ** self.cell_bits - 1) <= top


def crossbar_numerics(target: Target, rows_per_conversion: int = 0) -> CrossbarNumerics:
    """The target's crossbar arithmetic; ``rows_per_conversion`` 0 means every row the DACs drive."""
    n = target.numerics
    if n is None:
        raise TargetError(f"target {target.name!r} has no [numerics] section; add one (see "
                          f"targets/presets/isaac.toml) to run --numerics int or analog")
    c = target.core
    rows = min(c.dacs_per_crossbar, c.crossbar_rows)
    if rows_per_conversion:
        rows = min(rows, rows_per_conversion)
    p = CrossbarNumerics(target.precision.weight_bits, c.cell_bits, c.dac_bits, target.precision.activation_bits,
                         c.adc_bits, rows, n.weight_encoding, n.adc_full_scale_fraction)
    if rows * (2 ** p.dac_bits - 1) * (2 ** p.cell_bits - 1) >= 2 ** 24:
        raise TargetError(f"target {target.name!r}: a column sum of {rows} rows of {p.cell_bits}-bit cells and "
                          f"{p.dac_bits}-bit inputs exceeds 2^24; the bit-true mode cannot represent it exactly")
    return p


def encode(q: np.ndarray, p: CrossbarNumerics) -> tuple[np.ndarray, np.ndarray | None]:
    """Cell levels of a K x N block of weight codes: (positive or only line, negative line or None).

    Each is K x (N * slices), weight j's slice s at column ``j * slices + s``.
    """
    mask = 2 ** p.cell_bits - 1
    shifts = np.arange(p.slices, dtype=np.int64) * p.cell_bits

    def sliced(u: np.ndarray) -> np.ndarray:
        return ((u[:, :, None] >> shifts) & mask).reshape(u.shape[0], -1).astype(np.uint8)

    if p.encoding == "offset":
        return sliced(q + 2 ** (p.weight_bits - 1)), None
    return sliced(np.maximum(q, 0)), sliced(np.maximum(-q, 0))


def bit_planes(xq: np.ndarray, p: CrossbarNumerics, dtype: type) -> np.ndarray:
    """The DAC inputs of every pass: V x passes x R chunks of ``dac_bits`` (least significant first)."""
    if p.dac_bits == 1 and p.activation_bits <= 16:
        narrow = np.uint8 if p.activation_bits <= 8 else np.uint16
        raw = np.ascontiguousarray(xq, dtype=narrow).view(np.uint8).reshape(*xq.shape, -1)   # little-endian bytes
        bits = np.unpackbits(raw, axis=-1, bitorder="little")[:, :, :p.passes]
        return np.ascontiguousarray(bits.transpose(0, 2, 1), dtype=dtype)
    mask = 2 ** p.dac_bits - 1
    return np.stack([(xq >> (k * p.dac_bits)) & mask for k in range(p.passes)], axis=1).astype(dtype)


def tile_mvm(xq: np.ndarray, cells: np.ndarray, p: CrossbarNumerics, group_rows: int,
             lossless_shortcut: bool = True) -> tuple[np.ndarray, int, int]:
    """Bit-serial MVM over ``xq`` (V x R input codes) on crossbars that read the same rows.

    ``cells``: R x C physical columns (of one crossbar, or of several side by side), each cell a
    level, the positive minus the negative line, or an analog conductance in level units;
    ``group_rows``: rows per packed group (a column only sees the rows of its group).  Returns
    (shift-and-added column results, V x (C / slices), float64; saturated conversions;
    conversions).  With ``lossless_shortcut`` integer cells whose conversions cannot round or
    clip (`CrossbarNumerics.lossless`) are computed as one exact integer product, which equals
    the pass-by-pass result.  A conversion is tested for clipping only when its column sum can
    pass the ADC's top code (analog cells, or a full-scale fraction below 1).
    """
    v, r = xq.shape
    c = cells.shape[1]
    reads = [(r0, min(r0 + p.rows_per_read, r)) for r0 in range(0, r, p.rows_per_read)]
    seen = [min(r1 - r0, group_rows) for r0, r1 in reads]
    conversions = v * c * p.passes * len(reads)
    slice_w = 2.0 ** (np.arange(p.slices) * p.cell_bits)
    integral = cells.dtype.kind in "iu"
    if lossless_shortcut and integral and all(p.lossless(s) for s in seen):
        wide = cells.astype(np.float64).reshape(r, -1, p.slices) @ slice_w
        return xq.astype(np.float64) @ wide, 0, conversions
    out = np.zeros((v, c // p.slices), dtype=np.float64)
    sat = 0
    dtype = np.float32   # integer sums below 2^24 (checked by crossbar_numerics); analog sums to float32 precision
    planes = bit_planes(xq, p, dtype)
    block = max(1, (1 << 22) // max(1, p.passes * c))
    for (r0, r1), rows in zip(reads, seen):
        step, lo, hi = p.adc(rows)
        raw = rows * (2 ** p.dac_bits - 1) * (2 ** p.cell_bits - 1)
        may_clip = not integral or raw / step >= hi + 0.5 or (p.signed and -raw / step <= lo - 0.5)
        # sum over passes of (integer) code x 2^(pass x dac_bits): exact in float32 below 2^24
        pass_dtype = np.float32 if max(hi, -lo) * 2.0 ** (p.passes * p.dac_bits) < 2 ** 24 else np.float64
        pass_w = (2.0 ** (np.arange(p.passes) * p.dac_bits)).astype(pass_dtype)[None, :]
        w = cells[r0:r1].astype(dtype)
        x_rows = planes if (r0, r1) == (0, r) else planes[:, :, r0:r1]
        for b0 in range(0, v, block):
            x = x_rows[b0:b0 + block]
            nb = x.shape[0]
            s = (x.reshape(-1, r1 - r0) @ w).reshape(nb, p.passes, c)
            if step != 1:
                s *= dtype(1.0 / step)
            if step != 1 or not integral:
                np.rint(s, out=s)
            if may_clip:
                n_over = int(np.count_nonzero((s > hi) | (s < lo)))
                if n_over:
                    sat += n_over
                    np.clip(s, lo, hi, out=s)
            col = np.matmul(pass_w, s.astype(pass_dtype, copy=False))[:, 0, :]          # nb x c
            out[b0:b0 + nb] += (col.reshape(nb, -1, p.slices) @ slice_w) * step
    return out, sat, conversions
