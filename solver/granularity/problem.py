"""The granularity problem: chunks per crossbar op under a task budget.

A crossbar op ``l`` has ``copies`` copies sharing ``units`` output units (a Conv's vectors, a
Gemm's or MatMul's rows), ``unit_ns`` ns of MVM per unit on one copy and ``fixed_ns`` ns of fill
per MVM instruction.  It is cut into ``copies * k`` chunks, ``k`` (chunks per copy) in
``[k_min, k_max]``; each copy runs ``k`` chunks one after the other:

    t_l(k) = k * fixed_ns + ceil(units / copies) * unit_ns        (the copy's busy time, ns)
    c_l(k) = fixed_ns + ceil(units / (copies * k)) * unit_ns       (one chunk, ns)

Ops that are not decided here (vector and host ops: ``copies == 0``) have fixed ``t`` and ``c``.
Finer chunks let a consumer start after its producers' first chunks, at the cost of more fills
and more tasks.  The estimate of one inference's makespan (latency mode), a pipelined DAG:

    start_v  = max over producers u of (start_u + c_u)
    finish_v = max(start_v + t_v, max over producers u of finish_u + c_v)
    L        = max_v finish_v

and of the interval (throughput mode) ``max_l t_l`` (every inference pipelines with the next
anyway).  Constraint: ``sum copies_l * k_l <= budget`` (MVM tasks).  All times are integer ns.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from cimopt.ir.errors import UsageError

STAGE = "granularity"
MODES = ("latency", "throughput")


@dataclass(frozen=True)
class ChunkOp:
    """One op of the problem (times in integer ns; ``copies == 0``: not decided, ``t``/``c`` fixed)."""

    name: str
    copies: int
    units: int
    unit_ns: int
    fixed_ns: int
    k_min: int = 1
    k_max: int = 1
    t_fixed: int = 0
    c_fixed: int = 0

    def __post_init__(self) -> None:
        if self.copies < 0 or self.units < 0 or self.unit_ns < 0 or self.fixed_ns < 0:
            raise UsageError(f"granularity op {self.name}: copies, units and times must be >= 0")
        if self.copies and not 1 <= self.k_min <= self.k_max:
            raise UsageError(f"granularity op {self.name}: need 1 <= k_min <= k_max, got {self.k_min}, {self.k_max}")

    @property
    def decided(self) -> bool:
        return self.copies > 0

    def busy_ns(self, k: int) -> int:
        """t(k): a copy's busy time with ``k`` chunks (ns)."""
        if not self.decided:
            return self.t_fixed
        return k * self.fixed_ns + math.ceil(self.units / self.copies) * self.unit_ns

    def chunk_ns(self, k: int) -> int:
        """c(k): one chunk's time (ns)."""
        if not self.decided:
            return self.c_fixed
        return self.fixed_ns + math.ceil(self.units / (self.copies * k)) * self.unit_ns


@dataclass(frozen=True)
class GranularityProblem:
    """Ops in topological order, edges ``(u, v)`` with ``u < v``, the mode and the MVM task budget."""

    ops: tuple[ChunkOp, ...]
    edges: tuple[tuple[int, int], ...]
    mode: str
    budget: int

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise UsageError(f"granularity: mode must be one of {', '.join(MODES)}, got {self.mode!r}")
        n = len(self.ops)
        for u, v in self.edges:
            if not 0 <= u < v < n:
                raise UsageError(f"granularity: edge ({u}, {v}) is not forward between 0 and {n - 1}")
        if self.min_tasks > self.budget:
            raise UsageError(f"granularity: the fewest chunks ({self.min_tasks}) exceed the budget ({self.budget})")

    @property
    def min_tasks(self) -> int:
        return sum(o.copies * o.k_min for o in self.ops)

    def start(self) -> tuple[int, ...]:
        """The fewest chunks: ``k_min`` per op."""
        return tuple(o.k_min if o.decided else 1 for o in self.ops)


@dataclass(frozen=True)
class GranularityInstance:
    """The stage's instance: the problem (its ops carry their names)."""

    problem: GranularityProblem


@dataclass(frozen=True)
class Granularity:
    """Chunks per copy of every op (1 for ops not decided) and, for the decided ops, their
    chunk counts by name (copies x chunks per copy: what the task graph cuts)."""

    per_copy: tuple[int, ...]
    counts: tuple[tuple[str, int], ...] = ()


def granularity(p: GranularityProblem, k: tuple[int, ...]) -> Granularity:
    """Choice ``k`` with its chunk counts."""
    return Granularity(tuple(k), tuple((o.name, o.copies * x) for o, x in zip(p.ops, k) if o.decided))


def tasks(p: GranularityProblem, k: tuple[int, ...]) -> int:
    """MVM tasks of choice ``k``."""
    return sum(o.copies * x for o, x in zip(p.ops, k))


def predecessors(p: GranularityProblem) -> list[list[int]]:
    """Each op's producers."""
    preds: list[list[int]] = [[] for _ in p.ops]
    for u, v in p.edges:
        preds[v].append(u)
    return preds


def start_finish(p: GranularityProblem, k: tuple[int, ...],
                 preds: list[list[int]] | None = None) -> tuple[list[int], list[int]]:
    """Every op's estimated start and finish (ns) under choice ``k`` (the module docstring's recurrence)."""
    preds = predecessors(p) if preds is None else preds
    start = [0] * len(p.ops)
    finish = [0] * len(p.ops)
    for v, o in enumerate(p.ops):
        c, t = o.chunk_ns(k[v]), o.busy_ns(k[v])
        start[v] = max((start[u] + p.ops[u].chunk_ns(k[u]) for u in preds[v]), default=0)
        finish[v] = max([start[v] + t] + [finish[u] + c for u in preds[v]])
    return start, finish


def finish_times(p: GranularityProblem, k: tuple[int, ...]) -> list[int]:
    """Every op's estimated finish (ns) under choice ``k``."""
    return start_finish(p, k)[1]


def critical_ops(p: GranularityProblem, k: tuple[int, ...], preds: list[list[int]] | None = None) -> set[int]:
    """The ops whose start or finish sets the estimated makespan (traced back from the last finish)."""
    preds = predecessors(p) if preds is None else preds
    start, finish = start_finish(p, k, preds)
    if not finish:
        return set()
    todo = [max(range(len(finish)), key=finish.__getitem__)]
    seen: set[int] = set()
    while todo:
        v = todo.pop()
        if v in seen:
            continue
        seen.add(v)
        c, t = p.ops[v].chunk_ns(k[v]), p.ops[v].busy_ns(k[v])
        for u in preds[v]:
            if finish[u] + c == finish[v] or (start[v] + t == finish[v]
                                              and start[u] + p.ops[u].chunk_ns(k[u]) == start[v]):
                todo.append(u)
    return seen


def objective(p: GranularityProblem, k: tuple[int, ...]) -> int:
    """The estimate (ns): the makespan (latency) or the busiest copy (throughput)."""
    if p.mode == "throughput":
        return max((o.busy_ns(x) for o, x in zip(p.ops, k)), default=0)
    return max(finish_times(p, k), default=0)


def violations(p: GranularityProblem, k: tuple[int, ...]) -> list[str]:
    """What choice ``k`` breaks: its length, an op outside ``[k_min, k_max]``, the budget."""
    if len(k) != len(p.ops):
        return [f"{len(k)} choices for {len(p.ops)} ops"]
    out = [f"op {o.name}: {x} chunks per copy outside [{o.k_min}, {o.k_max}]"
           for o, x in zip(p.ops, k) if o.decided and not o.k_min <= x <= o.k_max]
    out += [f"op {o.name}: not decided here, must be 1, got {x}" for o, x in zip(p.ops, k) if not o.decided and x != 1]
    if tasks(p, k) > p.budget:
        out.append(f"{tasks(p, k)} MVM tasks exceed the budget of {p.budget}")
    return out


def lower_bound(p: GranularityProblem) -> int:
    """A lower bound of `objective` over every feasible choice: the busiest op at its fewest
    chunks (t grows with k) and, in latency mode, the estimate with every t at its ``k_min``
    value and every c at its ``k_max`` value (c shrinks with k; the recurrence is monotone)."""
    t_lo = max((o.busy_ns(o.k_min if o.decided else 1) for o in p.ops), default=0)
    if p.mode == "throughput":
        return t_lo
    preds: list[list[int]] = [[] for _ in p.ops]
    for u, v in p.edges:
        preds[v].append(u)
    start = [0] * len(p.ops)
    finish = [0] * len(p.ops)
    for v, o in enumerate(p.ops):
        kmin, kmax = (o.k_min, o.k_max) if o.decided else (1, 1)
        start[v] = max((start[u] + p.ops[u].chunk_ns(p.ops[u].k_max if p.ops[u].decided else 1)
                        for u in preds[v]), default=0)
        finish[v] = max([start[v] + o.busy_ns(kmin)] + [finish[u] + o.chunk_ns(kmax) for u in preds[v]])
    return max(max(finish, default=0), t_lo)
