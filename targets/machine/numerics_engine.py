"""The reference machine's ``int`` and ``analog`` arithmetic for crossbar and vector ops.

`NumericsEngine` plugs into `machine.execute`: for each ``mvm`` it supplies the accumulation
the kernels call (`kernels.mvm_chunk`'s ``acc``), which, for every crossbar the instruction
uses, quantises the input vectors with the op's calibrated `ActQuant`, runs the bit-serial
crossbar arithmetic of `targets.physics.numerics` on the cells the crossbar's `TileWrite` holds, removes
the weight offset and the input zero point digitally, adds row tiles as integers and scales the
sum back to real values (input scale x per-column weight scale).  Bias, Gemm's alpha/beta, the
fused activation and every vector op's results are then rounded to the target's vector format;
host ops stay float32 (a CPU).  In ``analog`` mode the cells are conductances drawn by
`targets.physics.noise` (programming noise, drift over ``drift_s``, stuck cells) once per crossbar
programming, plus read noise for every instruction, seeded by ``seed`` and the crossbar's
coordinates so the draw does not depend on execution order.

Weight scales are derived from the model's weights (per matrix column, `quantize_weights`), not
stored in the program: the program pins the model by hash, so they are a function of what it
already records.  A crossbar-written MatMul's operand (`ir.written`) is quantised the same way
when its ``operand_write`` runs (`write_operand`), from the values it wrote.  Rows per ADC
conversion come from each instruction's ``rows_per_conversion``.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from cimopt.ir.errors import UsageError
from cimopt.ir.graph import Graph, OpSpec
from cimopt.ir.program import Instruction, TileWrite
from cimopt.targets.machine.kernels import Accumulate, group_matrix
from cimopt.targets.machine.rows import put_rows
from cimopt.targets.numerics_spec import NumericsSpec
from cimopt.targets.physics import noise
from cimopt.targets.physics.numerics import (
    ActQuant, crossbar_numerics, encode, quantize_acts, quantize_weights, tile_mvm)
from cimopt.targets.spec import Target

MODES: tuple[str, ...] = ("int", "analog")


@dataclass(frozen=True)
class NumericsConfig:
    """How to run: mode, the activation quantisers (crossbar-op input tensor -> quantiser), seed."""

    mode: str
    activations: Mapping[str, ActQuant]
    seed: int = 0
    drift_s: float = 0.0             # analog: seconds since programming beyond the first read t0
    lossless_shortcut: bool = True   # compute crossbars whose ADC loses nothing as one exact product
    trace: bool = False              # keep every mvm's input codes and integer sums (for checks)


@dataclass
class LayerNumerics:
    """One crossbar op's result in this run: its output tensor, ADC saturations and conversions."""

    output: np.ndarray
    saturations: int = 0
    conversions: int = 0


@dataclass
class NumericsResult:
    mode: str
    layers: dict[str, LayerNumerics] = field(default_factory=dict)
    #: op -> per mvm call: (input codes V x groups*K, integer column sums V x groups x N)
    traces: dict[str, list[tuple[np.ndarray, np.ndarray]]] = field(default_factory=dict)


def round_to_format(x: np.ndarray, fmt: str) -> np.ndarray:
    """``x`` (float32) rounded to ``fmt`` (float32, float16 or bfloat16, nearest-even) and back to float32."""
    a = np.ascontiguousarray(x, dtype=np.float32)
    if fmt == "float32":
        return a
    if fmt == "float16":
        with np.errstate(over="ignore"):   # beyond 65504 becomes inf, as the format does
            return a.astype(np.float16).astype(np.float32)
    u = a.view(np.uint32).astype(np.uint64)
    u = (u + 0x7FFF + ((u >> 16) & 1)) & 0xFFFF0000
    out = u.astype(np.uint32).view(np.float32)
    return np.where(np.isfinite(a), out, a).astype(np.float32)


class NumericsEngine:
    def __init__(self, graph: Graph, target: Target, config: NumericsConfig) -> None:
        if config.mode not in MODES:
            raise UsageError(f"numerics mode {config.mode!r}: expected one of {', '.join(MODES)}")
        self.g, self.t, self.cfg = graph, target, config
        self.base = crossbar_numerics(target)   # raises TargetError when the target has no [numerics]
        self.spec: NumericsSpec = target.numerics  # type: ignore[assignment]
        self.result = NumericsResult(config.mode)
        self._weights: dict[tuple[str, int], tuple[np.ndarray, np.ndarray]] = {}
        self._cells: dict[tuple[TileWrite, ...], tuple[np.ndarray, list[np.ndarray]]] = {}
        self._scales: dict[str, np.ndarray] = {}
        #: crossbar-written MatMuls (`ir.written`): op -> {its second input: the operand last written}
        self._operands: dict[str, dict[str, np.ndarray]] = {}
        self.comp = noise.drift_compensation(self.spec.analog, config.drift_s) if config.mode == "analog" else 1.0

    # ---- weights and cells ---------------------------------------------------------------
    def write_operand(self, op: OpSpec, value: np.ndarray) -> None:
        """A crossbar-written MatMul's operand was written: its cells and per-column scales are
        quantised from ``value`` from now on (symmetric per column, as constant weights are)."""
        self._operands[op.name] = {op.inputs[1]: np.asarray(value, dtype=np.float32)}
        self._weights = {k: v for k, v in self._weights.items() if k[0] != op.name}
        self._cells = {k: v for k, v in self._cells.items() if not k or k[0].op != op.name}
        self._scales.pop(op.name, None)

    def weights(self, op: OpSpec, group: int) -> tuple[np.ndarray, np.ndarray]:
        """(codes K x N, scale per column) of one group of the op's weight matrix (a written
        operand's: the value its last `write_operand` gave)."""
        key = (op.name, group)
        if key not in self._weights:
            src = self._operands.get(op.name, self.g.constants)
            self._weights[key] = quantize_weights(group_matrix(op, src, group), self.base.weight_bits)
        return self._weights[key]

    def column_scales(self, op: OpSpec, groups: int) -> np.ndarray:
        if op.name not in self._scales:
            self._scales[op.name] = np.stack([self.weights(op, g)[1] for g in range(groups)])
        return self._scales[op.name]

    def side_by_side(self, op: OpSpec, tws: tuple[TileWrite, ...]) -> tuple[np.ndarray, list[np.ndarray]]:
        """Cells of crossbars reading the same rows, columns side by side, and each one's weight sums."""
        hit = self._cells.get(tws)
        if hit is None:
            parts = [self.cells(op, tw) for tw in tws]
            hit = (parts[0][0] if len(parts) == 1 else np.concatenate([c for c, _ in parts], axis=1),
                   [w for _, w in parts])
            self._cells[tws] = hit
        return hit

    def cells(self, op: OpSpec, tw: TileWrite) -> tuple[np.ndarray, np.ndarray]:
        """(cells R x C physical, weight-code sums per group and column ng x c) of one crossbar."""
        p = self.base
        r, c = tw.row1 - tw.row0, tw.col1 - tw.col0
        plus = np.zeros((tw.ngroups * r, tw.ngroups * c * p.slices), dtype=np.uint8)
        minus = np.zeros_like(plus) if p.signed else None
        wsum = np.zeros((tw.ngroups, c), dtype=np.int64)
        for i in range(tw.ngroups):
            q = self.weights(op, tw.group0 + i)[0][tw.row0:tw.row1, tw.col0:tw.col1]
            hi, lo = encode(q, p)
            cols = slice(i * c * p.slices, (i + 1) * c * p.slices)
            plus[i * r:(i + 1) * r, cols] = hi
            if minus is not None and lo is not None:
                minus[i * r:(i + 1) * r, cols] = lo
            wsum[i] = q.sum(axis=0)
        if self.cfg.mode == "analog":
            rng = np.random.default_rng([self.cfg.seed, tw.core, tw.crossbar, tw.segment, tw.tile, tw.replica])
            a = self.spec.analog
            cells = noise.program(plus, p.cell_bits, a, rng, self.cfg.drift_s)
            if minus is not None:
                cells = cells - noise.program(minus, p.cell_bits, a, rng, self.cfg.drift_s)
            cells = cells.astype(np.float32)
        else:
            cells = plus if minus is None else plus.astype(np.int8) - minus.astype(np.int8)
        return cells, wsum

    # ---- one mvm ---------------------------------------------------------------------------
    def act_quant(self, op: OpSpec) -> ActQuant:
        q = self.cfg.activations.get(op.inputs[0])
        if q is None:
            raise UsageError(f"no calibration range for {op.inputs[0]!r}, the input of crossbar op {op.name!r}")
        return q

    def accumulator(self, op: OpSpec, ins: Instruction) -> Accumulate:
        """The kernels' accumulation for ``ins``: bit-true partial sums of every crossbar it uses."""
        aq = self.act_quant(op)
        p = crossbar_numerics(self.t, ins.rows_per_conversion) if ins.rows_per_conversion else self.base
        layer = self._layer(op)

        def acc(patches: np.ndarray, k: int, out: np.ndarray, blocks: Sequence[tuple[TileWrite, np.ndarray]]) -> None:
            xq = quantize_acts(patches, aq)
            v = len(xq)
            total = np.zeros(out.shape, dtype=np.float64)
            same: dict[tuple[int, int, int, int], list[TileWrite]] = {}
            for tw, _ in blocks:   # crossbars that read the same input rows share the DAC passes
                same.setdefault((tw.group0, tw.ngroups, tw.row0, tw.row1), []).append(tw)
            for (g0, ng, r0, r1), tws in same.items():
                tws.sort(key=lambda tw: tw.col0)
                cells, wsums = self.side_by_side(op, tuple(tws))
                if self.cfg.mode == "analog":
                    rng = np.random.default_rng([self.cfg.seed, 1, ins.id, g0, r0])
                    cells = noise.read(cells, self.spec.analog, rng, self.cfg.drift_s)
                r = r1 - r0
                xin = xq[:, np.concatenate([(g0 + i) * k + np.arange(r0, r1) for i in range(ng)])]
                y, sat, conv = tile_mvm(xin, cells, p, r, self.cfg.lossless_shortcut)
                if self.comp != 1.0:   # drift compensation scales the analog sums, not the digital corrections
                    y *= self.comp
                layer.saturations += sat
                layer.conversions += conv
                xsum = xin.reshape(v, ng, r).sum(axis=2)[:, :, None] if p.encoding == "offset" else None
                off = 0
                for tw, wsum in zip(tws, wsums):
                    c = tw.col1 - tw.col0
                    part = y[:, off:off + ng * c].reshape(v, ng, c) - float(aq.zero) * wsum[None]
                    off += ng * c
                    if xsum is not None:
                        part -= float(2 ** (p.weight_bits - 1)) * xsum
                    total[:, g0:g0 + ng, tw.col0:tw.col1] += part
            if self.cfg.trace:
                self.result.traces.setdefault(op.name, []).append((xq, total.copy()))
            out += total * (aq.scale * self.column_scales(op, out.shape[1]))[None]

        return acc

    def _layer(self, op: OpSpec) -> LayerNumerics:
        rec = self.result.layers.get(op.name)
        if rec is None:
            rec = LayerNumerics(np.zeros(self.g.shape(op.outputs[0]), dtype=np.float32))
            self.result.layers[op.name] = rec
        return rec

    def finish_mvm(self, op: OpSpec, axis: int, row0: int, row1: int, res: np.ndarray) -> np.ndarray:
        """The chunk's result in the vector format, also recorded as the layer's output rows."""
        out = round_to_format(res, self.spec.vector_format)
        put_rows(self._layer(op).output, axis, row0, row1, out)
        return out

    def finish_vector(self, results: list[np.ndarray]) -> list[np.ndarray]:
        """A vector op's float results in the vector format (non-float results unchanged)."""
        return [round_to_format(r, self.spec.vector_format) if np.asarray(r).dtype == np.float32 else r
                for r in results]
