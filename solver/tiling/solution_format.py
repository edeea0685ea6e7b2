"""Tiling solution files: every op's tiles by their group, row and column ranges; `verify`
checks that they fit a crossbar and cover the weights once, and counts them."""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from cimopt.ir.tiles import Tile
from cimopt.solver.solution_verdict import object_schema, SolutionError, Verdict
from cimopt.solver.tiling.cut import Tiling
from cimopt.solver.tiling.problem import TilingProblem

#: the objective: (unit, what is minimised and how it is computed from an instance and a solution)
OBJECTIVE: tuple[str, str] = ("crossbars", " ".join("""
Minimise the number of tiles (one crossbar each) over all ops; the tiles of an op must cover each of
its groups x k x n weight cells exactly once, a tile of ngroups groups using ngroups*(row1-row0) <=
rows rows and ngroups*(col1-col0)*slices <= cols columns.
""".split()))

#: a tile's fields in a solution body, in `cimopt.ir.tiles.Tile` order
_TILE_FIELDS = ("group0", "ngroups", "row0", "row1", "col0", "col1")


def body(inst: TilingProblem, s: Tiling) -> dict[str, Any]:
    """Every op's tiles, in crossbar order."""
    return {"tiles": {op: [{f: getattr(t, f) for f in _TILE_FIELDS} for t in ts] for op, ts in s.tiles.items()}}


def verify(inst: TilingProblem, body: dict[str, Any]) -> Verdict:
    """The number of tiles (crossbars) and every violation (a tile off the weights or the crossbar,
    weights in two tiles or in none)."""
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


#: JSON Schema of a solution body (`body`)
SCHEMA: dict[str, Any] = object_schema(
    {
        "tiles": {
            "type": "object",
            "additionalProperties": {
                "type": "array",
                "items": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["group0", "ngroups", "row0", "row1", "col0", "col1"],
                    "properties": {
                        "group0": {"type": "integer", "minimum": 0},
                        "ngroups": {"type": "integer", "minimum": 0},
                        "row0": {"type": "integer", "minimum": 0},
                        "row1": {"type": "integer", "minimum": 0},
                        "col0": {"type": "integer", "minimum": 0},
                        "col1": {"type": "integer", "minimum": 0},
                    },
                    "description": ("rows row0:row1 of K and weight columns col0:col1 of N of the groups "
                                    "group0:group0+ngroups (packed block-diagonally)"),
                },
            },
        },
    },
    required=["tiles"],
    description="The tiles of one copy of every op's weights, by op name, in crossbar order.",
)
