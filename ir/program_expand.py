"""Compact and flat programs: `expand` turns every compact instruction (``count`` > 1, see
`ir.program`) into its repetitions; `compact` folds runs of repetitions back into one instruction.

``expand(compact(instructions))`` gives back exactly the instructions given (same ids, times,
dependencies and accesses, in id order): `compact` only folds a run whose every member equals
the repetition the run's first instruction and strides predict.  Times in ns.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import replace

from cimopt.ir.errors import ProgramError
from cimopt.ir.program import Access, Instruction, Program


def compact_errors(ins: Instruction) -> list[str]:
    """What keeps ``ins`` from standing for ``ins.count`` repetitions (empty: it is well formed).

    Checked: count >= 1, id stride >= 1, time stride >= 0, the span a multiple of the count, one
    dependency stride per dependency, every stride >= 0, and for count 1 no strides at all (id
    stride 1, the others 0 or empty).  Two
    repetitions overlapping each other (time stride below the duration), a repetition's rows past
    its tensor or ids clashing with another instruction's are left to the program's checks on the
    flat form (`targets.machine.checks`), which report them like any other overlap or bad access.
    """
    bad: list[str] = []
    n = ins.count
    if n < 1:
        return [f"instruction {ins.id}: count {n} (at least 1)"]
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
    if any(s < 0 for s in ins.dep_strides):
        bad.append(f"instruction {ins.id}: negative dependency stride in {list(ins.dep_strides)}")
    for a in (*ins.reads, *ins.writes):
        if a.stride < 0:
            bad.append(f"instruction {ins.id}: negative stride {a.stride} on its access to {a.tensor!r}")
    if n == 1 and (ins.id_stride != 1 or ins.time_stride_ns or ins.dep_strides
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
    start = ins.start_ns + k * ins.time_stride_ns
    strides = ins.dep_strides or (0,) * len(ins.deps)
    return replace(ins, id=ins.id + k * ins.id_stride, start_ns=start, end_ns=start + d,
                   deps=tuple(x + k * s for x, s in zip(ins.deps, strides)),
                   reads=tuple(_shift(a, k) for a in ins.reads), writes=tuple(_shift(a, k) for a in ins.writes),
                   count=1, id_stride=1, time_stride_ns=0, dep_strides=())


def is_plain(ins: Instruction) -> bool:
    """``ins`` is one repetition with no strides: what it says is what runs."""
    return ins.count == 1 and ins.id_stride == 1 and not ins.time_stride_ns and not ins.dep_strides \
        and not any(a.stride for a in ins.reads) and not any(a.stride for a in ins.writes)


def is_flat(p: Program) -> bool:
    """Every instruction of ``p`` is plain (`is_plain`: count 1, no strides)."""
    return all(is_plain(i) for i in p.instructions)


def repetitions(p: Program) -> int:
    """How many instructions the flat form of ``p`` has (every count summed)."""
    return sum(max(1, i.count) for i in p.instructions)


def expand_instructions(instrs: Iterable[Instruction]) -> tuple[Instruction, ...]:
    """Every repetition of every instruction, in id order; ProgramError naming the first
    instruction that is not well formed (`compact_errors`)."""
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


def _shape(ins: Instruction) -> Instruction:
    """What repetitions of one run share: ``ins`` without its id, start, dependency values and
    row positions (its duration, dependency count and row widths kept)."""
    def acc(a: Access) -> Access:
        return replace(a, row0=0, row1=a.row1 - a.row0)
    return replace(ins, id=0, start_ns=0, end_ns=ins.end_ns - ins.start_ns, deps=(0,) * len(ins.deps),
                   reads=tuple(acc(a) for a in ins.reads), writes=tuple(acc(a) for a in ins.writes))


def _pair(a: Instruction, b: Instruction) -> Instruction | None:
    """The compact instruction of count 2 whose repetitions are ``a`` then ``b`` (flat, same
    shape), or None when no non-negative strides give ``b`` from ``a`` (or ``b`` would overlap ``a``)."""
    d = a.end_ns - a.start_ns
    id_stride, time_stride = b.id - a.id, b.start_ns - a.start_ns
    dep_strides = tuple(y - x for x, y in zip(a.deps, b.deps))
    if id_stride < 1 or time_stride < d or any(s < 0 for s in dep_strides):
        return None

    def strided(x: tuple[Access, ...], y: tuple[Access, ...]) -> tuple[Access, ...] | None:
        out = []
        for p, q in zip(x, y):
            s = q.row0 - p.row0
            if s < 0:
                return None
            out.append(replace(p, stride=s))
        return tuple(out)

    reads, writes = strided(a.reads, b.reads), strided(a.writes, b.writes)
    if reads is None or writes is None:
        return None
    c = replace(a, count=2, end_ns=a.start_ns + 2 * d, id_stride=id_stride, time_stride_ns=time_stride,
                dep_strides=dep_strides if any(dep_strides) else (), reads=reads, writes=writes)
    return c if repetition(c, 1) == b else None


def compact(instrs: Sequence[Instruction]) -> tuple[Instruction, ...]:
    """The flat ``instrs`` with every run of repetitions folded into one compact instruction, in id
    order.  A run: instructions of one shape (`_shape`: same kind, unit, resource, op, replica,
    crossbars, duration, energy, tensors, ...), taken in id order, whose ids, starts, dependencies
    and access rows each advance by a constant non-negative stride, one after the other on their
    resource (start stride >= duration).  Folding is greedy in id order; ``expand_instructions`` of
    the result equals ``instrs`` sorted by id."""
    groups: dict[Instruction, list[Instruction]] = defaultdict(list)
    for ins in sorted(instrs, key=lambda i: i.id):
        if ins.count != 1:
            raise ProgramError(f"compact takes flat instructions; instruction {ins.id} has count {ins.count}")
        groups[_shape(ins)].append(ins)
    out: list[Instruction] = []
    for members in groups.values():
        run: Instruction | None = None   # the compact instruction of the run so far
        for ins in members:
            if run is None:
                run = ins
                continue
            if run.count == 1:
                pair = _pair(run, ins)
                if pair is not None:
                    run = pair
                    continue
            elif repetition(run, run.count) == ins:
                d = duration_ns(run)
                run = replace(run, count=run.count + 1, end_ns=run.end_ns + d)
                continue
            out.append(run)
            run = ins
        if run is not None:
            out.append(run)
    out.sort(key=lambda i: i.id)
    return tuple(out)


def compact_program(p: Program) -> Program:
    """``p`` with its instructions compacted (`compact`); ``p`` must be flat."""
    return replace(p, instructions=compact(p.instructions))
