"""Memory's problem: buffers with lifetimes, the spaces they may live in, and a plan (see
`cimopt.solver.memory.heuristic` for the rules and the methods); the stage's instance (the
problem with the inferences in flight) and its solution (`MemoryResult`).  Sizes in bytes, times
in ns."""
from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

STAGE = "memory"


class FrozenMap(Mapping[str, object]):
    """An immutable, hashable str-keyed mapping (so problems and plans stay frozen and hashable)."""

    __slots__ = ("_data",)

    def __init__(self, items: Mapping[str, object] | Iterable[tuple[str, object]] = ()) -> None:
        pairs = items.items() if isinstance(items, Mapping) else items
        self._data: dict[str, object] = dict(sorted(pairs, key=lambda kv: kv[0]))

    def __getitem__(self, key: str) -> object:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __hash__(self) -> int:
        return hash(tuple(self._data.items()))

    def __repr__(self) -> str:
        return f"FrozenMap({self._data!r})"


@dataclass(frozen=True)
class Buffer:
    """One intermediate buffer: ``size_bytes`` live on ``[start_ns, end_ns)`` in memory ``space``."""

    name: str
    size_bytes: int
    start_ns: int
    end_ns: int
    space: str

    def __post_init__(self) -> None:
        if self.size_bytes < 0 or self.end_ns < self.start_ns:
            raise ValueError(f"buffer {self.name}: needs size_bytes >= 0 and start_ns <= end_ns, "
                             f"got {self.size_bytes} B on [{self.start_ns}, {self.end_ns}) ns")


@dataclass(frozen=True)
class MemoryProblem:
    """Buffers, capacity (bytes) per space, the spill chain and the alignment (bytes)."""

    buffers: tuple[Buffer, ...]
    capacity: Mapping[str, int]
    spill_to: Mapping[str, str | None]
    alignment: int = 64

    def __post_init__(self) -> None:
        object.__setattr__(self, "buffers", tuple(self.buffers))
        object.__setattr__(self, "capacity", FrozenMap(self.capacity))
        object.__setattr__(self, "spill_to", FrozenMap(self.spill_to))
        if self.alignment <= 0:
            raise ValueError(f"alignment must be a positive byte count, got {self.alignment}")
        for b in self.buffers:
            if b.space not in self.capacity:
                raise ValueError(f"buffer {b.name}: space {b.space!r} has no capacity")
        for space in self.capacity:
            seen = [space]
            nxt = self.spill_to.get(space)
            while nxt is not None:
                if nxt not in self.capacity or nxt in seen:
                    raise ValueError(f"spill chain {' -> '.join(seen + [nxt])} is not a path of "
                                     "spaces with a capacity")
                seen.append(nxt)
                nxt = self.spill_to.get(nxt)

    def chain(self, space: str) -> list[str]:
        """``space`` and the spaces it spills to, in order."""
        out = [space]
        while (nxt := self.spill_to.get(out[-1])) is not None:
            out.append(str(nxt))
        return out


@dataclass(frozen=True)
class MemoryPlan:
    """Final space, offset (bytes, aligned) and slot (colour) per buffer; peak bytes per space."""

    space_of: tuple[str, ...]
    offset: tuple[int, ...]
    slot: tuple[int, ...]
    peak: Mapping[str, int]

    def __post_init__(self) -> None:
        object.__setattr__(self, "peak", FrozenMap(self.peak))

    @property
    def total_peak(self) -> int:
        """Sum of the per-space peaks, bytes."""
        return sum(int(v) for v in self.peak.values())


def units(size_bytes: int, alignment: int) -> int:
    """Size in alignment units, rounded up."""
    return -(-size_bytes // alignment)


@dataclass(frozen=True)
class MemoryInstance:
    """Buffers of one inference, each in the space it is planned in, with the spaces' capacities
    (bytes); the inferences in flight; the spill rule's moves from the buffers' homes, as (from
    space, to space, buffers)."""

    problem: MemoryProblem
    copies: int
    spilled: tuple[tuple[str, str, int], ...] = ()


@dataclass(frozen=True)
class MemoryResult:
    """A memory plan and the instance it plans."""

    instance: MemoryInstance
    plan: MemoryPlan
