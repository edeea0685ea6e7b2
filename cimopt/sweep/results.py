"""A sweep's results folder: a JSON-lines journal written row by row, and the tables built from it.

``RESULTS/journal.jsonl`` gets one line per finished task, flushed as it finishes, so a sweep
killed part way keeps every row it finished; a torn last line (killed mid-write) is ignored.
``RESULTS/results.csv`` and ``RESULTS/results.parquet`` are rebuilt from the journal: one row
per task of the spec, in the spec's grid order (rows of tasks no longer in the spec stay in
the journal but not in the tables).
"""
from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from cimopt.sweep.errors import SpecError

JOURNAL = "journal.jsonl"
CSV = "results.csv"
PARQUET = "results.parquet"


def read_journal(out_dir: str | os.PathLike[str]) -> dict[str, dict[str, Any]]:
    """Rows by task key (a later line for the same key wins)."""
    path = Path(out_dir) / JOURNAL
    rows: dict[str, dict[str, Any]] = {}
    if not path.exists():
        return rows
    with open(path) as f:
        for line in f:
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(row, dict) and isinstance(row.get("key"), str):
                rows[row["key"]] = row
    return rows


class Journal:
    """Appends rows to ``RESULTS/journal.jsonl``, one JSON line each, flushed and synced as written."""

    def __init__(self, out_dir: str | os.PathLike[str]) -> None:
        d = Path(out_dir)
        try:
            d.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise SpecError(f"{d}: cannot create the results folder ({e})") from None
        path = d / JOURNAL
        torn = path.exists() and path.stat().st_size > 0 and not path.read_bytes().endswith(b"\n")
        self._f = open(path, "a")
        if torn:
            self._f.write("\n")   # end a line torn by a kill, so the next row starts a line of its own

    def append(self, row: dict[str, Any]) -> None:
        self._f.write(json.dumps(row, allow_nan=True) + "\n")
        self._f.flush()
        os.fsync(self._f.fileno())

    def close(self) -> None:
        self._f.close()


def write_tables(out_dir: str | os.PathLike[str], keys: Sequence[str]) -> tuple[Path, Path]:
    """Rebuild results.csv and results.parquet from the journal for the tasks ``keys`` (in that order)."""
    import pandas as pd

    journal = read_journal(out_dir)
    rows = [journal[k] for k in keys if k in journal]
    df = pd.DataFrame(rows, columns=_columns(rows))
    d = Path(out_dir)
    csv, parquet = d / CSV, d / PARQUET
    df.to_csv(csv, index=False)
    df.to_parquet(parquet, index=False)
    return csv, parquet


def _columns(rows: Iterable[dict[str, Any]]) -> list[str]:
    """Columns in the order they first appear (inputs first, as every row starts with them)."""
    seen: dict[str, None] = {}
    for r in rows:
        for k in r:
            seen.setdefault(k, None)
    return list(seen)


def read_table(path: str | os.PathLike[str]) -> Any:
    """A results table (``.csv`` or ``.parquet``) as a pandas DataFrame; `SpecError` when unreadable."""
    import pandas as pd

    p = os.fspath(path)
    if not os.path.isfile(p):
        raise SpecError(f"{p}: no such results table")
    try:
        return pd.read_parquet(p) if p.endswith(".parquet") else pd.read_csv(p)
    except (ValueError, OSError, pd.errors.ParserError) as e:
        raise SpecError(f"{p}: not a readable results table ({e})") from None
