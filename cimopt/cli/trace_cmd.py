"""The `trace` command: a program's timeline as Chrome trace-event JSON (Perfetto, chrome://tracing)."""
from __future__ import annotations

import argparse
from typing import Any

from cimopt.ir import units


def _cmd_trace(a: argparse.Namespace) -> int:
    from cimopt.ir import program as prog
    from cimopt.ir.program_expand import repetitions

    from cimopt.report.trace import build_trace, write_trace

    p = prog.load(a.program)
    trace = build_trace(p)
    write_trace(trace, a.output)
    print(f"{len(p.instructions)} instructions ({repetitions(p)} with repetitions), makespan {units.time(p.makespan_ns, 6)}: trace written to {a.output} "
          "(open it in the Perfetto UI or chrome://tracing)")
    return 0


def write_machine_trace(program: Any, result: Any, path: str) -> None:
    """`cimopt run --trace`: the machine's timeline (`MachineResult.timeline`) as a trace file."""
    from cimopt.report.trace import build_trace, write_trace

    times = {i: (s, e) for i, s, e in result.timeline}
    write_trace(build_trace(program, times, source="machine"), path)


def register(sub: Any) -> None:
    """Add ``trace`` to the ``cimopt`` subparsers."""
    t = sub.add_parser("trace", help="the program's timeline as Chrome trace-event JSON (Perfetto, chrome://tracing)")
    t.add_argument("program", help="program JSON (from cimopt compile)")
    t.add_argument("-o", "--output", required=True, metavar="T.json", help="trace file to write")
    t.set_defaults(func=_cmd_trace)
