"""The program's end-to-end figures: its two bounds (`solver.e2e_bound`), physical limits and gaps.

Metrics (ns unless named), per inference in throughput mode (the batch's interval over its
inferences), of the batch's makespan in latency mode:

* ``e2e_objective_ns``: the objective (latency mode: makespan; throughput: time per inference).
* the **granularity-free bound** (`solver.e2e_bound.end_to_end_bound`, valid for every mapping
  at any chunk size, one vector included): ``e2e_bound_ns``, ``e2e_gap``
  ((objective - bound) / objective), ``e2e_bound_class.<class>`` per class; Program.extra
  ``e2e_limited_by`` names the class that sets it (`metric_name`).
* the **bound for the granularity used** (`solver.e2e_bound.chunked_bound`: chunks of whole
  output rows, what the compiler makes): ``e2e_chunked_bound_ns``, ``e2e_chunked_gap``,
  ``e2e_chunked_class.<class>``, extra ``e2e_chunked_limited_by``.
* the **bound for the placement used** (`solver.e2e_bound.placed_bound`: the granularity used and
  the NoC's cut bound of this placement's transfers, class ``noc-cut``): ``e2e_placed_bound_ns``,
  ``e2e_placed_gap``, ``e2e_placed_class.<class>``, extra ``e2e_placed_limited_by``.
* ``physical_limit_ns``: every crossbar busy all the time on the model's MVM work
  (`solver.e2e_bound.crossbar_work_ns`), a throughput limit of every mapping, at most both
  bounds; ``physical_limit_ratio`` (limit / objective).
* latency mode only, ``latency_limit_ns``: the physical latency limit
  (`solver.e2e_bound.latency_limit_ns`: the physical limit, or one vector through the longest
  chain when longer), at most the granularity-free bound; ``latency_limit_ratio``.
* ``program_crossbar_ns``: this program's MVM instructions' crossbar time over all crossbars, as
  `limit_check.py` counts it: the limit plus its row chunks' fills and rounding.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from cimopt.cost.model import CostModel
from cimopt.ir.graph import Graph
from cimopt.ir.workload import Workload
from cimopt.solver.e2e_bound import (E2EBound, bound_problem, chunked_bound, crossbar_work_ns, end_to_end_bound,
                                     latency_limit_ns, placed_bound, program_crossbar_ns)
from cimopt.solver.scheduling.tasks import TaskInfo
from cimopt.targets.spec import Target

#: the two bounds' metric prefixes and what the summary calls them
BOUNDS = (("free", "granularity-free bound"), ("chunked", "bound at the granularity used (chunk units: a Conv's vectors, a MatMul's rows)"),
          ("placed", "bound for this placement (granularity used and the NoC's cuts)"))
_NAMES = {"free": {"bound_ns": "e2e_bound_ns", "gap": "e2e_gap", "class": "e2e_bound_class",
                   "limited_by": "e2e_limited_by"},
          "chunked": {"bound_ns": "e2e_chunked_bound_ns", "gap": "e2e_chunked_gap", "class": "e2e_chunked_class",
                      "limited_by": "e2e_chunked_limited_by"},
          "placed": {"bound_ns": "e2e_placed_bound_ns", "gap": "e2e_placed_gap", "class": "e2e_placed_class",
                     "limited_by": "e2e_placed_limited_by"}}


def metric_name(bound: str, what: str) -> str:
    """The metric (``limited_by``: Program.extra) name of ``what`` ("bound_ns", "gap", "class",
    "limited_by") of ``bound`` (a key of `BOUNDS`): the end-to-end bound, granularity-free, has
    the names ``e2e_bound_ns``, ``e2e_gap``, ``e2e_bound_class.*``, ``e2e_limited_by``; the
    bound at the granularity used ``e2e_chunked_*``."""
    return _NAMES[bound][what]


@dataclass(frozen=True)
class E2EFigures:
    bound: E2EBound               # the granularity-free bound
    chunked: E2EBound             # the bound at the compiler's granularity
    metrics: tuple[tuple[str, float], ...]
    extra: tuple[tuple[str, str], ...]


def e2e_metrics(graph: Graph, workload: Workload, target: Target, cm: CostModel, mode: str,
                tasks: Sequence[TaskInfo], objective_ns: float, batch: int = 1,
                noc_cut_ns: float = 0.0) -> E2EFigures:
    """Bounds, physical limits and gaps of a program whose initiation interval (latency mode:
    makespan) is ``objective_ns`` for a batch of ``batch`` inferences, ``workload`` being the
    batched model; ``noc_cut_ns``: the routing stage's cut bound of its placement (ns per batch).

    Throughput mode compares time per inference (the interval over the batch); latency mode the
    makespan of the batch.  The bounds are computed on the batched workload (one reprogramming)."""
    bp = bound_problem(graph, workload, target, cm, mode)
    free, chunked, placed = end_to_end_bound(bp), chunked_bound(bp), placed_bound(bp, noc_cut_ns)
    scale = max(1, batch) if mode == "throughput" else 1
    per_inf = objective_ns / scale
    limit = crossbar_work_ns(bp) / scale
    own = program_crossbar_ns(((t.duration_ns, len(t.crossbars)) for t in tasks if t.kind == "mvm"),
                              target.total_crossbars, max(1, batch))
    metrics = [("e2e_objective_ns", per_inf), ("physical_limit_ns", limit), ("program_crossbar_ns", own),
               ("physical_limit_ratio", _ratio(limit, per_inf))]
    if mode == "latency":
        lat = latency_limit_ns(bp)
        metrics += [("latency_limit_ns", lat), ("latency_limit_ratio", _ratio(lat, per_inf))]
    extra = []
    for key, b in (("free", free), ("chunked", chunked), ("placed", placed)):
        value = b.value_ns / scale
        metrics += [(metric_name(key, "bound_ns"), value),
                    (metric_name(key, "gap"), (per_inf - value) / per_inf if per_inf > 0 else 0.0)]
        metrics += [(f"{metric_name(key, 'class')}.{k}", v / scale) for k, v in b.classes]
        extra.append((metric_name(key, "limited_by"), b.limited_by))
    return E2EFigures(free, chunked, tuple(metrics), tuple(extra))


def _ratio(a: float, b: float) -> float:
    return a / b if b > 0 else 0.0
