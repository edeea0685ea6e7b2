"""Compact and flat programs: `expand` turns every compact instruction (``count`` > 1, see
`ir.program`) into its repetitions; `compact` folds runs of repetitions back into one instruction.

``expand(compact(instructions))`` gives back exactly the instructions given (same ids, times,
dependencies and accesses, in id order): `compact` only folds a run whose every member equals
the repetition the run's first instruction and strides predict.  Times in ns.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import fields, replace
from operator import attrgetter

from cimopt.ir.chunks import WHOLE
from cimopt.ir.errors import ProgramError
from cimopt.ir.program import Access, Instruction, Program
from cimopt.ir.row_runs import MAX_COUNT


def compact_errors(ins: Instruction) -> list[str]:
    """What keeps ``ins`` from standing for ``ins.count`` repetitions (empty: it is well formed).

    Checked: 1 <= count <= `ir.row_runs.MAX_COUNT`, id stride >= 1, time stride >= 0, the span a multiple of the count, one
    dependency stride per dependency, every stride >= 0 and none on an access of a whole tensor
    (axis `ir.chunks.WHOLE`), start offsets (when given) one per
    repetition, from 0, non-decreasing, with no time stride, and for count 1 no strides at all (id
    stride 1, the others 0 or empty).  Two
    repetitions overlapping each other (a start step below the duration), a repetition's rows past
    its tensor or ids clashing with another instruction's are left to the program's checks on the
    flat form (`targets.machine.checks`), which report them like any other overlap or bad access.
    """
    bad: list[str] = []
    n = ins.count
    if not 1 <= n <= MAX_COUNT:
        return [f"instruction {ins.id}: count {n} (from 1 to {MAX_COUNT})"]
    if ins.id_stride < 1:
        bad.append(f"instruction {ins.id}: id stride {ins.id_stride} (at least 1)")
    if ins.time_stride_ns < 0:
        bad.append(f"instruction {ins.id}: negative time stride {ins.time_stride_ns} ns")
    if (ins.end_ns - ins.start_ns) % n:
        bad.append(f"instruction {ins.id}: span {ins.start_ns}-{ins.end_ns} ns is not {n} repetitions "
                   f"of a whole number of ns")
    if ins.dep_strides and len(ins.dep_strides) != len(ins.deps):
        bad.append(f"instruction {ins.id}: {len(ins.dep_strides)} dependency strides for {len(ins.deps)} "
                   f"dependencies")
    offs = ins.start_offsets_ns
    if offs and (len(offs) != n or offs[0] != 0 or any(b < a for a, b in zip(offs, offs[1:])) or ins.time_stride_ns):
        bad.append(f"instruction {ins.id}: start offsets must be {n} non-decreasing values from 0 (and no time "
                   f"stride), not {list(offs[:8])}{'...' if len(offs) > 8 else ''}")
    if any(s < 0 for s in ins.dep_strides):
        bad.append(f"instruction {ins.id}: negative dependency stride in {list(ins.dep_strides)}")
    for a in (*ins.reads, *ins.writes):
        if a.stride < 0:
            bad.append(f"instruction {ins.id}: negative stride {a.stride} on its access to {a.tensor!r}")
        elif a.stride and a.axis == WHOLE:
            bad.append(f"instruction {ins.id}: stride {a.stride} on its access to the whole of {a.tensor!r}")
    if n == 1 and (ins.id_stride != 1 or ins.time_stride_ns or ins.dep_strides or ins.start_offsets_ns
                   or any(a.stride for a in (*ins.reads, *ins.writes))):
        bad.append(f"instruction {ins.id}: strides on an instruction of count 1")
    return bad


def duration_ns(ins: Instruction) -> int:
    """How long one repetition of ``ins`` lasts (ns): its span over its count."""
    return (ins.end_ns - ins.start_ns) // max(1, ins.count)


def _shift(a: Access, k: int) -> Access:
    return replace(a, row0=a.row0 + k * a.stride, row1=a.row1 + k * a.stride, stride=0) if a.stride else a


def repetition(ins: Instruction, k: int) -> Instruction:
    """Repetition ``k`` (0-based) of a well-formed ``ins`` (`compact_errors` empty), as a flat instruction."""
    d = duration_ns(ins)
    start = ins.start_ns + (ins.start_offsets_ns[k] if ins.start_offsets_ns else k * ins.time_stride_ns)
    strides = ins.dep_strides or (0,) * len(ins.deps)
    return replace(ins, id=ins.id + k * ins.id_stride, start_ns=start, end_ns=start + d,
                   deps=tuple(x + k * s for x, s in zip(ins.deps, strides)),
                   reads=tuple(_shift(a, k) for a in ins.reads), writes=tuple(_shift(a, k) for a in ins.writes),
                   count=1, id_stride=1, time_stride_ns=0, dep_strides=(), start_offsets_ns=())


def is_plain(ins: Instruction) -> bool:
    """``ins`` is one repetition with no strides: what it says is what runs."""
    return ins.count == 1 and ins.id_stride == 1 and not ins.time_stride_ns and not ins.dep_strides \
        and not ins.start_offsets_ns \
        and not any(a.stride for a in ins.reads) and not any(a.stride for a in ins.writes)


def is_flat(p: Program) -> bool:
    """Every instruction of ``p`` is plain (`is_plain`: count 1, no strides)."""
    return all(is_plain(i) for i in p.instructions)


def repetitions(p: Program) -> int:
    """How many instructions the flat form of ``p`` has (every count summed)."""
    return sum(max(1, i.count) for i in p.instructions)


#: most instructions the flat form of a program may have (the reference machine takes about a
#: millisecond per instruction, so a program beyond this is malformed, not large)
MAX_REPETITIONS = 1 << 22


def expand_instructions(instrs: Sequence[Instruction]) -> tuple[Instruction, ...]:
    """Every repetition of every instruction, in id order; ProgramError naming the first
    instruction that is not well formed (`compact_errors`), or when there would be more than
    `MAX_REPETITIONS` of them."""
    total = sum(max(1, i.count) for i in instrs)
    if total > MAX_REPETITIONS:
        raise ProgramError(f"the program stands for {total} instructions, more than the {MAX_REPETITIONS} a "
                           f"flat program may have")
    out: list[Instruction] = []
    for ins in instrs:
        if is_plain(ins):
            out.append(ins)
            continue
        bad = compact_errors(ins)
        if bad:
            raise ProgramError("compact instruction cannot be expanded: " + "; ".join(bad))
        out.extend(repetition(ins, k) for k in range(ins.count))
    out.sort(key=lambda i: i.id)
    return tuple(out)


def expand(p: Program) -> Program:
    """``p`` in the flat form (every count 1, instructions in id order): ``p`` itself when it is
    flat already; ProgramError when an instruction is not well formed (`compact_errors`)."""
    if is_flat(p):
        return p
    return replace(p, instructions=expand_instructions(p.instructions))


#: what every repetition of a run repeats as it is (the other fields vary or describe the run)
_RUN_FIELDS = ("id", "start_ns", "end_ns", "deps", "reads", "writes", "count", "id_stride", "time_stride_ns",
               "dep_strides", "start_offsets_ns")
_SHARED = attrgetter(*(f.name for f in fields(Instruction) if f.name not in _RUN_FIELDS))
_ACCESS_SHARED = attrgetter(*(f.name for f in fields(Access) if f.name not in ("row0", "row1")))


def _shape(ins: Instruction) -> tuple[object, ...]:
    """What repetitions of one run share: every field of ``ins`` but its id, start, dependency
    values and row positions (its duration, dependency count and row widths kept)."""
    def acc(a: Access) -> tuple[object, ...]:
        return _ACCESS_SHARED(a), a.row1 - a.row0
    return (_SHARED(ins), ins.end_ns - ins.start_ns, len(ins.deps),
            tuple(acc(a) for a in ins.reads), tuple(acc(a) for a in ins.writes))


def _pair(a: Instruction, b: Instruction) -> Instruction | None:
    """The compact instruction of count 2 whose repetitions are ``a`` then ``b`` up to their
    start times (flat, same shape), or None when no non-negative strides give ``b`` from ``a``."""
    d = a.end_ns - a.start_ns
    id_stride = b.id - a.id
    dep_strides = tuple(y - x for x, y in zip(a.deps, b.deps))
    if id_stride < 1 or any(s < 0 for s in dep_strides):
        return None

    def strided(x: tuple[Access, ...], y: tuple[Access, ...]) -> tuple[Access, ...] | None:
        out = []
        for p, q in zip(x, y):
            s = q.row0 - p.row0
            if s < 0:
                return None
            out.append(replace(p, stride=s) if s else p)
        return tuple(out)

    reads, writes = strided(a.reads, b.reads), strided(a.writes, b.writes)
    if reads is None or writes is None:
        return None
    c = replace(a, count=2, end_ns=a.start_ns + 2 * d, id_stride=id_stride, time_stride_ns=d,
                dep_strides=dep_strides if any(dep_strides) else (), reads=reads, writes=writes)
    return c if _follows(c, 1, b) else None


def _follows(c: Instruction, k: int, b: Instruction) -> bool:
    """``b`` (of ``c``'s shape) is repetition ``k`` of ``c`` up to its start time."""
    if b.id != c.id + k * c.id_stride:
        return False
    strides = c.dep_strides or (0,) * len(c.deps)
    if any(y != x + k * s for x, s, y in zip(c.deps, strides, b.deps)):
        return False
    return all(q.row0 == p.row0 + k * p.stride for p, q in zip(c.reads, b.reads)) and \
        all(q.row0 == p.row0 + k * p.stride for p, q in zip(c.writes, b.writes))


def _finish(template: Instruction | None, run: list[Instruction]) -> Instruction:
    """The compact instruction of ``run`` (its members follow ``template``'s strides up to their
    starts): evenly spaced starts as a time stride, others as start offsets."""
    first = run[0]
    if template is None or len(run) == 1:
        return first
    n, d = len(run), first.end_ns - first.start_ns
    offsets = tuple(r.start_ns - first.start_ns for r in run)
    even = all(o == k * offsets[1] for k, o in enumerate(offsets))
    return replace(template, count=n, end_ns=first.start_ns + n * d, time_stride_ns=offsets[1] if even else 0,
                   start_offsets_ns=() if even else offsets)


def _fold(members: list[Instruction]) -> list[Instruction]:
    """Greedy runs over one shape's instructions in id order (see `compact`)."""
    out: list[Instruction] = []
    i = 0
    while i < len(members):
        run, template = [members[i]], None
        j = i + 1
        while j < len(members):
            b = members[j]
            if b.start_ns < run[-1].end_ns:   # repetitions run one after the other on their resource
                break
            if template is None:
                template = _pair(run[0], b)
                if template is None:
                    break
            elif not _follows(template, len(run), b):
                break
            run.append(b)
            j += 1
        out.append(_finish(template, run))
        i = j
    return out


def compact(instrs: Sequence[Instruction]) -> tuple[Instruction, ...]:
    """The flat ``instrs`` with every run of repetitions folded into one compact instruction, in id
    order.  A run: instructions of one shape (`_shape`: same kind, unit, resource, op, replica,
    crossbars, duration, energy, tensors, ...), taken in id order, whose ids, dependencies and
    access rows each advance by a constant non-negative stride, each starting after the previous
    one ends; evenly spaced starts become a time stride, others start offsets.  Folding is greedy
    in id order; ``expand_instructions`` of the result equals ``instrs`` sorted by id."""
    groups: dict[tuple[object, ...], list[Instruction]] = defaultdict(list)
    for ins in sorted(instrs, key=lambda i: i.id):
        if not is_plain(ins):
            raise ProgramError(f"compact takes flat instructions; instruction {ins.id} has count {ins.count}")
        groups[_shape(ins)].append(ins)
    out = [c for members in groups.values() for c in _fold(members)]
    out.sort(key=lambda i: i.id)
    return tuple(out)


def compact_program(p: Program) -> Program:
    """``p`` with its instructions compacted (`compact`); ``p`` must be flat."""
    return replace(p, instructions=compact(p.instructions))
