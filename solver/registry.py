"""The pipeline's stages, in the order they run.  A new stage is its subpackage (`cimopt.solver.<problem>`)
and a line here."""
from __future__ import annotations

from typing import Any

from cimopt.ir.errors import UsageError
from cimopt.solver.accuracy.stage import AccuracyStage
from cimopt.solver.granularity.stage import GranularityStage
from cimopt.solver.interface import Stage
from cimopt.solver.memory.stage import MemoryStage
from cimopt.solver.placement.stage import PlacementStage
from cimopt.solver.replication.stage import ReplicationStage
from cimopt.solver.routing.stage import RoutingStage
from cimopt.solver.scheduling.stage import SchedulingStage
from cimopt.solver.tiling.stage import TilingStage

STAGES: tuple[Stage[Any, Any], ...] = (AccuracyStage(), TilingStage(), ReplicationStage(), PlacementStage(),
                                       GranularityStage(), RoutingStage(), SchedulingStage(), MemoryStage())


def stage(name: str) -> Stage[Any, Any]:
    """The stage called ``name``."""
    for s in STAGES:
        if s.name == name:
            return s
    raise UsageError(f"no stage {name!r}; the stages are {', '.join(s.name for s in STAGES)}")
