"""The README's pictures of one program: Gantt chart, memory over time, crossbar map, and its trace.

Usage: python experiments/program_figures.py DOCS_DIR RESULTS_DIR

Compiles the onnx package's SqueezeNet (heuristic, latency mode) onto pimcomp, writes the program
and its trace-event JSON to RESULTS_DIR and gantt.png, memory.png, crossbars.png to DOCS_DIR.
"""
from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

from cimopt.compiler import compile_model
from cimopt.demo import light_graph
from cimopt.ir import program as prog
from cimopt.ir.program_expand import repetitions
from cimopt.options import CompileOptions
from cimopt.report import program_plots as plot
from cimopt.report.trace import build_trace, write_trace
from cimopt.targets.load import load_target

TARGET = "pimcomp"


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__.splitlines()[2], file=sys.stderr)
        return 2
    docs, results = Path(argv[0]), Path(argv[1])
    docs.mkdir(parents=True, exist_ok=True)
    results.mkdir(parents=True, exist_ok=True)
    target = load_target(TARGET)
    res = compile_model(light_graph("light_squeezenet"), target, CompileOptions())
    p = replace(res.program, extra=(("target_ref", TARGET),))
    prog.save(p, results / "squeezenet.pimcomp.program.json")
    write_trace(build_trace(p), results / "squeezenet.pimcomp.trace.json")
    plot.save(plot.gantt_figure(p), docs / "gantt.png")
    plot.save(plot.memory_figure(p, target), docs / "memory.png")
    plot.save(plot.crossbars_figure(p, target), docs / "crossbars.png")
    print(f"squeezenet on {TARGET}: {len(p.instructions)} instructions ({repetitions(p)} with repetitions); pictures in {docs}, program and trace in "
          f"{results}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
