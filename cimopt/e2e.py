"""The program's end-to-end figures: its bound (`solver.e2e_bound`), physical limit and gap.

Metrics (ns unless named): ``e2e_bound_ns``, ``physical_limit_ns`` (every crossbar busy all
the time on the model's MVM work, `solver.e2e_bound.crossbar_work_ns`: a limit of every mapping,
at most the bound), ``program_crossbar_ns`` (this program's MVM instructions' crossbar time over
all crossbars, as `limit_check.py` counts it: the limit plus its row chunks' fills and rounding),
``e2e_objective_ns`` (latency mode: makespan; throughput: time per inference),
``e2e_gap`` ((objective - bound) / objective), ``physical_limit_ratio`` (limit / objective) and
``e2e_bound_class.<class>`` per resource class; Program.extra ``e2e_limited_by`` names the class
that sets the bound.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from cimopt.cost.model import CostModel
from cimopt.ir.graph import Graph
from cimopt.ir.workload import Workload
from cimopt.solver.e2e_bound import bound_problem, crossbar_work_ns, E2EBound, end_to_end_bound, program_crossbar_ns
from cimopt.solver.scheduling.tasks import TaskInfo
from cimopt.targets.spec import Target


@dataclass(frozen=True)
class E2EFigures:
    bound: E2EBound
    metrics: tuple[tuple[str, float], ...]
    extra: tuple[tuple[str, str], ...]


def e2e_metrics(graph: Graph, workload: Workload, target: Target, cm: CostModel, mode: str,
                tasks: Sequence[TaskInfo], objective_ns: float, batch: int = 1) -> E2EFigures:
    """Bound, physical limit and gap of a program whose initiation interval (latency mode: makespan)
    is ``objective_ns`` for a batch of ``batch`` inferences, ``workload`` being the batched model.

    Throughput mode compares time per inference (the interval over the batch); latency mode the
    makespan of the batch.  The bound is computed on the batched workload (one reprogramming)."""
    bp = bound_problem(graph, workload, target, cm, mode)
    bound = end_to_end_bound(bp)
    scale = max(1, batch) if mode == "throughput" else 1
    per_inf = objective_ns / scale
    value = bound.value_ns / scale
    limit = crossbar_work_ns(bp) / scale
    own = program_crossbar_ns(((t.duration_ns, len(t.crossbars)) for t in tasks if t.kind == "mvm"),
                              target.total_crossbars, max(1, batch))
    metrics = [("e2e_bound_ns", value), ("physical_limit_ns", limit), ("program_crossbar_ns", own),
               ("e2e_objective_ns", per_inf),
               ("e2e_gap", (per_inf - value) / per_inf if per_inf > 0 else 0.0),
               ("physical_limit_ratio", limit / per_inf if per_inf > 0 else 0.0)]
    metrics += [(f"e2e_bound_class.{k}", v / scale) for k, v in bound.classes]
    return E2EFigures(bound, tuple(metrics), (("e2e_limited_by", bound.limited_by),))
