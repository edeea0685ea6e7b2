"""Stage instances in standard formats (``cimopt export-instance``; docs/instances.md has the
mappings and why each preserves the objective):

* scheduling (latency mode) -> RCPSP/max in the PSPLIB ``.sch`` layout (ProGen/max): task i is
  activity i+1, an edge (p, s, delay) a start-to-start lag duration_p + delay, a release a lag
  from the source 0, each resource a renewable resource of capacity 1; the makespan is the
  sink's start.
* placement (one segment) -> QAPLIB ``.dat``: n = cores x crossbars per core locations (crossbar
  slots, distance = XY hops between their cores); a group of s crossbars is s unit facilities,
  its first (lead) unit carrying the group's traffic, the others tied to the lead by a flow M
  larger than any placement's byte-hops, so a QAP optimum never splits a group and its value is
  the byte-hops; dummy facilities fill the rest.
* memory -> MiniZinc data ``.dzn`` (dynamic storage allocation, each buffer in the space the
  instance plans it in; sizes and
  capacities in alignment units).

Every writer returns the file's text; `ExportError` when the instance has no form in the format.
"""
from __future__ import annotations

import math
from typing import Any

from cimopt.ir.errors import CimoptError
from cimopt.solver.memory import heuristic as mem
from cimopt.solver.memory.problem import MemoryInstance
from cimopt.solver.placement import problem as pl
from cimopt.solver.placement.problem import PlacementInstance
from cimopt.solver.scheduling.problem import SchedulingInstance

#: largest QAP written (n locations: two n x n matrices)
MAX_QAP_N = 4096
#: largest PSPLIB file written, in activity x resource entries
MAX_PSPLIB_ENTRIES = 20_000_000


class ExportError(CimoptError):
    """An instance that the asked format cannot hold: says why and what to do."""


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(float(x))


def psplib(inst: SchedulingInstance) -> str:
    """The scheduling instance as RCPSP/max (PSPLIB ``.sch``), latency mode only."""
    if inst.mode != "latency":
        raise ExportError("a throughput-mode (modulo) scheduling instance has no RCPSP/max form; export a "
                          "latency-mode instance (cimopt instances --stage scheduling --mode latency)")
    p = inst.problem
    n, k = len(p.tasks), len(p.resources)
    if (n + 2) * k > MAX_PSPLIB_ENTRIES:
        raise ExportError(f"{n} tasks x {k} resources is {(n + 2) * k:,} resource entries, more than the "
                          f"{MAX_PSPLIB_ENTRIES:,} written in the dense PSPLIB layout")
    lags: list[dict[int, int]] = [{} for _ in range(n + 2)]
    has_pred = [False] * n
    for a, b, d in p.edges:
        lag = p.tasks[a].duration_ns + d
        lags[a + 1][b + 1] = max(lags[a + 1].get(b + 1, lag), lag)
        has_pred[b] = True
    for i, t in enumerate(p.tasks):
        if not has_pred[i] or t.release_ns > 0:
            lags[0][i + 1] = t.release_ns
        if not lags[i + 1]:
            lags[i + 1][n + 1] = t.duration_ns
    if n == 0:
        lags[0][1] = 0
    lines = [f"{n}\t{k}\t0\t0"]
    for j in range(n + 2):
        succ = sorted(lags[j])
        lines.append("\t".join([str(j), "1", str(len(succ))] + [str(s) for s in succ]
                               + [f"[{lags[j][s]}]" for s in succ]))
    zeros = ["0"] * k
    lines.append("\t".join(["0", "1", "0"] + zeros))
    for i, t in enumerate(p.tasks):
        req = list(zeros)
        for r in t.held:   # a transfer's links too: RCPSP takes several resources per activity
            req[r] = "1"
        lines.append("\t".join([str(i + 1), "1", str(t.duration_ns)] + req))
    lines.append("\t".join([str(n + 1), "1", "0"] + zeros))
    lines.append("\t".join(["1"] * k))
    return "\n".join(lines) + "\n"


def qap_size(p: pl.PlacementProblem) -> int:
    """Locations (= facilities) of the QAP form: every crossbar slot of the mesh."""
    return p.n_cores * p.crossbars_per_core


def qap_big_m(p: pl.PlacementProblem) -> int:
    """The flow tying a group's units: more than the byte-hops of any placement."""
    return int(math.floor(sum(w for *_, w in p.traffic) * (p.mesh_rows + p.mesh_cols - 2))) + 1


def qap_leads(p: pl.PlacementProblem) -> list[int]:
    """Facility index of each group's lead unit (groups' units in order, then the dummies)."""
    leads, at = [], 0
    for s in p.groups:
        leads.append(at)
        at += s
    return leads


def qap_assignment(p: pl.PlacementProblem, cores: tuple[int, ...] | list[int]) -> list[int]:
    """The QAP permutation (facility -> location) of a placement: each core's slots filled by its
    groups' units in group order, the dummies in the free slots."""
    used = [0] * p.n_cores
    perm: list[int] = []
    for g, s in enumerate(p.groups):
        c = cores[g]
        perm += [c * p.crossbars_per_core + used[c] + u for u in range(s)]
        used[c] += s
    taken = set(perm)
    perm += [x for x in range(qap_size(p)) if x not in taken]
    return perm


def qaplib(inst: PlacementInstance, segment: int | None = None) -> str:
    """One segment's placement problem as a QAPLIB ``.dat`` (n, flow matrix, distance matrix)."""
    if not inst.problems:
        raise ExportError("the placement instance has no groups to place")
    if segment is None:
        if len(inst.problems) > 1:
            raise ExportError(f"the instance has {len(inst.problems)} segments and a QAPLIB file holds one "
                              f"problem: choose one with --segment 0..{len(inst.problems) - 1}")
        segment = 0
    if not 0 <= segment < len(inst.problems):
        raise ExportError(f"--segment {segment}: the instance has segments 0..{len(inst.problems) - 1}")
    p = inst.problems[segment]
    n = qap_size(p)
    if n > MAX_QAP_N:
        raise ExportError(f"QAP form has n = {p.n_cores} cores x {p.crossbars_per_core} crossbars = {n} "
                          f"locations, more than the {MAX_QAP_N} written (two {n} x {n} matrices)")
    pl.require_fit(p)
    flow = [["0"] * n for _ in range(n)]
    leads = qap_leads(p)
    big = str(qap_big_m(p))
    for g, s in enumerate(p.groups):
        for u in range(1, s):
            flow[leads[g]][leads[g] + u] = big
    for a, b, w in p.traffic:
        flow[leads[a]][leads[b]] = _num(w)
    hops = p.hop_matrix()
    per = p.crossbars_per_core
    dist = [" ".join(str(int(hops[x // per, y // per])) for y in range(n)) for x in range(n)]
    return "\n".join([str(n), "", *(" ".join(r) for r in flow), "", *dist]) + "\n"


def _dzn_strings(xs: list[str]) -> str:
    return "[" + ", ".join('"' + x.replace("\\", "\\\\").replace('"', '\\"') + '"' for x in xs) + "]"


def _dzn_ints(xs: list[int]) -> str:
    return "[" + ", ".join(str(x) for x in xs) + "]"


def dzn(inst: MemoryInstance) -> str:
    """The memory instance as MiniZinc data (see docs/instances.md for the model it fits)."""
    p = inst.problem
    spaces = list(p.capacity)
    index = {s: k + 1 for k, s in enumerate(spaces)}
    a = p.alignment
    fields: list[tuple[str, Any]] = [
        ("alignment", a),
        ("n_spaces", len(spaces)),
        ("space_name", _dzn_strings(spaces)),
        ("capacity_units", _dzn_ints([int(p.capacity[s]) // a for s in spaces])),
        ("spill_to", _dzn_ints([index[str(p.spill_to[s])] if p.spill_to.get(s) is not None else 0 for s in spaces])),
        ("n_buffers", len(p.buffers)),
        ("buffer_name", _dzn_strings([b.name for b in p.buffers])),
        ("size_units", _dzn_ints([mem.units(b.size_bytes, a) for b in p.buffers])),
        ("start_ns", _dzn_ints([b.start_ns for b in p.buffers])),
        ("end_ns", _dzn_ints([b.end_ns for b in p.buffers])),
        # the space the instance plans each buffer in (the spill rule is part of the instance)
        ("home", _dzn_ints([index[b.space] for b in mem.assign_spaces(p)[0].buffers])),
    ]
    head = ("% cimopt memory instance: dynamic storage allocation per space, each buffer in its home "
            "space (docs/instances.md)\n"
            "% minimise alignment * sum over spaces s of max(offset + size_units) over buffers placed in s\n")
    return head + "".join(f"{k} = {v};\n" for k, v in fields)


#: format -> (stage, writer, file suffix)
FORMATS: dict[str, tuple[str, Any, str]] = {
    "psplib": ("scheduling", psplib, ".sch"),
    "qaplib": ("placement", qaplib, ".dat"),
    "dzn": ("memory", dzn, ".dzn"),
}
