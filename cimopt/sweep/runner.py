"""`cimopt sweep`: run a grid of compilations as independent tasks and collect one row per task.

The spec (`grid`) expands into `SweepTask` values; each runs through `task.execute_task`
either in a local process pool (``jobs`` processes, concurrent.futures) or, given a
``scheduler`` address, on an existing Dask distributed cluster (``distributed.Client``).  Rows
are journalled as they finish (`results`); tasks whose key already has a row in the
results folder are skipped, so a killed sweep rerun finishes only the missing rows.  Error and
timeout rows count as done unless ``retry_errors``.
"""
from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cimopt.sweep.errors import SpecError
from cimopt.sweep.grid import SweepSpec, SweepTask
from cimopt.sweep.results import Journal, read_journal, write_tables
from cimopt.sweep.task import execute_task, input_columns, Row

#: progress callback: (tasks done, tasks to do, the row just finished); called once with
#: (0, tasks to do, None) before the first task starts
Progress = Callable[[int, int, Row | None], None]


@dataclass(frozen=True)
class SweepSummary:
    tasks: int          # tasks in the spec
    skipped: int        # already in the results folder
    ran: int            # run now
    errors: int         # rows (old and new) whose status is not ok
    csv: Path
    parquet: Path


def run_sweep(spec: SweepSpec, out_dir: str | os.PathLike[str], jobs: int = 1, scheduler: str | None = None,
              progress: Progress | None = None, retry_errors: bool = False) -> SweepSummary:
    """Run every task of ``spec`` that has no row in ``out_dir`` yet; rebuild the tables."""
    if jobs < 1:
        raise SpecError(f"--jobs must be at least 1, got {jobs}")
    done = read_journal(out_dir)
    todo = [t for t in spec.tasks if t.key not in done
            or (retry_errors and done[t.key].get("status") != "ok")]
    client = _connect(scheduler) if scheduler else None
    journal = Journal(out_dir)
    ran = 0
    if progress:
        progress(0, len(todo), None)
    try:
        rows = _on_dask(todo, client) if client is not None else _in_pool(todo, jobs)
        for row in rows:
            journal.append(row)
            ran += 1
            if progress:
                progress(ran, len(todo), row)
    finally:
        journal.close()
        keys = [t.key for t in spec.tasks]
        csv, parquet = write_tables(out_dir, keys)
    final = read_journal(out_dir)
    errors = sum(1 for k in keys if final.get(k, {}).get("status") != "ok")
    return SweepSummary(len(spec.tasks), len(spec.tasks) - len(todo), ran, errors, csv, parquet)


def _in_pool(tasks: list[SweepTask], jobs: int) -> Iterator[Row]:
    """Rows as they finish, from a local pool of ``jobs`` processes."""
    if not tasks:
        return
    with ProcessPoolExecutor(max_workers=min(jobs, len(tasks)), initializer=_exit_with_parent,
                             initargs=(os.getpid(),)) as pool:
        futures = {pool.submit(execute_task, t): t for t in tasks}
        try:
            for f in as_completed(futures):
                yield _result(f, futures[f])
        finally:
            for f in futures:
                f.cancel()


#: seconds between a pool worker's checks that the sweep that started it is still alive
PARENT_POLL_S = 1.0


def _exit_with_parent(parent: int) -> None:
    """Pool worker initialiser: exit when the sweep process ``parent`` dies (a killed sweep
    otherwise leaves its workers blocked on the task queue for ever)."""
    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_POLL_S)
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def _connect(address: str) -> Any:
    """A ``distributed.Client`` of the scheduler at ``address`` (`SpecError` when it does not answer in 10 s)."""
    import distributed

    try:
        return distributed.Client(address, timeout="10s")
    except (OSError, TimeoutError, ValueError) as e:
        raise SpecError(f"--scheduler {address}: cannot connect to a Dask scheduler ({e})") from None


def _on_dask(tasks: list[SweepTask], client: Any) -> Iterator[Row]:
    """Rows as they finish, from the Dask cluster of ``client`` (closed at the end)."""
    import distributed

    try:
        if not tasks:
            return
        futures: list[Any] = client.map(execute_task, tasks, pure=False, key=[f"cimopt-sweep-{t.key}" for t in tasks])
        by_key = {f.key: t for f, t in zip(futures, tasks)}
        for f in distributed.as_completed(futures):
            yield _result(f, by_key[f.key])
    finally:
        client.close()


def _result(future: Any, task: SweepTask) -> Row:
    """The future's row; a worker that died or raised makes an error row of its own."""
    try:
        row: Row = future.result()
    except Exception as e:  # noqa: BLE001 - a lost worker is that task's error row, never the sweep's end
        row = input_columns(task)
        row.update(status="error", error=f"worker failed: {type(e).__name__}: {str(e)[:300]}")
    return row
