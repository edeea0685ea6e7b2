"""What the pipeline knows while it runs: the front end's graph and workload, the target, the
cost model, the requested mode, and each stage's decision as it is taken."""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from cimopt.cost.adc_error import LayerSignal
from cimopt.cost.model import CostModel
from cimopt.ir.graph import Graph
from cimopt.ir.tiles import Tile
from cimopt.ir.workload import Workload
from cimopt.solver.mapping import Mapping
from cimopt.solver.memory.problem import MemoryResult
from cimopt.solver.scheduling.problem import Schedule
from cimopt.solver.scheduling.tasks import TaskGraph
from cimopt.targets.spec import Target


@dataclass
class Context:
    """Inputs of the pipeline and the decisions of the stages run so far (None: not yet taken)."""

    graph: Graph
    workload: Workload
    target: Target
    cost: CostModel
    mode: str                          # requested: latency | throughput
    chunks: int                        # the fewest chunks per crossbar op (the granularity stage may cut finer)
    batch: int = 1                     # inferences per program run (`cimopt.batching`: per reprogramming)
    budget: int = 0                    # crossbars replication may use (set by the tiling stage)
    task_budget: int = 2000            # MVM tasks (all segments) the granularity stage may cut (at least one per copy)
    tiles: dict[str, tuple[Tile, ...]] | None = None
    mapping: Mapping | None = None     # segments and copies (replication), then where (placement)
    tasks: TaskGraph | None = None     # the tasks the schedule times (scheduling)
    schedule: Schedule | None = None
    memory: MemoryResult | None = None
    #: things the user asked for that were done another way, said on stderr and in the program
    warnings: list[str] = field(default_factory=list)
    #: accuracy budget (dB of output SQNR) and the error model's per-layer signals, or None
    min_sqnr_db: float | None = None
    adc_signals: dict[str, LayerSignal] | None = None
    #: rows driven per ADC conversion per crossbar op (the accuracy stage's choice; absent: all)
    rows_per_conversion: dict[str, int] = field(default_factory=dict)
    #: the error model's output SQNR (dB) for that choice (None: no accuracy budget)
    predicted_sqnr_db: float | None = None
    #: decisions of stages without a field above, by stage name (a new stage's `apply` records
    #: its solution here and the stages after it read it from here)
    decisions: dict[str, Any] = field(default_factory=dict)

    @property
    def effective_mode(self) -> str:
        """The mode the schedule optimises: the requested one, latency when the model is segmented."""
        if self.mapping is not None and len(self.mapping.segments) > 1:
            return "latency"
        return self.mode

    @property
    def makespan_ns(self) -> int:
        """Makespan of the scheduled task graph (ns)."""
        assert self.tasks is not None and self.schedule is not None, "scheduling has not run"
        return max((s + t.duration_ns for s, t in zip(self.schedule.start_ns, self.tasks.tasks)), default=0)

    def fork(self) -> Context:
        """A copy to run later stages on without touching this one (stages replace, never mutate,
        what they decide; the graph, workload, target and cost model are shared)."""
        return replace(self, warnings=list(self.warnings), decisions=dict(self.decisions))

    @property
    def objective_ns(self) -> float:
        """The program's end-to-end objective (ns): makespan in latency mode, the interval per
        inference (over the batch) in throughput mode."""
        return self.interval_ns / max(1, self.batch) if self.mode == "throughput" else float(self.makespan_ns)

    @property
    def interval_ns(self) -> int:
        """Initiation interval (ns): the schedule's in throughput mode, the makespan otherwise."""
        assert self.schedule is not None, "scheduling has not run"
        return self.schedule.initiation_interval_ns if self.effective_mode == "throughput" else self.makespan_ns
