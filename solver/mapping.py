"""Where every tile lives: the replication stage's segments and copies, the placement stage's
crossbars and the core each op runs on."""
from __future__ import annotations

from dataclasses import dataclass, field

from cimopt.ir.tiles import Tile


@dataclass
class Mapping:
    """Where every tile lives, per segment."""

    segments: list[list[str]]                       # op names per segment, topological order
    copies: dict[str, int]
    tiles: dict[str, tuple[Tile, ...]]              # one copy's tiles per crossbar op
    #: (op, replica) -> its tiles' (core, crossbar, tile)
    where: dict[tuple[str, int], list[tuple[int, int, Tile]]] = field(default_factory=dict)
    home: dict[str, int] = field(default_factory=dict)   # op -> core that runs it (-1: host)

    def segment_of(self) -> dict[str, int]:
        return {op: s for s, ops in enumerate(self.segments) for op in ops}

    def crossbars_used(self) -> int:
        """Crossbars of the largest segment."""
        return max((sum(len(v) for (op, _), v in self.where.items() if op in set(seg)) for seg in self.segments),
                   default=0)
