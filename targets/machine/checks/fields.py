"""The checks of a program's fields against its target: the value rules of the program schema,
every core, crossbar and tile extent inside the target, the makespan, the target hash, unique
instruction ids, and every memory space and buffer within its capacity.  Sizes in bytes, times in ns."""
from __future__ import annotations

from collections import defaultdict

from cimopt.ir.chunks import FLAT, VEC, WHOLE
from cimopt.ir.program import Program
from cimopt.targets.machine.checks.violations import Report
from cimopt.targets.spec import Target

#: Slack a memory space may reserve beyond the end of its last buffer, in bytes.
SPACE_SLACK_BYTES = 1 << 20


def _capacity(target: Target, space: str) -> int | None:
    """Bytes a memory space may hold on the target (None: unlimited, -1: unknown space)."""
    if space == "dram":
        return None
    if space == "global":
        return target.chip.global_buffer_bytes
    if space.startswith("core") and space.endswith(".local") and space[4:-6].isdigit():
        return target.core.local_buffer_bytes if int(space[4:-6]) < target.cores else -1
    return -1


KINDS = frozenset({"write", "operand_write", "mvm", "vector", "host", "transfer", "barrier"})


def _check_fields(p: Program, rep: Report) -> None:
    """The value rules of program.schema.json that typed dataclasses do not already enforce
    (`ir.program.from_json` runs the full JSON Schema on loaded files)."""
    if p.mode not in ("latency", "throughput") or p.initiation_interval_ns < 0 or p.segments < 1:
        rep.add("schema", f"mode {p.mode!r}, II {p.initiation_interval_ns} ns, {p.segments} segments")
    tiles = [*p.programming, *(i.tile for i in p.instructions if i.tile is not None),
             *(tw for i in p.instructions for tw in i.tiles)]
    for tw in tiles:
        if min(tw.core, tw.crossbar, tw.group0, tw.row0, tw.col0) < 0 or tw.ngroups < 1 or tw.row1 <= tw.row0 \
                or tw.col1 <= tw.col0:
            rep.add("schema", f"tile {tw} has an empty or negative range")
    for i in p.instructions:
        if i.kind not in KINDS or i.end_ns < i.start_ns or i.id < 0 or min(i.deps, default=0) < 0:
            rep.add("schema", f"instruction {i.id}: kind {i.kind!r}, {i.start_ns}-{i.end_ns} ns, deps {i.deps}")
        for a in (*i.reads, *i.writes):
            if a.offset < 0 or a.axis < VEC or a.row1 < a.row0 or a.row0 < 0 or (a.axis != WHOLE and a.row1 == a.row0):
                rep.add("schema", f"instruction {i.id}: bad access {a}")


def _in_range(rep: Report, what: str, core: int, crossbar: int | None, t: Target) -> None:
    if not 0 <= core < t.cores:
        rep.add("schema", f"{what}: core {core} does not exist (the target has {t.cores} cores)")
    if crossbar is not None and not 0 <= crossbar < t.core.crossbars:
        rep.add("schema", f"{what}: crossbar {crossbar} does not exist (a core has {t.core.crossbars})")


def check_indices(p: Program, t: Target, rep: Report) -> None:
    """Every core, crossbar and tile extent names something the target has; every memory space
    reserves no more than its buffers need (plus `SPACE_SLACK_BYTES`)."""
    c = t.core
    tiles = [(f"programming tile {tw.tile} of {tw.op!r}", tw) for tw in p.programming]
    tiles += [(f"instruction {i.id} (write)", i.tile) for i in p.instructions if i.tile is not None]
    tiles += [(f"instruction {i.id} (operand_write)", tw) for i in p.instructions for tw in i.tiles]
    for what, tw in tiles:
        _in_range(rep, what, tw.core, tw.crossbar, t)
        if tw.ngroups * (tw.row1 - tw.row0) > c.crossbar_rows or \
                tw.ngroups * (tw.col1 - tw.col0) * t.weight_slices > c.crossbar_cols:
            rep.add("schema", f"{what}: {tw.ngroups} group(s) of rows {tw.row0}:{tw.row1}, columns "
                              f"{tw.col0}:{tw.col1} exceed a {c.crossbar_rows}x{c.crossbar_cols} crossbar")
    for i in p.instructions:
        for core, xb in i.crossbars:
            _in_range(rep, f"instruction {i.id} ({i.kind} {i.op})", core, xb, t)
        for end in (i.src_core, i.dst_core, *i.dst_cores):
            if end != -1:
                _in_range(rep, f"instruction {i.id} ({i.kind})", end, None, t)
        if i.unit.startswith("core") and i.unit[4:].isdigit():
            _in_range(rep, f"instruction {i.id} ({i.kind}) on unit {i.unit}", int(i.unit[4:]), None, t)
    ends: dict[str, int] = defaultdict(int)
    for b in p.buffers:
        ends[b.space] = max(ends[b.space], b.offset + b.size_bytes)
    for space, size in p.spaces:
        if size > 2 * ends.get(space, 0) + SPACE_SLACK_BYTES:
            rep.add("capacity", f"memory space {space!r} reserves {size} B; its buffers end at "
                                f"{ends.get(space, 0)} B")


def check_makespan(p: Program, rep: Report) -> None:
    """The program's makespan is its last instruction's end."""
    last = max((i.end_ns for i in p.instructions), default=0)
    if p.makespan_ns != last:
        rep.add("schema", f"program makespan {p.makespan_ns} ns, but its last instruction ends at {last} ns")


def check_fields(p: Program, t: Target, rep: Report) -> None:
    """Schema values, target indices, makespan, target hash, unique ids, and the capacity of
    every memory space (on the target) and buffer (in its space)."""
    _check_fields(p, rep)
    check_indices(p, t, rep)
    check_makespan(p, rep)
    if p.target_hash and p.target_hash != t.digest():
        rep.add("schema", f"program was compiled for target hash {p.target_hash}, not {t.name!r} ({t.digest()})")
    ids = [i.id for i in p.instructions]
    if len(set(ids)) != len(ids):
        rep.add("schema", "instruction ids are not unique")
    spaces = dict(p.spaces)
    for space, size in spaces.items():
        cap = _capacity(t, space)
        if cap == -1:
            rep.add("capacity", f"memory space {space!r} does not exist on target {t.name!r}")
        elif cap is not None and size > cap:
            rep.add("capacity", f"memory space {space!r}: {size} B reserved, the target has {cap} B")
    for b in p.buffers:
        if b.offset + b.size_bytes > spaces.get(b.space, -1):
            rep.add("capacity", f"buffer of {b.tensor!r} (iteration {b.iteration}) at {b.space}+{b.offset}, "
                                f"{b.size_bytes} B, ends beyond the space ({spaces.get(b.space, 'not reserved')} B)")
