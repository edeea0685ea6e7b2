"""Runs of JSON records whose integer fields advance by constant strides, written as one record
with a ``count`` and its non-zero ``strides`` (how a program's crossbar programming map is stored:
a replica's tiles sit on consecutive crossbars, tile k + 1 beside tile k).

``unfold(fold(rows, fields))`` gives back ``rows``.  Record k of a run is the run's record with
``fields[f] + k * strides[f]`` for every strided field.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from cimopt.ir.errors import ProgramError

#: most records one run (or compact instruction) may stand for: a larger count is a malformed
#: program, not a large one
MAX_COUNT = 1 << 20


def fold(rows: Sequence[dict[str, Any]], fields: Sequence[str]) -> list[dict[str, Any]]:
    """``rows`` with every run of consecutive records that agree outside ``fields`` (integers) and
    advance by constant strides in them folded into one record with ``count`` and ``strides``."""
    out: list[dict[str, Any]] = []
    run: dict[str, Any] | None = None
    last: dict[str, Any] = {}
    strides: dict[str, int] = {}
    n = 0

    def close() -> None:
        if run is not None:
            out.append(run if n == 1 else {**run, "count": n, "strides": {f: s for f, s in strides.items() if s}})

    for r in rows:
        if run is not None and all(r.get(k) == v for k, v in run.items() if k not in fields) \
                and r.keys() == run.keys():
            step = {f: r[f] - last[f] for f in fields if f in r}
            if n == 1 or step == strides:
                strides, last, n = step, r, n + 1
                continue
        close()
        run, last, strides, n = r, r, {}, 1
    close()
    return out


def unfold(records: Sequence[dict[str, Any]], fields: Sequence[str], what: str = "record") -> list[dict[str, Any]]:
    """Every record a folded list stands for, in order; ProgramError for a count below 1 or above
    `MAX_COUNT`, or a stride on a field that is not one of ``fields`` or not in the record (the
    message names the record as ``what`` and its index)."""
    out: list[dict[str, Any]] = []
    for k, rec in enumerate(records):
        if "count" not in rec and "strides" not in rec:
            out.append(rec)
            continue
        n, strides = rec.get("count", 1), rec.get("strides", {})
        if not isinstance(n, int) or not 1 <= n <= MAX_COUNT:
            raise ProgramError(f"{what} {k}: count {n!r} is not between 1 and {MAX_COUNT}")
        if not isinstance(strides, dict) or any(f not in fields or f not in rec or not isinstance(s, int)
                                                for f, s in strides.items()):
            raise ProgramError(f"{what} {k}: strides {strides!r} must be integers on the fields "
                               f"{', '.join(f for f in fields if f in rec)}")
        base = {a: b for a, b in rec.items() if a not in ("count", "strides")}
        out.extend({**base, **{f: base[f] + i * s for f, s in strides.items()}} for i in range(n))
    return out
