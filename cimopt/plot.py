"""Pictures of a program with matplotlib (Agg backend): Gantt chart, memory over time, crossbar map.

Each ``*_figure`` function returns the matplotlib Figure (its axes hold the plotted data, so a
caller can read limits and artists); `save` writes it as PNG or SVG by the file's extension.
Times on the axes are microseconds, sizes MiB.
"""
from __future__ import annotations

import math
import os
import re
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402 - the backend is chosen before pyplot loads
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from cimopt.ir.errors import UsageError  # noqa: E402
from cimopt.ir.program import Program  # noqa: E402
from cimopt.targets.spec import Target  # noqa: E402

from .trace import live_bytes  # noqa: E402

FORMATS = (".png", ".svg")
#: colour of each instruction kind in the Gantt chart
KIND_COLOURS = {"mvm": "tab:blue", "vector": "tab:green", "host": "tab:red", "transfer": "tab:orange",
                "write": "tab:purple", "operand_write": "tab:pink", "barrier": "black"}
_MIB = float(1 << 20)
#: brightness of a crossbar cell by replica mod 3, so neighbouring replicas of one op differ
_SHADES = (1.0, 0.72, 0.5)


def save(fig: Figure, path: str | os.PathLike[str]) -> None:
    """Write ``fig`` as PNG or SVG (by the extension of ``path``) and close it."""
    p = os.fspath(path)
    ext = os.path.splitext(p)[1].lower()
    if ext not in FORMATS:
        plt.close(fig)
        raise UsageError(f"{p}: write a .png or .svg file (the extension picks the format)")
    try:
        fig.savefig(p, dpi=110 if ext == ".png" else None, bbox_inches="tight")
    except OSError as e:
        raise UsageError(f"{p}: cannot write the picture ({e.strerror})") from None
    finally:
        plt.close(fig)


def _resource_rows(program: Program) -> list[str]:
    """Resources ordered by core, then crossbar groups, vector unit, writes; NoC ports; host."""
    def order(r: str) -> tuple[int, int, str]:
        ins_unit = units[r]
        m = re.fullmatch(r"core(\d+)", ins_unit)
        core = int(m.group(1)) if m else (10**6 if ins_unit == "noc" else 10**6 + 1)
        kind = 2 if r.startswith("xbar") else 1 if r.endswith(".vector") else 0
        return core, kind, r
    units = {}
    for i in program.instructions:
        units.setdefault(i.resource or f"{i.kind}s", i.unit)
    return sorted(units, key=order)


def gantt_figure(program: Program, max_labels: int = 40) -> Figure:
    """A row per unary resource, a bar per instruction coloured by kind; x from 0 to the makespan (us)."""
    rows = _resource_rows(program)
    index = {r: k for k, r in enumerate(rows)}
    bars: dict[tuple[str, int], list[tuple[float, float]]] = defaultdict(list)
    for i in program.instructions:
        bars[(i.kind, index[i.resource or f"{i.kind}s"])].append((i.start_ns / 1e3, (i.end_ns - i.start_ns) / 1e3))
    height = min(12.0, 2.0 + 0.12 * len(rows))
    fig, ax = plt.subplots(figsize=(10, height))
    seen = set()
    for (kind, row), spans in sorted(bars.items()):
        ax.broken_barh(spans, (row - 0.4, 0.8), facecolors=KIND_COLOURS.get(kind, "grey"),
                       label=None if kind in seen else kind)
        seen.add(kind)
    ax.set_xlim(0, program.makespan_ns / 1e3)
    ax.set_ylim(len(rows) - 0.5, -0.5)
    step = max(1, math.ceil(len(rows) / max_labels))
    ax.set_yticks(range(0, len(rows), step))
    ax.set_yticklabels([rows[k] for k in range(0, len(rows), step)], fontsize=6)
    ax.set_xlabel("time (us)")
    ax.set_title(f"{program.model} on {program.target} ({program.mode}): {len(program.instructions)} instructions "
                 f"on {len(rows)} resources, makespan {program.makespan_ns / 1e3:.1f} us", fontsize=9)
    ax.legend(loc="lower right", fontsize=7)
    return fig


def capacity(target: Target, space: str) -> float:
    """Bytes the target gives a memory space (inf for DRAM)."""
    if re.fullmatch(r"core\d+\.local", space):
        return float(target.core.local_buffer_bytes)
    if space == "global":
        return float(target.chip.global_buffer_bytes)
    return math.inf


def memory_figure(program: Program, target: Target, spaces: int = 4) -> Figure:
    """Bytes live over one inference: the total against the max-live bound (metric
    ``memory_bound_bytes``) and the reserved peak; below, the ``spaces`` busiest spaces against
    their capacity (the target's buffer sizes)."""
    steps = live_bytes(program)
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(10, 6), sharex=True)
    times = sorted({t for s in steps.values() for t, _ in s} | {0, program.makespan_ns})
    total = np.zeros(len(times))
    for s in steps.values():
        ts = np.array([t for t, _ in s])
        vs = np.array([v for _, v in s], dtype=float)
        total += vs[np.searchsorted(ts, times, side="right") - 1]
    x = np.array(times) / 1e3
    top.step(x, total / _MIB, where="post", color="tab:blue", label="bytes live, all spaces")
    bound = program.metric("memory_bound_bytes", math.nan)
    top.axhline(bound / _MIB, color="tab:red", ls="--", label="sum of max-live per space (bound)")
    top.axhline(program.metric("memory_peak_bytes", math.nan) / _MIB, color="tab:green", ls=":",
                label="reserved (memory peak)")
    top.set_ylabel("MiB")
    top.legend(fontsize=7, loc="upper right")
    top.set_title(f"{program.model} on {program.target}: memory over one inference", fontsize=9)
    busiest = sorted(steps, key=lambda s: -max(v for _, v in steps[s]))[:spaces]
    for k, space in enumerate(busiest):
        colour = f"C{k}"
        xs = [t / 1e3 for t, _ in steps[space]] + [program.makespan_ns / 1e3]
        vs = [v / _MIB for _, v in steps[space]]
        bottom.step(xs, vs + vs[-1:], where="post", color=colour, label=space)
        cap = capacity(target, space)
        if math.isfinite(cap):
            bottom.axhline(cap / _MIB, color=colour, ls="--", lw=0.8, label=f"{space} capacity")
    bottom.set_xlim(0, program.makespan_ns / 1e3)
    bottom.set_xlabel("time (us)")
    bottom.set_ylabel("MiB")
    bottom.legend(fontsize=7, loc="upper right", ncol=2)
    return fig


def crossbar_map(program: Program, target: Target, segment: int = 0) -> tuple[np.ndarray, list[str]]:
    """(grid, ops): ``grid[core, crossbar]`` = 1 + index into ``ops`` of the op whose tile the
    crossbar holds in ``segment`` (0 when empty), from the programming map (segment 0) or the
    segment's write instructions."""
    tiles = program.programming if segment == 0 else \
        tuple(i.tile for i in program.instructions if i.kind == "write" and i.tile and i.tile.segment == segment)
    ops = sorted({t.op for t in tiles})
    grid = np.zeros((target.cores, target.core.crossbars), dtype=int)
    for t in tiles:
        grid[t.core, t.crossbar] = 1 + ops.index(t.op)
    return grid, ops


def crossbars_figure(program: Program, target: Target, segment: int = 0) -> Figure:
    """A block per core (laid out as the mesh), a cell per crossbar coloured by the op whose
    tile it holds, shaded by replica (replica mod 3: full, darker, darkest); light grey = empty."""
    grid, ops = crossbar_map(program, target, segment)
    tiles = program.programming if segment == 0 else \
        tuple(i.tile for i in program.instructions if i.kind == "write" and i.tile and i.tile.segment == segment)
    replica = np.zeros(grid.shape, dtype=int)
    for t in tiles:
        replica[t.core, t.crossbar] = t.replica
    n = target.core.crossbars
    cw = math.ceil(math.sqrt(n))
    ch = math.ceil(n / cw)
    mr, mc = target.chip.mesh_rows, target.chip.mesh_cols
    img = np.ones((mr * (ch + 1), mc * (cw + 1), 3))
    cmap = matplotlib.colormaps["tab20"]
    for core in range(target.cores):
        r0, c0 = (core // mc) * (ch + 1), (core % mc) * (cw + 1)
        for x in range(n):
            cell = img[r0 + x // cw, c0 + x % cw]
            if grid[core, x]:
                shade = _SHADES[replica[core, x] % len(_SHADES)]
                cell[:] = np.array(cmap((grid[core, x] - 1) % 20)[:3]) * shade
            else:
                cell[:] = 0.93
    fig, ax = plt.subplots(figsize=(10, max(3.0, 10 * img.shape[0] / img.shape[1])))
    ax.imshow(img, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    used = int((grid > 0).sum())
    ax.set_title(f"{program.model} on {program.target}, segment {segment}: {used} of {grid.size} crossbars hold "
                 f"tiles of {len(ops)} ops (colour = op, shade = replica mod 3)", fontsize=9)
    handles = [matplotlib.patches.Patch(color=cmap(k % 20), label=op) for k, op in enumerate(ops[:20])]
    if handles:
        ax.legend(handles=handles, fontsize=6, loc="upper left", bbox_to_anchor=(1.01, 1.0),
                  title=f"ops ({len(ops)})" if len(ops) <= 20 else f"first 20 of {len(ops)} ops")
    return fig


def target_for(program: Program, ref: str | None) -> Target:
    """The target a program was compiled for (``ref`` or the one it records), checked by hash."""
    from cimopt.ir.errors import ProgramError
    from cimopt.targets.load import load_target

    name = ref or dict(program.extra).get("target_ref") or program.target
    target = load_target(name)
    if target.digest() != program.target_hash:
        raise ProgramError(f"the program was compiled for target {program.target} ({program.target_hash}), but "
                           f"{name} is {target.digest()}; pass the same target with --target")
    return target

