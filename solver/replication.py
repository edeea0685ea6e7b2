"""Replication: how many copies of each layer's weights to hold on the chip.

Each layer ``l`` that uses crossbars can be held in ``r_l >= 1`` copies; its input vectors are
split across the copies, so its time per inference is

    t_l(r) = fixed_ns + ceil(units / r) * granule * interval_ns          (ns)

where a layer's ``vectors = units * granule`` are dealt to its copies in whole units of
``granule`` vectors (a Conv's output rows: a chunk is a range of rows, `cimopt.ir.chunks`), so
the busiest copy has ``ceil(units / r)`` of them;
and the copies cost ``crossbars * r`` crossbars out of the chip's ``budget``.  Two objectives:

- ``throughput``: minimise the pipeline bottleneck ``max_l t_l(r_l)`` (ns per inference);
- ``latency``: minimise the critical path of the layer DAG with node weights ``t_l(r_l)`` (ns).

Rules and preconditions:

- ``layers`` are in topological order and every edge ``(u, v)`` has ``u < v``.
- A layer with ``crossbars == 0`` (a vector or host op) holds no weights, so it has exactly one
  copy; a crossbar layer has at most ``max_copies`` copies (``0`` means up to ``vectors / granule``).
- The sum of the one-copy crossbar needs must fit the budget; otherwise the model has to be cut
  into segments (see `cimopt.solver.segmentation`) and `solve` raises `CapacityError`.

Methods: ``none`` (one copy each, PUMA-like), ``uniform`` (the largest common copy count that
fits), ``balance`` (PIMCOMP-style greedy on the bottleneck / critical path) and ``exact``
(CP-SAT, `cimopt.solver.replication_exact`).  Every method reports the lower bound of
`lower_bound`.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass

from cimopt.ir.errors import CapacityError
from cimopt.solver.budget import HEURISTIC_LAYER_S, Budget
from cimopt.solver.replication_bounds import water_filling_bound
from cimopt.solver.stats import SolverOptions, SolveStats, Status

STAGE = "replication"
MODES = ("throughput", "latency")
METHODS = ("none", "uniform", "balance")
_REL_TOL = 1e-9


@dataclass(frozen=True)
class Layer:
    """One layer as replication sees it.

    ``crossbars``: crossbars one copy of its weights needs (0 for vector/host ops);
    ``vectors``: input vectors per inference (batch x output positions), split across copies;
    ``interval_ns``: time per input vector on one copy (ns); ``fixed_ns``: per-inference time
    that does not shrink with copies (ns); ``max_copies``: copy cap (0 = up to ``vectors / granule``);
    ``program_ns``: time to write this layer's weights into its crossbars (ns; used only by
    segmentation, where all copies of a segment are written in parallel); ``granule``: vectors
    dealt to one copy together (1: any split; a row-chunked op's vectors per output row).
    """

    name: str
    crossbars: int
    vectors: int
    interval_ns: float
    fixed_ns: float = 0.0
    max_copies: int = 0
    program_ns: float = 0.0
    granule: int = 1

    def __post_init__(self) -> None:
        for field in ("crossbars", "vectors", "max_copies"):
            if getattr(self, field) < 0:
                raise ValueError(f"layer {self.name!r}: {field} must be >= 0, got {getattr(self, field)}")
        if self.granule < 1 or self.vectors % self.granule:
            raise ValueError(f"layer {self.name!r}: granule must be >= 1 and divide vectors ({self.vectors}), "
                             f"got {self.granule}")

    @property
    def units(self) -> int:
        """Whole units of `granule` vectors the copies share (output rows for a row-chunked op)."""
        return self.vectors // self.granule
        for field in ("interval_ns", "fixed_ns", "program_ns"):
            value = getattr(self, field)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"layer {self.name!r}: {field} must be finite and >= 0, got {value}")

    @property
    def copy_cap(self) -> int:
        """Most copies this layer may have, ignoring the budget: 1 for crossbar-free layers."""
        if self.crossbars == 0:
            return 1
        useful = max(1, self.units)
        return min(self.max_copies, useful) if self.max_copies > 0 else useful


@dataclass(frozen=True)
class ReplicationProblem:
    """Layers in topological order, DAG edges between their indices, chip crossbars, objective."""

    layers: tuple[Layer, ...]
    edges: tuple[tuple[int, int], ...]
    budget: int
    mode: str

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {self.mode!r}")
        if self.budget < 0:
            raise ValueError(f"budget must be >= 0 crossbars, got {self.budget}")
        n = len(self.layers)
        for u, v in self.edges:
            if not (0 <= u < v < n):
                raise ValueError(f"edge ({u}, {v}) must join layer indices u < v < {n} (topological order)")

    @property
    def one_copy_crossbars(self) -> int:
        """Crossbars needed to hold every layer once."""
        return sum(layer.crossbars for layer in self.layers)


@dataclass(frozen=True)
class Replication:
    """Copies per layer (same order as ``problem.layers``), each >= 1."""

    copies: tuple[int, ...]


def layer_time(layer: Layer, copies: int) -> float:
    """Time of ``layer`` per inference with ``copies`` copies (ns)."""
    if copies < 1:
        raise ValueError(f"layer {layer.name!r}: copies must be >= 1, got {copies}")
    return layer.fixed_ns + math.ceil(layer.units / copies) * layer.granule * layer.interval_ns


def crossbars_used(problem: ReplicationProblem, copies: tuple[int, ...] | list[int]) -> int:
    """Crossbars a copy vector occupies."""
    return sum(layer.crossbars * r for layer, r in zip(problem.layers, copies))


def finish_times(times: list[float], edges: tuple[tuple[int, int], ...]) -> list[float]:
    """Earliest finish time of each node of a DAG in topological order with node weights (ns)."""
    preds: list[list[int]] = [[] for _ in times]
    for u, v in edges:
        preds[v].append(u)
    finish: list[float] = []
    for v, t in enumerate(times):
        finish.append(max((finish[u] for u in preds[v]), default=0.0) + t)
    return finish


def schedule_value(times: list[float], edges: tuple[tuple[int, int], ...], mode: str) -> float:
    """Bottleneck (throughput) or critical path (latency) of given layer times (ns)."""
    if not times:
        return 0.0
    if mode == "throughput":
        return max(times)
    return max(finish_times(times, edges))


def objective(problem: ReplicationProblem, rep: Replication) -> float:
    """Bottleneck or critical path (ns) of ``rep``; raises ValueError if it breaks a rule."""
    if len(rep.copies) != len(problem.layers):
        raise ValueError(f"{len(rep.copies)} copy counts for {len(problem.layers)} layers")
    for layer, r in zip(problem.layers, rep.copies):
        if not 1 <= r <= layer.copy_cap:
            raise ValueError(f"layer {layer.name!r}: {r} copies outside [1, {layer.copy_cap}]")
    used = crossbars_used(problem, rep.copies)
    if used > problem.budget:
        raise ValueError(f"replication uses {used} crossbars, the chip has {problem.budget}")
    times = [layer_time(layer, r) for layer, r in zip(problem.layers, rep.copies)]
    return schedule_value(times, problem.edges, problem.mode)


def check_fits(problem: ReplicationProblem) -> None:
    """Raise `CapacityError` unless every layer fits once, all at the same time, in the budget."""
    for layer in problem.layers:
        if layer.crossbars > problem.budget:
            raise CapacityError(
                f"layer {layer.name!r} needs {layer.crossbars} crossbars for one copy of its "
                f"weights, the chip has {problem.budget}: use a target with more crossbars"
            )
    need = problem.one_copy_crossbars
    if need > problem.budget:
        raise CapacityError(
            f"the model needs {need} crossbars for one copy of every layer, the chip has "
            f"{problem.budget} (short by {need - problem.budget}): cut it into segments with "
            "cimopt.solver.segmentation.segment"
        )


def max_copies_alone(problem: ReplicationProblem) -> tuple[int, ...]:
    """Most copies each layer could get if every other layer kept one copy."""
    spare = problem.budget - problem.one_copy_crossbars
    caps: list[int] = []
    for layer in problem.layers:
        if layer.crossbars == 0:
            caps.append(1)
        else:
            caps.append(max(1, min(layer.copy_cap, 1 + spare // layer.crossbars)))
    return tuple(caps)


def next_useful(layer: Layer, copies: int) -> int | None:
    """Smallest copy count above ``copies`` that shortens the layer, or None if none helps."""
    q = math.ceil(layer.units / copies)
    if q <= 1 or layer.interval_ns == 0:
        return None
    nxt = math.ceil(layer.units / (q - 1))
    return nxt if nxt <= layer.copy_cap else None


def useful_copies(layer: Layer, limit: int) -> list[int]:
    """Breakpoints: the copy counts in [1, limit] at which ``ceil(units / r)`` drops."""
    out = [1]
    while True:
        nxt = next_useful(layer, out[-1])
        if nxt is None or nxt > limit:
            return out
        out.append(nxt)


def none_copies(problem: ReplicationProblem) -> tuple[int, ...]:
    """One copy of every layer (PUMA-like)."""
    return tuple(1 for _ in problem.layers)


def uniform_copies(problem: ReplicationProblem) -> tuple[int, ...]:
    """The largest common copy count r (capped per layer by its copy cap) whose copies all fit."""
    def fill(r: int) -> tuple[int, ...]:
        return tuple(min(r, layer.copy_cap) for layer in problem.layers)

    lo, hi = 1, max((layer.copy_cap for layer in problem.layers), default=1)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if crossbars_used(problem, fill(mid)) <= problem.budget:
            lo = mid
        else:
            hi = mid - 1
    return fill(lo)


def _out_of_time(budget: Budget | None, problem: ReplicationProblem) -> bool:
    """Charge one greedy step (`HEURISTIC_LAYER_S` per layer) and say whether ``budget`` is spent."""
    if budget is None:
        return False
    budget.spend(len(problem.layers) * HEURISTIC_LAYER_S)
    return budget.expired


def _balance_throughput(problem: ReplicationProblem, budget: Budget | None = None) -> list[int]:
    layers = problem.layers
    copies = [1] * len(layers)
    used = problem.one_copy_crossbars
    while layers and not _out_of_time(budget, problem):
        times = [layer_time(layer, r) for layer, r in zip(layers, copies)]
        worst = max(times)
        steps: list[tuple[int, int]] = []
        for index, t in enumerate(times):
            if t == worst:
                nxt = next_useful(layers[index], copies[index])
                if nxt is None:
                    return copies
                steps.append((index, nxt))
        extra = sum(layers[i].crossbars * (nxt - copies[i]) for i, nxt in steps)
        if used + extra > problem.budget:
            return copies
        for index, nxt in steps:
            copies[index] = nxt
        used += extra
    return copies


def _critical_layers(times: list[float], edges: tuple[tuple[int, int], ...]) -> list[int]:
    """Layers with zero slack: on some longest path of the DAG."""
    finish = finish_times(times, edges)
    length = max(finish)
    succs: list[list[int]] = [[] for _ in times]
    for u, v in edges:
        succs[u].append(v)
    latest = [0.0] * len(times)
    for u in range(len(times) - 1, -1, -1):
        latest[u] = min((latest[v] - times[v] for v in succs[u]), default=length)
    tol = _REL_TOL * max(length, 1.0)
    return [v for v in range(len(times)) if latest[v] - finish[v] <= tol]


#: latency-mode balance evaluates exactly (a full critical-path pass) only this many candidates per
#: step, the ones whose own time drops most per extra crossbar (single layers, then cuts)
_LATENCY_CANDIDATES = 4


def _critical_cuts(times: list[float], finish: list[float], critical: list[int],
                   tol: float) -> list[tuple[int, ...]]:
    """The distinct sets of critical layers running at one instant (sorted, first seen first).

    A critical layer starts at ``finish - time`` and has no slack, so on every longest path the
    layers' intervals tile [0, length]: at an instant strictly inside a layer's interval exactly
    one layer of each longest path runs, and the set of critical layers running then is a cut of
    every longest path.  Shortening all its layers is the joint step parallel branches need."""
    events: list[tuple[float, int, int]] = []  # (time, 0 = end / 1 = start, layer)
    for v in critical:
        if times[v] > tol:
            events.append((finish[v] - times[v], 1, v))
            events.append((finish[v], 0, v))
    events.sort()
    active: set[int] = set()
    cuts: list[tuple[int, ...]] = []
    seen: set[tuple[int, ...]] = set()
    for k, (at, kind, v) in enumerate(events):
        if kind == 1:
            active.add(v)
        else:
            active.discard(v)
        nxt = events[k + 1][0] if k + 1 < len(events) else at
        if active and nxt - at > tol:
            cut = tuple(sorted(active))
            if cut not in seen:
                seen.add(cut)
                cuts.append(cut)
    return cuts


def _balance_latency(problem: ReplicationProblem, budget: Budget | None = None) -> list[int]:
    layers, edges = problem.layers, problem.edges
    copies = [1] * len(layers)
    used = problem.one_copy_crossbars
    times = [layer_time(layer, 1) for layer in layers]
    preds: list[list[int]] = [[] for _ in layers]
    for u, v in edges:
        preds[v].append(u)

    def length_with(new: dict[int, float], finish: list[float]) -> float:
        """Critical path with the layers of ``new`` at their new times: only the suffix from the
        first of them is recomputed."""
        first = min(new)
        f = finish[:first]
        for v in range(first, len(times)):
            f.append(max((f[u] for u in preds[v]), default=0.0) + new.get(v, times[v]))
        return max(f)

    def step(index: int) -> tuple[int, float, int] | None:
        """(copies, time, extra crossbars) of ``index``'s next breakpoint, None if none helps."""
        nxt = next_useful(layers[index], copies[index])
        if nxt is None:
            return None
        return nxt, layer_time(layers[index], nxt), layers[index].crossbars * (nxt - copies[index])

    while layers and not _out_of_time(budget, problem):
        finish = finish_times(times, edges)
        current = max(finish)
        critical = _critical_layers(times, edges)
        steps = {v: s for v in critical if (s := step(v)) is not None}
        # single layers first; cuts of parallel critical paths (every layer of the cut steps)
        # only when no single step shortens the critical path
        best: tuple[float, tuple[int, ...]] | None = None  # (gain per crossbar, layers)
        for phase in (0, 1):
            if phase == 0:
                group = [((times[v] - s[1]) / max(s[2], 1), (v,)) for v, s in steps.items()]
            else:
                group = []
                for cut in _critical_cuts(times, finish, critical, _REL_TOL * max(current, 1.0)):
                    if len(cut) > 1 and all(v in steps for v in cut):
                        extra = sum(steps[v][2] for v in cut)
                        group.append((min(times[v] - steps[v][1] for v in cut) / max(extra, 1), cut))
            fitting = [(own, cut) for own, cut in group
                       if used + sum(steps[v][2] for v in cut) <= problem.budget]
            fitting.sort(key=lambda c: (-c[0], c[1]))
            for _, cut in fitting[:_LATENCY_CANDIDATES]:
                extra = sum(steps[v][2] for v in cut)
                gain = (current - length_with({v: steps[v][1] for v in cut}, finish)) / max(extra, 1)
                if gain > 0 and (best is None or gain > best[0]):
                    best = (gain, cut)
            if best is not None:
                break
        if best is None:
            return copies
        for v in best[1]:
            nxt, new_time, extra = steps[v]
            used += extra
            copies[v], times[v] = nxt, new_time
    return copies


def balance_copies(problem: ReplicationProblem, budget: Budget | None = None) -> tuple[int, ...]:
    """PIMCOMP-style greedy from one copy each.

    Throughput: give the bottleneck layer (all tied bottleneck layers together) the fewest extra
    copies that shorten it (its next breakpoint); stop when that does not fit or cannot help.
    With this step rule the greedy is optimal for the throughput objective (every layer it
    grows must grow at least that much in any better solution).  Latency: among the layers on a
    critical path, take the few whose own time drops most per extra crossbar, and give the next
    breakpoint to the one whose step shortens the critical path most per extra crossbar.  When
    no single layer's step shortens it (parallel critical paths, e.g. the two expand branches
    of every SqueezeNet fire module), step every layer of a cut of the critical paths together
    (the critical layers running at one instant, `_critical_cuts`), the cut that shortens the
    critical path most per extra crossbar among the few cheapest.  Stop when no single step
    and no cut step fits the budget and shortens the critical path (a local optimum).

    ``budget``: a time budget asked before every step (each step charged `HEURISTIC_LAYER_S` per
    layer in deterministic mode); when it runs out the copies so far are returned (check
    ``budget.expired`` to tell).
    """
    if problem.mode == "throughput":
        return tuple(_balance_throughput(problem, budget))
    return tuple(_balance_latency(problem, budget))


def lower_bound(problem: ReplicationProblem) -> tuple[float, str]:
    """A lower bound of the optimum (ns) and its name.

    Throughput: max of ``max_l t_l(r_max_l)`` (each layer at the most copies it could get
    alone) and the water-filling bound.  Latency: max of the critical path with each layer at
    ``r_max_l`` and the water-filling bound (the critical path is at least the bottleneck).
    """
    rmax = max_copies_alone(problem)
    times = [layer_time(layer, r) for layer, r in zip(problem.layers, rmax)]
    alone = schedule_value(times, problem.edges, problem.mode)
    water = water_filling_bound(problem)
    alone_kind = "per_layer_max_copies" if problem.mode == "throughput" else "critical_path_max_copies"
    if water > alone:
        return water, "water_filling"
    return alone, alone_kind


def heuristic_copies(problem: ReplicationProblem, method: str,
                     budget: Budget | None = None) -> tuple[int, ...]:
    """Copies chosen by heuristic ``method`` (none | uniform | balance; ``budget`` limits balance)."""
    if method == "none":
        return none_copies(problem)
    if method == "uniform":
        return uniform_copies(problem)
    if method == "balance":
        return balance_copies(problem, budget)
    raise ValueError(f"unknown heuristic {method!r}; expected none, uniform or balance")


def solve(
    problem: ReplicationProblem, method: str = "balance", options: SolverOptions | None = None
) -> tuple[Replication, SolveStats]:
    """Replicate with heuristic ``method`` (none | uniform | balance); objective and bound in ns.

    The exact method is `cimopt.solver.replication_exact.solve_exact`."""
    if method not in METHODS:
        raise ValueError(f"unknown replication method {method!r}; expected one of {METHODS}")
    check_fits(problem)
    options = options or SolverOptions()
    start = time.perf_counter()
    budget = Budget.of(options)
    rep = Replication(heuristic_copies(problem, method, budget))
    stopped = method == "balance" and budget.expired
    value = objective(problem, rep)
    bound, kind = lower_bound(problem)  # valid for the instance: never clamped to this method's value
    proven = value - bound <= _REL_TOL * max(abs(value), 1.0)
    stats = SolveStats(
        stage=STAGE,
        method=method,
        status=Status.OPTIMAL if proven else Status.FEASIBLE,
        objective=value,
        bound=bound,
        wall_s=time.perf_counter() - start,
        bound_kind=kind,
        exact=False,
        note=f"mode={problem.mode}; {crossbars_used(problem, rep.copies)}/{problem.budget} crossbars"
        + (f"; stopped by the {'deterministic ' if budget.deterministic else ''}time limit of "
           f"{budget.total:.3g} s: copies so far" if stopped else ""),
    )
    return rep, stats
