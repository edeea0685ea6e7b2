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
  into segments (see `cimopt.solver.segmentation.heuristic`) and `solve` raises `CapacityError`.

Methods: ``none`` (one copy each, PUMA-like), ``uniform`` (the largest common copy count that
fits), ``balance`` (PIMCOMP-style greedy on the bottleneck / critical path) and ``exact``
(CP-SAT, `cimopt.solver.replication.exact`).  Every method reports the lower bound of
`lower_bound`.
"""
from __future__ import annotations

import time

from cimopt.solver.budget import Budget, HEURISTIC_LAYER_S
from cimopt.solver.replication.bounds import water_filling_bound
from cimopt.solver.replication.problem import (  # the problem model, re-exported: rp.Layer, rp.objective, ...
    MODES,
    STAGE,
    Layer,
    Replication,
    ReplicationProblem,
    check_fits,
    crossbars_used,
    finish_times,
    layer_time,
    max_copies_alone,
    next_useful,
    objective,
    schedule_value,
    useful_copies,
)
from cimopt.solver.stats import SolverOptions, SolveStats, Status

METHODS = ("none", "uniform", "balance")
_REL_TOL = 1e-9


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

    The exact method is `cimopt.solver.replication.exact.solve_exact`."""
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
