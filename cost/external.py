"""Importer for per-op costs measured by an external CIM simulator (MNSIM, pimsim-nn, NeuroSim...).

CSV with a header row naming at least ``op``, ``latency_ns`` and ``energy_pj`` (``name`` is
accepted for ``op``).  Those ops' analytic figures are replaced by the measured ones.
"""
from __future__ import annotations

import csv
import math
import os
from dataclasses import dataclass

from cimopt.ir.errors import CimoptError


class CostTableError(CimoptError):
    """A measured-cost CSV is missing, malformed or names unknown ops."""


@dataclass(frozen=True)
class MeasuredCost:
    op: str
    latency_ns: float
    energy_pj: float


def read_costs(path: str | os.PathLike[str], known_ops: set[str] | None = None) -> dict[str, MeasuredCost]:
    """Read a measured-cost CSV; every problem is a CostTableError naming the file and the row."""
    p = os.fspath(path)
    if not os.path.isfile(p):
        raise CostTableError(f"{p}: no such cost table")
    out: dict[str, MeasuredCost] = {}
    with open(p, newline="") as f:
        reader = csv.DictReader(f)
        fields = {h.strip() for h in (reader.fieldnames or [])}
        key = "op" if "op" in fields else "name"
        missing = {key, "latency_ns", "energy_pj"} - fields
        if missing:
            raise CostTableError(f"{p}: header must name op, latency_ns, energy_pj (missing {', '.join(sorted(missing))})")
        for line, row in enumerate(reader, start=2):
            row = {k.strip(): (v or "").strip() for k, v in row.items() if k}
            try:
                lat, en = float(row["latency_ns"]), float(row["energy_pj"])
            except ValueError:
                raise CostTableError(f"{p}:{line}: latency_ns and energy_pj must be numbers") from None
            if not (math.isfinite(lat) and math.isfinite(en)) or lat < 0 or en < 0:
                raise CostTableError(f"{p}:{line}: latency_ns and energy_pj must be finite and >= 0")
            name = row[key]
            if known_ops is not None and name not in known_ops:
                raise CostTableError(f"{p}:{line}: no op named {name!r} in the model")
            out[name] = MeasuredCost(name, lat, en)
    return out
