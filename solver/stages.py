"""The pipeline's stages, in the order they run.  A new stage is a module and a line here."""
from __future__ import annotations

from typing import Any

from cimopt.ir.errors import UsageError

from .stage import Stage
from .stage_accuracy import AccuracyStage
from .stage_memory import MemoryStage
from .stage_placement import PlacementStage
from .stage_replication import ReplicationStage
from .stage_scheduling import SchedulingStage
from .stage_tiling import TilingStage

STAGES: tuple[Stage[Any, Any], ...] = (AccuracyStage(), TilingStage(), ReplicationStage(), PlacementStage(),
                                       SchedulingStage(), MemoryStage())


def stage(name: str) -> Stage[Any, Any]:
    """The stage called ``name``."""
    for s in STAGES:
        if s.name == name:
            return s
    raise UsageError(f"no stage {name!r}; the stages are {', '.join(s.name for s in STAGES)}")
