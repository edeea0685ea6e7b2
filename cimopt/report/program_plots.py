"""Pictures of a program with matplotlib (Agg backend): Gantt chart, memory over time, crossbar map.

Each ``*_figure`` function returns the matplotlib Figure (its axes hold the plotted data, so a
caller can read limits and artists); `save` writes it as PNG or SVG by the file's extension.
Each axis takes one unit for all its data, chosen by `cimopt.ir.units` (ns/us/ms/s, B/KiB/MiB).
A compact program is drawn as its flat form (`ir.program_expand.expand`): a bar per repetition.
"""
from __future__ import annotations

import colorsys
import math
import os
import re
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402 - the backend is chosen before pyplot loads
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from cimopt.ir import units  # noqa: E402
from cimopt.ir.errors import UsageError  # noqa: E402
from cimopt.ir.program import Program, TileWrite  # noqa: E402
from cimopt.ir.program_expand import expand  # noqa: E402
from cimopt.targets.spec import Target  # noqa: E402

from cimopt.report.trace import live_bytes  # noqa: E402

FORMATS = (".png", ".svg")
#: colour of each instruction kind in the Gantt chart
KIND_COLOURS = {"mvm": "tab:blue", "vector": "tab:green", "host": "tab:red", "transfer": "tab:orange",
                "write": "tab:purple", "operand_write": "tab:pink", "barrier": "black"}
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
        ins_unit = unit_of[r]
        m = re.fullmatch(r"core(\d+)", ins_unit)
        core = int(m.group(1)) if m else (10**6 if ins_unit == "noc" else 10**6 + 1)
        kind = 2 if r.startswith("xbar") else 1 if r.endswith(".vector") else 0
        return core, kind, r
    unit_of: dict[str, str] = {}
    for i in program.instructions:
        unit_of.setdefault(i.resource or f"{i.kind}s", i.unit)
    return sorted(unit_of, key=order)


def gantt_figure(program: Program, max_labels: int = 40) -> Figure:
    """A row per unary resource, a bar per instruction coloured by kind; x from 0 to the makespan
    (in the unit `units.time_scale` picks for it); a compact instruction as its repetitions."""
    program = expand(program)
    tf, tu = units.time_scale(program.makespan_ns)
    rows = _resource_rows(program)
    index = {r: k for k, r in enumerate(rows)}
    bars: dict[tuple[str, int], list[tuple[float, float]]] = defaultdict(list)
    for i in program.instructions:
        bars[(i.kind, index[i.resource or f"{i.kind}s"])].append((i.start_ns / tf, (i.end_ns - i.start_ns) / tf))
    height = min(12.0, 2.0 + 0.12 * len(rows))
    fig, ax = plt.subplots(figsize=(10, height))
    seen = set()
    for (kind, row), spans in sorted(bars.items()):
        ax.broken_barh(spans, (row - 0.4, 0.8), facecolors=KIND_COLOURS.get(kind, "grey"),
                       label=None if kind in seen else kind)
        seen.add(kind)
    ax.set_xlim(0, program.makespan_ns / tf)
    ax.set_ylim(len(rows) - 0.5, -0.5)
    step = max(1, math.ceil(len(rows) / max_labels))
    ax.set_yticks(range(0, len(rows), step))
    ax.set_yticklabels([rows[k] for k in range(0, len(rows), step)], fontsize=6)
    ax.set_xlabel(f"time ({tu})")
    ax.set_title(f"{program.model} on {program.target} ({program.mode}): {len(program.instructions)} instructions "
                 f"on {len(rows)} resources, makespan {units.time(program.makespan_ns)}", fontsize=9)
    ax.legend(loc="lower right", fontsize=7)
    return fig


def capacity(target: Target, space: str) -> float:
    """Bytes the target gives a memory space (inf for DRAM)."""
    if re.fullmatch(r"core\d+\.local", space):
        return float(target.core.local_buffer_bytes)
    if space == "global":
        return float(target.chip.global_buffer_bytes)
    return math.inf


def span_title(program: Program) -> str:
    """What the program's time axis spans, by mode: one inference (latency), one batch, or one
    iteration of a throughput schedule whose iterations overlap."""
    batch = int(program.metric("batch", 1) or 1)
    what = f"one batch of {batch} inferences" if batch > 1 else "one inference"
    if program.mode == "throughput":
        overlap = (f"; {program.iterations_in_flight} iterations overlap in the steady state"
                   if program.iterations_in_flight > 1 else "")
        return (f"one iteration ({what}) of the throughput schedule, initiation interval "
                f"{units.time(program.initiation_interval_ns)}{overlap}")
    return what


def memory_figure(program: Program, target: Target, spaces: int = 4) -> Figure:
    """Bytes live over the program's span (`span_title`): the total against the max-live bound
    (metric ``memory_bound_bytes``) and the reserved peak, on one size unit for all three; below,
    the ``spaces`` fullest spaces with a capacity, each in % of its own capacity (the target's
    buffer sizes: a 64 KiB local buffer and a 4 MiB global one on one scale)."""
    steps = live_bytes(program)
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(10, 6), sharex=True)
    tf, tu = units.time_scale(program.makespan_ns)
    times = sorted({t for s in steps.values() for t, _ in s} | {0, program.makespan_ns})
    total = np.zeros(len(times))
    for s in steps.values():
        ts = np.array([t for t, _ in s])
        vs = np.array([v for _, v in s], dtype=float)
        total += vs[np.searchsorted(ts, times, side="right") - 1]
    x = np.array(times) / tf
    bound = program.metric("memory_bound_bytes", math.nan)
    peak = program.metric("memory_peak_bytes", math.nan)
    bf, bu = units.bytes_scale(np.nanmax([total.max(initial=0.0), bound, peak]))
    top.step(x, total / bf, where="post", color="tab:blue", label="bytes live, all spaces")
    top.axhline(bound / bf, color="tab:red", ls="--", label="sum of max-live per space (bound)")
    top.axhline(peak / bf, color="tab:green", ls=":", label="reserved (memory peak)")
    top.set_ylabel(bu)
    top.legend(fontsize=7, loc="upper right")
    top.set_title(f"{program.model} on {program.target}, {program.mode} mode: memory over {span_title(program)}",
                  fontsize=9)
    bounded = [sp for sp in steps if math.isfinite(capacity(target, sp)) and capacity(target, sp) > 0]
    fill = {sp: max(v for _, v in steps[sp]) / capacity(target, sp) for sp in bounded}
    busiest = sorted(bounded, key=lambda sp: -fill[sp])[:spaces]
    for k, space in enumerate(busiest):
        cap = capacity(target, space)
        xs = [t / tf for t, _ in steps[space]] + [program.makespan_ns / tf]
        vs = [100 * v / cap for _, v in steps[space]]
        bottom.step(xs, vs + vs[-1:], where="post", color=f"C{k}",
                    label=f"{space} (capacity {units.nbytes(cap)}, peak {units.nbytes(fill[space] * cap)})")
    bottom.axhline(100, color="black", ls="--", lw=0.8, label="capacity")
    bottom.set_ylim(0, 105)
    unbounded = sorted(sp for sp in steps if sp not in bounded)
    bottom.set_title(f"the {len(busiest)} fullest memory space{'' if len(busiest) == 1 else 's'} with a capacity, "
                     "each against its own"
                     + (f" ({', '.join(unbounded)}: no capacity limit, not drawn)" if unbounded else ""),
                     fontsize=8, loc="left")
    bottom.set_xlim(0, program.makespan_ns / tf)
    bottom.set_xlabel(f"time ({tu})")
    bottom.set_ylabel("% of capacity")
    bottom.legend(fontsize=7, loc="upper right", ncol=2)
    return fig


def op_order(program: Program) -> dict[str, int]:
    """Rank of each op in graph order: by its depth in the instructions' dependency graph (the
    longest chain of dependencies before its first instruction), then its first start, then name."""
    program = expand(program)
    depth: dict[int, int] = {}
    first: dict[str, tuple[int, int, str]] = {}
    for i in sorted(program.instructions, key=lambda i: (i.start_ns, i.id)):
        d = 1 + max((depth.get(x, 0) for x in i.deps), default=0)
        depth[i.id] = d
        if i.op and (i.op not in first or (d, i.start_ns) < first[i.op][:2]):
            first[i.op] = (d, i.start_ns, i.op)
    for t in program.programming:  # ops with tiles but no instruction (none today) go last
        first.setdefault(t.op, (1 << 60, 0, t.op))
    return {op: k for k, (_, _, op) in enumerate(sorted(first.values()))}


def _tiles(program: Program, segment: int) -> tuple[TileWrite, ...]:
    """The tiles the crossbars hold in ``segment``: the programming map (segment 0) or the segment's writes."""
    if segment == 0:
        return program.programming
    return tuple(i.tile for i in expand(program).instructions if i.kind == "write" and i.tile and i.tile.segment == segment)


def crossbar_map(program: Program, target: Target, segment: int = 0) -> tuple[np.ndarray, list[str]]:
    """(grid, ops): ``grid[core, crossbar]`` = 1 + index into ``ops`` of the op whose tile the
    crossbar holds in ``segment`` (0 when empty), from the programming map (segment 0) or the
    segment's write instructions; ``ops`` in graph order (`op_order`)."""
    tiles = _tiles(program, segment)
    rank = op_order(program)
    ops = sorted({t.op for t in tiles}, key=lambda op: (rank.get(op, len(rank)), op))
    index = {op: k for k, op in enumerate(ops)}
    grid = np.zeros((target.cores, target.core.crossbars), dtype=int)
    for t in tiles:
        grid[t.core, t.crossbar] = 1 + index[t.op]
    return grid, ops


def core_shape(n: int) -> tuple[int, int]:
    """(rows, cols) of the cell grid that draws a core's ``n`` crossbars: the factor pair of
    ``n`` closest to square (96 -> 8 x 12), so every cell is a real crossbar; only when ``n`` has
    no pair within 1:4 (a prime such as 13), ceil(sqrt) columns and a short last row."""
    best = max((r for r in range(1, math.isqrt(n) + 1) if n % r == 0), default=1)
    if n // best <= 4 * best:
        return best, n // best
    cw = math.ceil(math.sqrt(n))
    return math.ceil(n / cw), cw


def op_colours(n: int) -> list[tuple[float, float, float]]:
    """``n`` distinct colours: the 54 coloured ones of tab20, tab20b and tab20c (their greys are
    left out: grey means an empty crossbar), then evenly spaced hues at three lightness levels
    (every op its own colour)."""
    base = [c for m in ("tab20", "tab20b", "tab20c") for k in range(20)
            for c in [matplotlib.colormaps[m](k)[:3]] if colorsys.rgb_to_hls(*c)[2] > 0.15]
    if n <= len(base):
        return base[:n]
    return [colorsys.hls_to_rgb(k / n, (0.35, 0.55, 0.75)[k % 3], 0.8) for k in range(n)]


def crossbars_figure(program: Program, target: Target, segment: int = 0) -> Figure:
    """A block per core (laid out as the mesh), a cell per crossbar (`core_shape`: only real
    crossbars are drawn) coloured by the op whose tile it holds (`op_colours`, legend in graph
    order), shaded by replica (replica mod 3: full, darker, darkest); light grey = an empty
    crossbar, white = no crossbar."""
    grid, ops = crossbar_map(program, target, segment)
    replica = np.zeros(grid.shape, dtype=int)
    for t in _tiles(program, segment):
        replica[t.core, t.crossbar] = t.replica
    n = target.core.crossbars
    ch, cw = core_shape(n)
    mr, mc = target.chip.mesh_rows, target.chip.mesh_cols
    img = np.ones((mr * (ch + 1), mc * (cw + 1), 3))
    colours = [np.array(c) for c in op_colours(len(ops))]
    for core in range(target.cores):
        r0, c0 = (core // mc) * (ch + 1), (core % mc) * (cw + 1)
        for x in range(n):
            cell = img[r0 + x // cw, c0 + x % cw]
            if grid[core, x]:
                cell[:] = colours[grid[core, x] - 1] * _SHADES[replica[core, x] % len(_SHADES)]
            else:
                cell[:] = 0.86
    fig, ax = plt.subplots(figsize=(10, max(3.0, 10 * img.shape[0] / img.shape[1])))
    ax.imshow(img, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    used = int((grid > 0).sum())
    ax.set_title(f"{program.model} on {program.target}, segment {segment}: {used} of {grid.size} crossbars hold "
                 f"tiles of {len(ops)} ops ({target.cores} cores of {ch} x {cw} crossbars; colour = op, "
                 f"shade = replica mod 3, grey = empty)", fontsize=8)
    handles = [matplotlib.patches.Patch(color=tuple(colours[k]), label=op) for k, op in enumerate(ops)]
    if handles:
        ax.legend(handles=handles, fontsize=5 if len(ops) > 40 else 6, loc="upper left", bbox_to_anchor=(1.01, 1.0),
                  ncol=max(1, math.ceil(len(ops) / 45)), title=f"ops in graph order ({len(ops)})")
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



def _router_positions(target: Target, routers: int) -> dict[int, tuple[float, float]]:
    """Where each router is drawn: its (column, -row) on a mesh or torus, a circle otherwise."""
    if target.noc_spec.topology in ("mesh", "torus"):
        return {r: (float(r % target.chip.mesh_cols), -float(r // target.chip.mesh_cols)) for r in range(routers)}
    return {r: (math.cos(2 * math.pi * r / max(1, routers)), math.sin(2 * math.pi * r / max(1, routers)))
            for r in range(routers)}


def links_figure(program: Program, target: Target) -> Figure:
    """A heat map of the network's links: every directed link a line from its router towards the
    next (the two directions side by side), coloured by its load over one run of the program
    (bytes over bandwidth, in the unit the largest load takes); routers as dots, the busiest
    link named in the title."""
    from matplotlib.collections import LineCollection

    from cimopt.targets.machine.checks.links import link_loads_ns
    from cimopt.targets.noc import noc_graph

    g = noc_graph(target)
    pos = _router_positions(target, g.number_of_nodes())
    loads = link_loads_ns(program.instructions, target)
    top = max(loads.values(), default=0.0)
    scale, unit = units.time_scale(top) if top > 0 else (1.0, "ns")
    segments, values = [], []
    for u, v in sorted(g.edges):
        (x0, y0), (x1, y1) = pos[u], pos[v]
        dx, dy = x1 - x0, y1 - y0
        norm = math.hypot(dx, dy) or 1.0
        ox, oy = -dy / norm * 0.08, dx / norm * 0.08   # each direction on its own side
        segments.append([(x0 + ox + dx * 0.12, y0 + oy + dy * 0.12), (x1 + ox - dx * 0.12, y1 + oy - dy * 0.12)])
        values.append(loads.get((u, v), 0.0) / scale)
    fig, ax = plt.subplots(figsize=(max(5.0, 0.5 * target.chip.mesh_cols + 2), max(4.0, 0.5 * target.chip.mesh_rows + 1.5)))
    lines = LineCollection(segments, cmap="inferno_r", linewidths=2.5)
    lines.set_array(np.asarray(values, dtype=float))
    lines.set_clim(0.0, max(values, default=0.0) or 1.0)
    ax.add_collection(lines)
    xs, ys = zip(*pos.values()) if pos else ((0.0,), (0.0,))
    ax.scatter(xs, ys, s=12, color="tab:gray", zorder=3)
    ax.set_xlim(min(xs) - 0.5, max(xs) + 0.5)
    ax.set_ylim(min(ys) - 0.5, max(ys) + 0.5)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    fig.colorbar(lines, ax=ax, label=f"link load per run ({unit})")
    busiest = max(loads, key=lambda ln: loads[ln]) if loads else None
    title = f"{program.model} on {program.target}: NoC link load"
    if busiest is not None:
        title += f"\nbusiest link {busiest[0]}->{busiest[1]}: {top / scale:.3g} {unit}"
    ax.set_title(title)
    return fig
