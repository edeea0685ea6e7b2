"""Per stage: a solution as JSON data (`body`), read back (`read`), and checked against its
instance (`verify`), with the objective recomputed from the instance (`cimopt.solver.objectives`
defines each in words).  The envelope, the schema and the files are `cimopt.solver.harness.solutions`.

``read`` raises `SolutionError` when the data does not fit the instance's shape (an array of the
wrong length, an unknown op or layer); ``verify`` returns the objective and every violated
constraint, so that a feasible solution is one with no violations.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from cimopt.ir.errors import CimoptError
from cimopt.ir.tiles import Tile

from cimopt.solver.accuracy import knapsack as ab
from cimopt.solver.memory import heuristic as mem
from cimopt.solver.placement import heuristic as pl
from cimopt.solver.replication import heuristic as rp
from cimopt.solver.scheduling import heuristic as sch
from cimopt.solver.segmentation.cost import Segmentation, evaluate
from cimopt.solver.memory.stage import MemoryInstance, MemoryResult
from cimopt.solver.placement.stage import Placed, PlacementInstance
from cimopt.solver.replication.stage import Replicated, ReplicationInstance
from cimopt.solver.scheduling.stage import SchedulingInstance
from cimopt.solver.tiling.stage import TilingProblem
from cimopt.solver.tiling.cut import Tiling


class SolutionError(CimoptError):
    """A solution file that cannot be read or does not fit its instance: says where."""


@dataclass(frozen=True)
class Verdict:
    """The objective recomputed from the instance (in the stage's unit) and every violation."""

    objective: float
    violations: tuple[str, ...]

    @property
    def feasible(self) -> bool:
        return not self.violations


def _length(name: str, values: list[Any], n: int, what: str) -> None:
    if len(values) != n:
        raise SolutionError(f"solution.{name}: {len(values)} entries for the instance's {n} {what}")


# --- scheduling -------------------------------------------------------------------------------

def _sch_body(inst: SchedulingInstance, s: sch.Schedule, reprogrammed: bool) -> dict[str, Any]:
    body: dict[str, Any] = {"start_ns": list(s.start_ns)}
    if inst.mode == "throughput":
        body["initiation_interval_ns"] = s.initiation_interval_ns
    return body


def _sch_verify(inst: SchedulingInstance, body: dict[str, Any]) -> Verdict:
    p = inst.problem
    start = body["start_ns"]
    _length("start_ns", start, len(p.tasks), "tasks")
    makespan = max((s + t.duration_ns for s, t in zip(start, p.tasks)), default=0)
    if inst.mode == "throughput":
        if "initiation_interval_ns" not in body:
            raise SolutionError("solution.initiation_interval_ns: missing (the instance is in throughput mode)")
        ii = int(body["initiation_interval_ns"])
        return Verdict(float(ii), tuple(sch.check(p, sch.Schedule(tuple(start), makespan, ii), "throughput")))
    if "initiation_interval_ns" in body:
        raise SolutionError("solution.initiation_interval_ns: the instance is in latency mode, which has none")
    return Verdict(float(makespan), tuple(sch.check(p, sch.Schedule(tuple(start), makespan, makespan), "latency")))


# --- placement --------------------------------------------------------------------------------

def _pl_body(inst: PlacementInstance, s: Placed, reprogrammed: bool) -> dict[str, Any]:
    return {"cores": [list(c) for c in s.cores]}


def _pl_verify(inst: PlacementInstance, body: dict[str, Any]) -> Verdict:
    cores = body["cores"]
    _length("cores", cores, len(inst.problems), "segments")
    total, out = 0.0, []
    for k, (p, cs) in enumerate(zip(inst.problems, cores)):
        _length(f"cores[{k}]", cs, p.n_groups, "groups of that segment")
        load = [0] * p.n_cores
        for g, c in enumerate(cs):
            if not 0 <= c < p.n_cores:
                out.append(f"segment {k}: {p.label(g)} on core {c}; the mesh has cores 0..{p.n_cores - 1}")
            else:
                load[c] += p.groups[g]
        out += [f"segment {k}: core {c} holds {used} crossbars, capacity {p.crossbars_per_core}"
                for c, used in enumerate(load) if used > p.crossbars_per_core]
        # the byte-hops of a group off the mesh are undefined
        total += pl.cost(p, pl.Placement(tuple(cs))) if all(0 <= c < p.n_cores for c in cs) else math.nan
    return Verdict(total, tuple(out))


# --- memory -----------------------------------------------------------------------------------

def _mem_body(inst: MemoryInstance, s: MemoryResult, reprogrammed: bool) -> dict[str, Any]:
    return {"space": list(s.plan.space_of), "offset_bytes": list(s.plan.offset)}


def _mem_verify(inst: MemoryInstance, body: dict[str, Any]) -> Verdict:
    p = inst.problem
    spaces, offsets = body["space"], body["offset_bytes"]
    _length("space", spaces, len(p.buffers), "buffers")
    _length("offset_bytes", offsets, len(p.buffers), "buffers")
    unknown = sorted({s for s in spaces if s not in p.capacity})
    if unknown:
        raise SolutionError(f"solution.space: unknown space(s) {', '.join(map(repr, unknown))}; the instance's "
                            f"spaces are {', '.join(p.capacity)}")
    peak, slot = {}, [0] * len(p.buffers)
    for space in p.capacity:
        members = [i for i, b in enumerate(p.buffers) if spaces[i] == space and b.size_bytes > 0
                   and b.end_ns > b.start_ns]
        peak[space] = mem.peak_bytes([p.buffers[i] for i in members], [offsets[i] for i in members], p.alignment)
        for i, c in zip(members, mem.colour_slots([p.buffers[i] for i in members])):
            slot[i] = c
    plan = mem.MemoryPlan(tuple(spaces), tuple(offsets), tuple(slot), peak)
    # the spill choice is part of the instance (`memory.assign_spaces`, which `build` applies):
    # a buffer moved elsewhere would change the problem, and the bound would not hold for it
    assigned = mem.assign_spaces(p)[0].buffers
    moved = [f"buffer {b.name}: in {spaces[i]}, the instance plans it in {assigned[i].space} (the spill rule "
             "is part of the instance)" for i, b in enumerate(p.buffers)
             if spaces[i] != assigned[i].space and spaces[i] in p.capacity]
    return Verdict(float(plan.total_peak), tuple(mem.check(p, plan)) + tuple(moved))


# --- replication ------------------------------------------------------------------------------

def _rep_body(inst: ReplicationInstance, s: Replicated, reprogrammed: bool) -> dict[str, Any]:
    return {"copies": list(s.copies), "segments": [list(x) for x in s.segments], "reprogrammed": reprogrammed}


def _rep_verify(inst: ReplicationInstance, body: dict[str, Any]) -> Verdict:
    p = inst.problem
    n = len(p.layers)
    copies, segments = body["copies"], body["segments"]
    _length("copies", copies, n, "layers")
    order = [i for seg in segments for i in seg]
    if sorted(order) != list(range(n)):
        raise SolutionError(f"solution.segments: must list every layer index 0..{n - 1} exactly once")
    out = []
    for layer, r in zip(p.layers, copies):
        if not 1 <= r <= layer.copy_cap:
            out.append(f"layer {layer.name}: {r} copies outside [1, {layer.copy_cap}]")
    position = {layer: k for k, layer in enumerate(order)}
    out += [f"precedence {p.layers[u].name} -> {p.layers[v].name}: {p.layers[v].name} runs first"
            for u, v in p.edges if position[u] > position[v]]
    for k, seg in enumerate(segments):
        used = sum(p.layers[i].crossbars * copies[i] for i in seg)
        if used > p.budget:
            out.append(f"segment {k}: its copies use {used} crossbars, the budget is {p.budget}")
    if body["reprogrammed"] == inst.fits:
        out.append("one copy of every layer fits the budget: one segment without reprogramming (\"reprogrammed\": "
                   "false)" if inst.fits else "one copy of every layer does not fit the budget: the model runs in "
                   "segments with reprogramming (\"reprogrammed\": true)")
    elif not body["reprogrammed"] and len(segments) != 1:
        out.append(f"{len(segments)} segments without reprogramming: segments other than one need "
                   "\"reprogrammed\": true")
    if out:
        return Verdict(math.nan, tuple(out))
    if not body["reprogrammed"]:
        return Verdict(rp.objective(p, rp.Replication(tuple(copies))), ())
    cuts, at = [], 0
    for seg in segments:
        cuts.append((at, at + len(seg)))
        at += len(seg)
    value = evaluate(p, Segmentation(tuple(order), tuple(cuts), tuple(copies)))
    return Verdict(value, ())


# --- tiling -----------------------------------------------------------------------------------

_TILE_FIELDS = ("group0", "ngroups", "row0", "row1", "col0", "col1")


def _tile_body(inst: TilingProblem, s: Tiling, reprogrammed: bool) -> dict[str, Any]:
    return {"tiles": {op: [{f: getattr(t, f) for f in _TILE_FIELDS} for t in ts] for op, ts in s.tiles.items()}}


def _tile_verify(inst: TilingProblem, body: dict[str, Any]) -> Verdict:
    tiles = body["tiles"]
    ops = {op for op, _ in inst.matrices}
    if set(tiles) != ops:
        missing, extra = sorted(ops - set(tiles)), sorted(set(tiles) - ops)
        raise SolutionError("solution.tiles: " + "; ".join(x for x in (
            f"no tiles for op(s) {', '.join(missing)}" if missing else "",
            f"unknown op(s) {', '.join(extra)}" if extra else "") if x))
    out: list[str] = []
    for op, m in inst.matrices:
        ts = [Tile(op, i, *(t[f] for f in _TILE_FIELDS), inst.slices) for i, t in enumerate(tiles[op])]
        boxes: list[Box] = []
        for t in ts:
            where = f"op {op} tile {t.index}"
            if t.ngroups < 1 or t.row1 <= t.row0 or t.col1 <= t.col0:
                out.append(f"{where}: empty (needs ngroups >= 1, row0 < row1, col0 < col1)")
                continue
            if t.group0 + t.ngroups > m.groups or t.row1 > m.k or t.col1 > m.n:
                out.append(f"{where}: groups {t.group0}:{t.group0 + t.ngroups}, rows {t.row0}:{t.row1}, "
                           f"columns {t.col0}:{t.col1} outside the op's {m.groups} x {m.k} x {m.n} weights")
                continue
            if t.rows_used > inst.rows or t.cols_used > inst.cols:
                out.append(f"{where}: uses {t.rows_used} rows x {t.cols_used} columns, a crossbar has "
                           f"{inst.rows} x {inst.cols}")
            boxes.append((t, (t.group0, t.group0 + t.ngroups), (t.row0, t.row1), (t.col0, t.col1)))
        out += _cover(op, (m.groups, m.k, m.n), boxes)
    return Verdict(float(sum(len(tiles[op]) for op in ops)), tuple(out))


#: largest grid of tile boundaries `_cover` counts on (cells); beyond, tiles are compared in pairs
MAX_GRID_CELLS = 20_000_000
Box = tuple[Tile, tuple[int, int], tuple[int, int], tuple[int, int]]


def _cover(op: str, size: tuple[int, int, int], boxes: list[Box]) -> list[str]:
    """Weights held by two tiles and weights in no tile, of one op whose tiles (``boxes``: group,
    row and column ranges) lie inside its ``size`` = (groups, k, n) weights."""
    axes = [sorted({0, n} | {b[k + 1][0] for b in boxes} | {b[k + 1][1] for b in boxes}) for k, n in enumerate(size)]
    shape = tuple(len(a) - 1 for a in axes)
    if math.prod(shape) > MAX_GRID_CELLS:
        out = [f"op {op}: tiles {a[0].index} and {b[0].index} hold the same weights"
               for i, a in enumerate(boxes) for b in boxes[i + 1:]
               if all(x[0] < y[1] and y[0] < x[1] for x, y in zip(a[1:], b[1:]))]
        held = sum((g[1] - g[0]) * (r[1] - r[0]) * (c[1] - c[0]) for _, g, r, c in boxes)
        return out + ([f"op {op}: {math.prod(size) - held} of its {math.prod(size)} weights are in no tile"]
                      if not out and held < math.prod(size) else [])
    at = [{v: i for i, v in enumerate(a)} for a in axes]
    count = np.zeros(shape, np.int32)
    for _, *ranges in boxes:
        count[tuple(slice(at[k][lo], at[k][hi]) for k, (lo, hi) in enumerate(ranges))] += 1
    out = []
    for cell in np.argwhere(count > 1)[:3]:
        point = [axes[k][int(i)] for k, i in enumerate(cell)]
        holders = [b[0].index for b in boxes if all(r[0] <= x < r[1] for r, x in zip(b[1:], point))]
        out.append(f"op {op}: tiles {' and '.join(map(str, holders))} hold the same weights (group {point[0]}, "
                   f"row {point[1]}, column {point[2]})")
    empty = count == 0
    if empty.any():
        widths = [np.diff(a) for a in axes]
        volume = widths[0][:, None, None] * widths[1][None, :, None] * widths[2][None, None, :]
        g, r, c = (int(i) for i in np.argwhere(empty)[0])
        out.append(f"op {op}: {int(volume[empty].sum())} of its {math.prod(size)} weights are in no tile (first: "
                   f"groups {axes[0][g]}:{axes[0][g + 1]}, rows {axes[1][r]}:{axes[1][r + 1]}, "
                   f"columns {axes[2][c]}:{axes[2][c + 1]})")
    return out


# --- accuracy ---------------------------------------------------------------------------------

def _acc_body(inst: ab.AccuracyProblem, s: ab.Choice, reprogrammed: bool) -> dict[str, Any]:
    return {"rows_per_conversion": dict(s.rows_per_conversion)}


def _acc_verify(inst: ab.AccuracyProblem, body: dict[str, Any]) -> Verdict:
    rpc = body["rows_per_conversion"]
    if set(rpc) != set(inst.layers):
        raise SolutionError(f"solution.rows_per_conversion: needs exactly the layers {', '.join(inst.layers)}")
    out, cost, error = [], 0.0, inst.floor
    for i, layer in enumerate(inst.layers):
        js = [j for j, o in enumerate(inst.options[i]) if o.rows_per_conversion == rpc[layer]]
        if not js:
            out.append(f"layer {layer}: {rpc[layer]} rows per conversion is not one of its options "
                       f"{', '.join(str(o.rows_per_conversion) for o in inst.options[i])}")
            continue
        cost += inst.cost(i, js[0])
        error += inst.options[i][js[0]].error
    if not out and error > inst.budget + inst.budget * 1e-12:
        out.append(f"error budget: floor + chosen errors = {error:.4g} exceeds the budget {inst.budget:.4g} "
                   f"(predicted output SQNR {-10 * math.log10(error):.2f} dB < {inst.min_sqnr_db:.2f} dB)")
    return Verdict(cost if len(out) == 0 or out[0].startswith("error") else math.nan, tuple(out))


#: stage -> (solution -> body, (instance, body) -> verdict)
STAGE_CODECS: dict[str, tuple[Callable[[Any, Any, bool], dict[str, Any]], Callable[[Any, dict[str, Any]], Verdict]]] = {
    "scheduling": (_sch_body, _sch_verify),
    "placement": (_pl_body, _pl_verify),
    "memory": (_mem_body, _mem_verify),
    "replication": (_rep_body, _rep_verify),
    "tiling": (_tile_body, _tile_verify),
    "accuracy": (_acc_body, _acc_verify),
}

__all__ = ["SolutionError", "Verdict", "STAGE_CODECS"]
