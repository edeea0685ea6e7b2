"""The `plot` command: gantt, memory, crossbars, links (of a program) and compare, scaling (of a sweep table)."""
from __future__ import annotations

import argparse
from typing import Any

KINDS = ("gantt", "memory", "crossbars", "links", "compare", "scaling")


def _cmd_plot(a: argparse.Namespace) -> int:
    from cimopt.report import program_plots as plot
    from cimopt.report import sweep_plots as plot_sweep

    if a.kind in ("compare", "scaling"):
        from cimopt.sweep.results import read_table

        df = read_table(a.input)
        fig = plot_sweep.compare_figure(df) if a.kind == "compare" else plot_sweep.scaling_figure(df, a.size)
    else:
        from cimopt.ir import program as prog

        p = prog.load(a.input)
        if a.kind == "gantt":
            fig = plot.gantt_figure(p)
        else:
            target = plot.target_for(p, a.target)
            if a.kind == "links":
                fig = plot.links_figure(p, target)
            elif a.kind == "memory":
                fig = plot.memory_figure(p, target)
            else:
                fig = plot.crossbars_figure(p, target, a.segment)
    plot.save(fig, a.output)
    print(f"{a.kind} plot written to {a.output}")
    return 0


def register(sub: Any) -> None:
    """Add ``plot`` to the ``cimopt`` subparsers."""
    p = sub.add_parser("plot", help="draw a program (gantt, memory, crossbars, links) or a sweep table "
                                    "(compare, scaling) as PNG or SVG")
    p.add_argument("kind", choices=KINDS, help="gantt | memory | crossbars | links (NoC link load heat map): "
                                               "PROG.json; compare | scaling: results.csv")
    p.add_argument("input", help="program JSON, or a sweep's results.csv / results.parquet")
    p.add_argument("-o", "--output", required=True, help="picture to write (.png or .svg)")
    p.add_argument("--target", help="memory, crossbars, links: the target the program was compiled for "
                                    "(default: the one it records)")
    p.add_argument("--segment", type=int, default=0, help="crossbars: which segment's crossbar state (default 0)")
    p.add_argument("--size", default="tasks", help="scaling: the column giving instance size (default tasks)")
    p.set_defaults(func=_cmd_plot)
