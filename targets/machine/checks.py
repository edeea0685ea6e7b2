"""Static checks of the reference machine: fields, resources, crossbars, buffers, capacity.

Each problem found is a `Violation` collected in a `Report` (at most `MAX_PER_KIND` messages a
kind); `targets.machine.executor` adds the checks that need execution (durations, dependencies, data).
Times in ns, sizes in bytes.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from cimopt.ir.chunks import FLAT, WHOLE
from cimopt.ir.graph import Graph, TensorSpec
from cimopt.ir.program import Access, BufferPlan, Program
from cimopt.targets.spec import Target

MAX_PER_KIND = 50
#: Slack a memory space may reserve beyond the end of its last buffer, in bytes.
SPACE_SLACK_BYTES = 1 << 20


@dataclass(frozen=True)
class Violation:
    #: dependency | missing-dependency | resource | crossbar | memory-overlap | capacity | duration | schema | data
    kind: str
    message: str


class Report:
    """Violations, at most `MAX_PER_KIND` messages per kind."""

    def __init__(self) -> None:
        self.items: list[Violation] = []
        self.counts: dict[str, int] = defaultdict(int)

    def add(self, kind: str, message: str) -> None:
        self.counts[kind] += 1
        if self.counts[kind] <= MAX_PER_KIND:
            self.items.append(Violation(kind, message))

    def result(self) -> tuple[Violation, ...]:
        extra = [Violation(k, f"... and {n - MAX_PER_KIND} more {k} violations") for k, n in self.counts.items()
                 if n > MAX_PER_KIND]
        return tuple(self.items + extra)


def grid_mask(shape: tuple[int, ...], acc: Access) -> np.ndarray:
    """Boolean mask over the tensor's leading dims (all but the last) of the rows ``acc`` touches."""
    grid = shape[:-1] if len(shape) >= 2 else shape
    m = np.zeros(grid, dtype=bool)
    if acc.axis == WHOLE or not grid or (acc.axis == FLAT and len(shape) < 2) or acc.axis >= len(grid) \
            or acc.axis < FLAT:
        m[...] = True
    elif acc.axis == FLAT:
        m.reshape(-1)[acc.row0:acc.row1] = True
    else:
        m[(slice(None),) * acc.axis + (slice(acc.row0, acc.row1),)] = True
    return m


def space_reach(p: Program, graph: Graph) -> dict[str, int]:
    """Bytes of each memory space that the program's buffers and accesses reach (offset + size)."""
    reach: dict[str, int] = defaultdict(int)
    for b in p.buffers:
        reach[b.space] = max(reach[b.space], b.offset + b.size_bytes)
        if b.tensor in graph.inputs:
            reach[b.space] = max(reach[b.space], b.offset + graph.spec(b.tensor).nbytes)
    for ins in p.instructions:
        for a in (*ins.reads, *ins.writes):
            spec = graph.tensors.get(a.tensor)
            if spec is not None and spec.known:
                reach[a.space] = max(reach[a.space], a.offset + spec.nbytes)
    return dict(reach)


def row_range_error(spec: TensorSpec | None, acc: Access) -> str | None:
    """What is wrong when ``acc`` names rows past the end of its axis of the tensor (else None)."""
    shape = spec.shape if spec is not None and spec.shape is not None else ()
    if acc.axis == WHOLE or len(shape) < 2 or acc.axis >= len(shape) - 1:   # only rows of the mask's grid
        return None
    dim = int(np.prod(shape[:-1], dtype=np.int64)) if acc.axis == FLAT else shape[acc.axis]
    if acc.row1 <= dim:
        return None
    return f"accesses rows {acc.row0}:{acc.row1} of {acc.tensor!r} on axis {acc.axis}, which has {dim}"


def unwritten_outputs(graph: Graph, written: Mapping[tuple[str, str, int], np.ndarray]) -> list[str]:
    """Graph outputs computed by the program that no (tensor, space, offset) has fully written
    (``written``: the row masks written so far)."""
    done = {k[0] for k, m in written.items() if m.all()}
    return [t for t in graph.outputs if t not in graph.inputs and t not in graph.constants
            and graph.spec(t).known and t not in done]


def _capacity(target: Target, space: str) -> int | None:
    """Bytes a memory space may hold on the target (None: unlimited, -1: unknown space)."""
    if space == "dram":
        return None
    if space == "global":
        return target.chip.global_buffer_bytes
    if space.startswith("core") and space.endswith(".local") and space[4:-6].isdigit():
        return target.core.local_buffer_bytes if int(space[4:-6]) < target.cores else -1
    return -1


def _overlaps(items: list[tuple[int, int, str]]) -> list[tuple[str, str]]:
    """Pairs (earlier, later) of labelled half-open intervals that overlap (one per conflicting interval)."""
    out: list[tuple[str, str]] = []
    best: tuple[int, str] | None = None
    for s, e, label in sorted(i for i in items if i[1] > i[0]):
        if best is not None and s < best[0]:
            out.append((best[1], label))
        if best is None or e > best[0]:
            best = (e, label)
    return out


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
            if a.offset < 0 or a.axis < FLAT or a.row1 < a.row0 or a.row0 < 0 or (a.axis != WHOLE and a.row1 == a.row0):
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
        for end in (i.src_core, i.dst_core):
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


def _busy_over_ii(p: Program, ii: int, rep: Report) -> bool:
    """Report each unary resource or crossbar busy longer than II per inference (an overlap in
    any stream started II apart); True when one is."""
    busy: dict[str, int] = defaultdict(int)
    for ins in p.instructions:
        d = max(0, ins.end_ns - ins.start_ns)
        if ins.resource:
            busy[f"resource {ins.resource}"] += d
        xbars = set(ins.crossbars)
        if ins.kind == "write" and ins.tile is not None:
            xbars.add((ins.tile.core, ins.tile.crossbar))
        for cx in xbars:
            busy[f"crossbar {cx}"] += d
    found = False
    for unit, b in sorted(busy.items()):
        if b > ii:
            rep.add("resource", f"{unit} is busy {b} ns per inference, longer than the initiation interval "
                                f"{ii} ns: inferences started II apart overlap on it")
            found = True
    return found


def check_static(p: Program, t: Target, rep: Report, iterations: int) -> None:
    """Schema, target indices, capacity, and resource / crossbar / buffer overlaps (over replayed
    inferences; in throughput mode first each unit's busy time against II, then each unit's
    intervals folded modulo II and each buffer's modulo II x iterations in flight)."""
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
    ii, reps, fold = 0, 1, False
    if p.mode == "throughput":
        ii = p.initiation_interval_ns
        if ii <= 0:
            rep.add("schema", f"throughput program with initiation interval {ii} ns")
            ii = 0
        elif _busy_over_ii(p, ii, rep):
            reps = iterations
        else:
            # one inference's units folded modulo II, its buffers modulo II x iterations in flight
            fold = True
    units = _unit_items(p, ii, 2, True) if fold else _unit_items(p, ii, reps, False)
    for (kind, unit), items in sorted(units.items()):
        for a, b in _overlaps(items):
            rep.add(kind, f"instructions {a} and {b} overlap in time on {kind} {unit}")
    check_buffers(p, rep, reps, ii, fold)


def _unit_items(p: Program, ii: int, reps: int, fold: bool) -> dict[tuple[str, str], list[tuple[int, int, str]]]:
    """Per (kind, unit): the labelled busy intervals of ``reps`` inferences started ``ii`` ns apart.

    ``fold``: each instruction's interval is first moved by whole IIs to start in [0, II) (its
    copy in another inference), so two periods hold every pair of copies that can meet when
    every interval is at most II long (`_busy_over_ii` holds): an exact check of the endless
    stream at the cost of two inferences.  Labels name the inference, counted from the
    earliest copy shown.
    """
    units: dict[tuple[str, str], list[tuple[int, int, str]]] = defaultdict(list)
    shift = max((i.start_ns // ii for i in p.instructions), default=0) if fold and ii > 0 else 0
    for ins in p.instructions:
        q = ins.start_ns // ii if fold and ii > 0 else 0
        xbars = set(ins.crossbars)
        if ins.kind == "write" and ins.tile is not None:
            xbars.add((ins.tile.core, ins.tile.crossbar))
        for k in range(reps):
            s, e = ins.start_ns + (k - q) * ii, ins.end_ns + (k - q) * ii
            label = f"{ins.id}" + (f" (inference {k - q + shift})" if reps > 1 else "")
            if ins.resource:
                units[("resource", ins.resource)].append((s, e, label))
            for cx in xbars:
                units[("crossbar", str(cx))].append((s, e, label))
    return units


def _buffer_items(p: Program, reps: int, ii: int, fold: bool) -> dict[str, list[tuple[int, int, int, int, str]]]:
    """Per space: (start ns, end ns, first byte, end byte, label) of every live buffer copy.

    A buffer of iteration ``i`` serves inferences ``k`` with ``k % iterations_in_flight == i``
    (every inference when its tensor has iteration 0 only), at its times plus ``k * ii``.  Not
    ``fold``: the copies of inferences ``0 .. reps - 1``.  ``fold``: the pattern repeats every
    ``P = ii * iterations_in_flight`` ns, so each copy of one period is moved by whole periods to
    start in [0, P) and shown with its copy a period later: two periods hold every pair that can
    meet (a copy longer than P meets its own next copy, a real overlap).
    """
    flight = max(1, p.iterations_in_flight)
    period = ii * flight
    plans: dict[str, list[BufferPlan]] = defaultdict(list)
    for b in p.buffers:
        plans[b.tensor].append(b)
    copies: list[tuple[BufferPlan, int]] = []     # (buffer, inference)
    for bs in plans.values():
        shared = {b.iteration for b in bs} == {0}
        for b in bs:
            if b.size_bytes <= 0:
                continue
            ks = range(flight if fold else reps) if shared else (
                [b.iteration] if fold else [k for k in range(reps) if b.iteration == k % flight])
            copies.extend((b, k) for k in ks)
    live: dict[str, list[tuple[int, int, int, int, str]]] = defaultdict(list)
    if not fold:
        for b, k in copies:
            label = f"{b.tensor!r} (iteration {b.iteration}" + (f", inference {k})" if reps > 1 else ")")
            live[b.space].append((b.start_ns + k * ii, b.end_ns + k * ii, b.offset, b.offset + b.size_bytes, label))
        return live
    shift = max(((b.start_ns + k * ii) // period for b, k in copies), default=0)
    for b, k in copies:
        q = (b.start_ns + k * ii) // period
        for n in (0, 1):
            s = b.start_ns + k * ii + (n - q) * period
            label = f"{b.tensor!r} (iteration {b.iteration}, inference {k + (n - q + shift) * flight})"
            live[b.space].append((s, s + b.end_ns - b.start_ns, b.offset, b.offset + b.size_bytes, label))
    return live


def check_buffers(p: Program, rep: Report, reps: int, ii: int, fold: bool = False) -> None:
    """Two buffers of one space live at once (inferences II apart) whose byte ranges overlap
    (`_buffer_items`: ``reps`` inferences, or one folded period when ``fold``)."""
    live = _buffer_items(p, reps, ii, fold)
    for space, items in live.items():
        active: list[tuple[int, int, int, int, str]] = []
        for s, e, lo, hi, label in sorted(items):
            active = [a for a in active if a[1] > s]
            for a in active:
                if a[2] < hi and lo < a[3]:
                    rep.add("memory-overlap", f"{space}: buffer {a[4]} [{a[2]}, {a[3]}) B live {a[0]}-{a[1]} ns "
                                              f"overlaps {label} [{lo}, {hi}) B live {s}-{e} ns")
            if e > s:
                active.append((s, e, lo, hi, label))


def check_order(p: Program, rep: Report) -> None:
    """Every instruction ends after it starts; every dependency exists and ends before its
    instruction starts."""
    end = {i.id: i.end_ns for i in p.instructions}
    for ins in p.instructions:
        if ins.end_ns < ins.start_ns:
            rep.add("schema", f"instruction {ins.id} ends at {ins.end_ns} ns, before it starts ({ins.start_ns} ns)")
        for d in ins.deps:
            if d not in end:
                rep.add("dependency", f"instruction {ins.id} depends on unknown instruction {d}")
            elif end[d] > ins.start_ns:
                rep.add("dependency", f"instruction {ins.id} starts at {ins.start_ns} ns, before its dependency {d} "
                                      f"ends ({end[d]} ns)")


def validate_without_model(p: Program, t: Target, iterations: int = 3) -> list[Violation]:
    """The checks that need only the program and its target: fields, dependency order, unary
    resources, crossbars, buffer overlaps and capacity (durations and data flow need the model)."""
    rep = Report()
    check_static(p, t, rep, iterations)
    check_order(p, rep)
    return list(rep.result())

