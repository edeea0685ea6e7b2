"""The `sweep` command: a grid of compilations, one row per task in RESULTS/results.{csv,parquet}."""
from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from typing import Any

from .sweep_task import Row


def _bar(enabled: bool) -> Callable[[int, int, Row], None]:
    """A one-line progress bar on stderr (redrawn in place), or nothing."""
    t0 = time.perf_counter()
    errors = 0

    def show(done: int, total: int, row: Row) -> None:
        nonlocal errors
        errors += row.get("status") != "ok"
        if not enabled:
            return
        width = 30
        fill = int(width * done / max(1, total))
        sys.stderr.write(f"\r[{'#' * fill}{'.' * (width - fill)}] {done}/{total} tasks, {errors} error(s), "
                         f"{time.perf_counter() - t0:.0f} s")
        if done == total:
            sys.stderr.write("\n")
        sys.stderr.flush()
    return show


def _cmd_sweep(a: argparse.Namespace) -> int:
    from .sweep import run_sweep
    from .sweep_spec import load_spec

    spec = load_spec(a.spec)
    s = run_sweep(spec, a.output, jobs=a.jobs, scheduler=a.scheduler, progress=_bar(sys.stderr.isatty()),
                  retry_errors=a.retry_errors)
    print(f"{s.tasks} task(s): {s.ran} run now, {s.skipped} already in {a.output}; {s.errors} row(s) with an error")
    print(f"tables written to {s.csv} and {s.parquet}")
    return 0


def register(sub: Any) -> None:
    """Add ``sweep`` to the ``cimopt`` subparsers."""
    p = sub.add_parser("sweep", help="run a grid (models x targets x modes x solvers x methods x seeds x limits) "
                                     "in a process pool or on a Dask cluster; one result row per task")
    p.add_argument("spec", help="sweep spec (TOML), see the README's Research workflow")
    p.add_argument("-o", "--output", required=True, metavar="RESULTS", help="results folder (created; reruns resume)")
    p.add_argument("--jobs", "-j", type=int, default=1, help="local worker processes (default 1)")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="run the tasks on an existing Dask cluster, e.g. tcp://10.0.0.5:8786")
    p.add_argument("--retry-errors", action="store_true", help="also rerun tasks whose row has an error")
    p.set_defaults(func=_cmd_sweep)
