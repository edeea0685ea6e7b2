"""The check of a program's compact instructions (`ir.program`: ``count`` > 1 stands for that many
repetitions) and the flat program every other check and the executor read.

A compact instruction that cannot stand for its repetitions (`ir.program_expand.compact_errors`:
count below 1 or above `ir.row_runs.MAX_COUNT`, a span not a whole number of repetitions, negative or missing strides) is a
``schema`` violation and is then read as one instruction over its whole span (its strides
dropped), so the other checks still run.  What its repetitions do once expanded (overlapping one
another or another instruction on a crossbar, rows past their tensor, ids clashing) is found by
the checks of the flat program like anything else.
"""
from __future__ import annotations

from dataclasses import replace

from cimopt.ir.program import Instruction, Program
from cimopt.ir.program_expand import compact_errors, expand_instructions, is_flat, MAX_REPETITIONS, repetitions
from cimopt.targets.machine.checks.violations import Report


def _as_one(ins: Instruction) -> Instruction:
    """``ins`` read as a single instruction over its span, strides dropped."""
    return replace(ins, count=1, id_stride=1, time_stride_ns=0, dep_strides=(), start_offsets_ns=(),
                   reads=tuple(replace(a, stride=0) for a in ins.reads),
                   writes=tuple(replace(a, stride=0) for a in ins.writes))


def flat_program(p: Program, rep: Report) -> Program:
    """``p`` with every compact instruction expanded into its repetitions (id order); each one that
    is not well formed reported into ``rep`` (``schema``) and kept as one instruction; a program
    standing for more than `ir.program_expand.MAX_REPETITIONS` instructions reported
    (``capacity``) and every instruction kept as one."""
    if is_flat(p):
        return p
    if repetitions(p) > MAX_REPETITIONS:
        rep.add("capacity", f"the program stands for {repetitions(p)} instructions, more than the "
                            f"{MAX_REPETITIONS} the reference machine runs; its compact instructions not expanded")
        return replace(p, instructions=tuple(_as_one(i) for i in p.instructions))
    good: list[Instruction] = []
    for ins in p.instructions:
        bad = compact_errors(ins)
        for message in bad:
            rep.add("schema", f"compact {message}")
        good.append(_as_one(ins) if bad else ins)
    return replace(p, instructions=expand_instructions(good))
