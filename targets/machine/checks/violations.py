"""What a check of a program against its target reports: a `Violation` (a kind and a message),
collected in a `Report` (at most `MAX_PER_KIND` messages a kind, then a count of the rest)."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

MAX_PER_KIND = 50


@dataclass(frozen=True)
class Violation:
    #: dependency | missing-dependency | resource | crossbar | memory-overlap | capacity | duration | schema | data
    kind: str
    message: str


class Report:
    """Violations, at most `MAX_PER_KIND` messages per kind."""

    def __init__(self) -> None:
        self.items: list[Violation] = []
        self.counts: dict[str, int] = defaultdict(int)

    def add(self, kind: str, message: str) -> None:
        self.counts[kind] += 1
        if self.counts[kind] <= MAX_PER_KIND:
            self.items.append(Violation(kind, message))

    def result(self) -> tuple[Violation, ...]:
        extra = [Violation(k, f"... and {n - MAX_PER_KIND} more {k} violations") for k, n in self.counts.items()
                 if n > MAX_PER_KIND]
        return tuple(self.items + extra)
