"""The `sweep` command: a grid of compilations, one row per task in RESULTS/results.{csv,parquet}."""
from __future__ import annotations

import argparse
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from cimopt.sweep.task import Row


#: seconds between redraws of the progress bar while no task finishes (its clock keeps moving)
REFRESH_S = 1.0


def _lines() -> Callable[[int, int, Row | None], None]:
    """Progress for a log (stderr not a terminal): a line when the sweep starts and one per task."""
    t0 = time.perf_counter()

    def show(done: int, total: int, row: Row | None) -> None:
        if row is None:
            print(f"sweep: {total} task(s) to run", file=sys.stderr, flush=True)
            return
        what = " ".join(str(row.get(k, "")) for k in ("model", "target", "mode", "solver"))
        status = row.get("status", "?") + (f" ({str(row.get('error', ''))[:120]})" if row.get("status") != "ok" else "")
        print(f"[{done}/{total}, {time.perf_counter() - t0:.0f} s] {what}: {status}", file=sys.stderr, flush=True)
    return show


def _bar(enabled: bool) -> Callable[[int, int, Row | None], None]:
    """A tqdm progress bar on stderr (tasks done of those to run, error rows, elapsed time and
    an estimate of the time left), redrawn every `REFRESH_S` while tasks run; or nothing."""
    from tqdm import tqdm

    state: dict[str, Any] = {"bar": None, "errors": 0, "stop": threading.Event()}

    def refresh(bar: Any, stop: threading.Event) -> None:
        while not stop.wait(REFRESH_S):
            bar.refresh()

    def show(done: int, total: int, row: Row | None) -> None:
        if row is not None:
            state["errors"] += row.get("status") != "ok"
        if not enabled:
            return
        bar = state["bar"]
        if bar is None:
            bar = state["bar"] = tqdm(total=total, file=sys.stderr, unit="task", dynamic_ncols=True,
                                      desc="sweep", mininterval=0.2)
            threading.Thread(target=refresh, args=(bar, state["stop"]), name="sweep-progress", daemon=True).start()
        if row is not None:
            bar.set_postfix_str(f"{state['errors']} error(s)", refresh=False)
            bar.update(done - bar.n)
        if done >= total:
            state["stop"].set()
            bar.close()
    return show


def _cmd_sweep(a: argparse.Namespace) -> int:
    from cimopt.sweep.runner import run_sweep
    from cimopt.sweep.grid import load_spec

    spec = load_spec(a.spec)
    progress = _bar(not a.quiet) if sys.stderr.isatty() else (_bar(False) if a.quiet else _lines())
    s = run_sweep(spec, a.output, jobs=a.jobs, scheduler=a.scheduler, progress=progress,
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
    p.add_argument("--quiet", action="store_true", help="no progress on stderr (default: a progress bar on a "
                                                         "terminal, a line per task otherwise)")
    p.set_defaults(func=_cmd_sweep)
