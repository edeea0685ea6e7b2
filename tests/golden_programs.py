"""Golden programs: a canonical text form of a compiled Program, so that a refactor which changes
what the compiler emits shows up as a diff of a checked-in file.

The text holds every decision (programming map, instructions with times, dependencies, crossbars
and buffer addresses, a compact instruction's count and strides, the memory plan, the program's figures) and leaves out what differs from one
run to the next without a change of decision: wall times and solver statistics.

Regenerate after an intended change with ``CIMOPT_UPDATE_GOLDEN=1 pytest tests/test_golden.py``
and say in the commit why the programs changed.
"""
from __future__ import annotations

import os

from cimopt.ir.program import Access, Instruction, Program

GOLDEN_DIR = os.path.join(os.path.dirname(__file__), "golden")
#: (light graph, preset, mode); small graphs so the files stay readable
CASES = (("light_squeezenet", "isaac", "latency"), ("light_squeezenet", "pimcomp", "throughput"),
         ("light_shufflenet", "isaac", "throughput"), ("light_shufflenet", "pimcomp", "latency"))
#: metrics that measure the compiler, not the program
VOLATILE_METRICS = ("compile_s", "stage_s.")


def _acc(items: tuple[Access, ...]) -> str:
    return ",".join(f"{a.tensor}@{a.space}+{a.offset}[{a.axis}:{a.row0}:{a.row1}{f'+{a.stride}' if a.stride else ''}]"
                    for a in items)


def _repeat(i: Instruction) -> str:
    """A compact instruction's count and strides (`ir.program`); nothing for a plain one."""
    if i.count == 1:
        return ""
    deps = f" dep+{','.join(map(str, i.dep_strides))}" if i.dep_strides else ""
    times = f"t@{','.join(map(str, i.start_offsets_ns))}" if i.start_offsets_ns else f"t+{i.time_stride_ns}"
    return f" x{i.count} id+{i.id_stride} {times}{deps}"


def canonical(p: Program) -> str:
    """The program's decisions as text, one line per item."""
    out = [f"program {p.model} target={p.target} mode={p.mode} makespan_ns={p.makespan_ns} "
           f"ii_ns={p.initiation_interval_ns} segments={p.segments} in_flight={p.iterations_in_flight}"]
    out += [f"input {n} {'x'.join(map(str, s))}" for n, s in p.input_shapes]
    out += [f"metric {k} {v:.9g}" for k, v in p.metrics if not k.startswith(VOLATILE_METRICS)]
    out += [f"space {k} {v}" for k, v in p.spaces]
    out += [f"prog c{t.core}.x{t.crossbar} {t.op}#r{t.replica} tile{t.tile} g{t.group0}+{t.ngroups} "
            f"r{t.row0}:{t.row1} c{t.col0}:{t.col1} s{t.segment}" for t in p.programming]
    for i in p.instructions:
        tile = f" tile={i.tile.core}.{i.tile.crossbar}:{i.tile.tile}" if i.tile else ""
        tile += f" route={','.join(f'{u}>{v}' for u, v in i.route)}" if i.route else ""
        tile += f" dsts={','.join(map(str, i.dst_cores))}" if i.dst_cores else ""
        out.append(f"i{i.id} {i.kind} {i.unit} {i.resource or '-'} {i.start_ns}-{i.end_ns} op={i.op} "
                   f"r{i.replica} s{i.segment} deps={','.join(map(str, i.deps))} "
                   f"xb={';'.join(f'{c}.{x}' for c, x in i.crossbars)} in={_acc(i.reads)} out={_acc(i.writes)} "
                   f"bytes={i.nbytes} {i.src_core}->{i.dst_core}{tile} pj={i.energy_pj:.6g}{_repeat(i)}")
    out += [f"buf {b.tensor} {b.space}+{b.offset} {b.size_bytes}B {b.start_ns}-{b.end_ns} it{b.iteration}"
            for b in p.buffers]
    return "\n".join(out) + "\n"


def golden_path(model: str, preset: str, mode: str) -> str:
    return os.path.join(GOLDEN_DIR, f"{model.removeprefix('light_')}.{preset}.{mode}.txt")
