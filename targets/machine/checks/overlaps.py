"""The checks of a program's use of unary resources, NoC links, crossbars and buffers over time: no two
instructions on one resource, link or crossbar at once, no two live buffers of one space sharing bytes,
over the inferences a stream overlaps (throughput mode: inferences started II apart).  Times in ns,
sizes in bytes."""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping

from cimopt.ir.program import BufferPlan, Program
from cimopt.targets.machine.checks.violations import Report


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


def _busy_over_ii(p: Program, ii: int, rep: Report, links: Mapping[int, tuple[str, ...]] = {}) -> bool:
    """Report each unary resource, NoC link (``links``: per instruction id, the links it holds) or
    crossbar busy longer than II per inference (an overlap in any stream started II apart); True
    when one is."""
    busy: dict[str, int] = defaultdict(int)
    for ins in p.instructions:
        d = max(0, ins.end_ns - ins.start_ns)
        if ins.resource:
            busy[f"resource {ins.resource}"] += d
        for ln in links.get(ins.id, ()):
            busy[f"link {ln}"] += d
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


def check_overlaps(p: Program, rep: Report, iterations: int, links: Mapping[int, tuple[str, ...]] = {}) -> None:
    """Resource / NoC link / crossbar / buffer overlaps over replayed inferences; in throughput
    mode first each unit's busy time against II, then each unit's intervals folded modulo II and
    each buffer's modulo II x iterations in flight (``iterations``: inferences replayed when a
    unit is busy longer than II; ``links``: per instruction id, the links it holds,
    `checks.links.held_links`)."""
    ii, reps, fold = 0, 1, False
    if p.mode == "throughput":
        ii = p.initiation_interval_ns
        if ii <= 0:
            rep.add("schema", f"throughput program with initiation interval {ii} ns")
            ii = 0
        elif _busy_over_ii(p, ii, rep, links):
            reps = iterations
        else:
            # one inference's units folded modulo II, its buffers modulo II x iterations in flight
            fold = True
    units = _unit_items(p, ii, 2, True, links) if fold else _unit_items(p, ii, reps, False, links)
    for (kind, unit), items in sorted(units.items()):
        for a, b in _overlaps(items):
            rep.add(kind, f"instructions {a} and {b} overlap in time on {kind} {unit}")
    check_buffers(p, rep, reps, ii, fold)


def _unit_items(p: Program, ii: int, reps: int, fold: bool,
                links: Mapping[int, tuple[str, ...]] = {}) -> dict[tuple[str, str], list[tuple[int, int, str]]]:
    """Per (kind, unit): the labelled busy intervals of ``reps`` inferences started ``ii`` ns apart
    (kinds ``resource``, ``link``: ``links`` per instruction id, and ``crossbar``).

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
            for ln in links.get(ins.id, ()):
                units[("link", ln)].append((s, e, label))
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


