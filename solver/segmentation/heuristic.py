"""Segmentation: when one copy of every layer does not fit, run the model in segments.

The layers are executed in a topological ``order`` cut into consecutive segments, each of
which fits the crossbar budget at one copy per layer.  Segments run one after the other; before
each, its weights are written into the crossbars (all crossbars of a segment in parallel, so a
segment's reprogramming time is the largest ``program_ns`` among its layers), then it runs with
its own replication, using the whole budget.  Cost of a segmentation (ns per inference):

    sum over segments of ( value of the segment's replication subproblem
                           + max program_ns over the segment's layers )

where the value is the bottleneck (throughput mode) or the critical path inside the segment
(latency mode), the same objective as `cimopt.solver.replication.heuristic`.

Methods:

- ``greedy``: first fit along the given order (fill a segment until the next layer does not
  fit), each segment replicated by ``balance``.
- ``dp``: dynamic programming over the cut positions of the given order (segments are
  intervals ``[i, j)``; ``best[j] = min_i best[i] + cost(i, j)``), each interval replicated
  by ``inner`` (``exact`` by default, or ``balance``).  Exact for consecutive segmentation of
  the given order; *inexact* when the DAG has branches, because another topological order may
  group layers better (the stats then say FEASIBLE and the note says why).
- ``cpsat``: CP-SAT over layer -> segment assignment with precedence (``seg[u] <= seg[v]`` on
  every edge) and the copies of every layer, chosen jointly; hinted with the ``dp`` solution
  and solved by `cimopt.solver.cpsat.solve_model`; the better of the two in float is returned
  (the ``dp`` one, FEASIBLE, with a note when CP-SAT finds nothing better in time); for graphs
  of at most `MAX_CPSAT_LAYERS` layers (the model: `cimopt.solver.segmentation.exact`).  Its
  segments are intervals of the order sorted by (segment, layer index), returned as ``order``.

Preconditions: every single layer fits the budget (else `CapacityError`).  The solution type
and its cost (`Segmentation`, `evaluate`) live in `cimopt.solver.segmentation.cost`.
"""
from __future__ import annotations

import math
import time

from cimopt.solver.budget import Budget, HEURISTIC_LAYER_S
from cimopt.solver.replication import exact as rx, heuristic as rp
from cimopt.solver.segmentation.cost import (Segmentation, check_layers_fit, evaluate,
                                             program_time, subproblem)
from cimopt.solver.segmentation.exact import assignment
from cimopt.solver.stats import SolverOptions, SolveStats, Status

STAGE = "segmentation"
METHODS = ("greedy", "dp", "cpsat")
MAX_CPSAT_LAYERS = 60


def first_fit(problem: rp.ReplicationProblem) -> list[tuple[int, int]]:
    """Greedy cut of the given order: a segment grows until the next layer does not fit."""
    cuts: list[tuple[int, int]] = []
    begin, used = 0, 0
    for j, layer in enumerate(problem.layers):
        if used + layer.crossbars > problem.budget:
            cuts.append((begin, j))
            begin, used = j, 0
        used += layer.crossbars
    if problem.layers:
        cuts.append((begin, len(problem.layers)))
    return cuts


def _replicate(
    problem: rp.ReplicationProblem, members: list[int], method: str, options: SolverOptions,
    budget: Budget | None = None,
) -> tuple[tuple[int, ...], SolveStats]:
    """Copies of ``members`` by ``method``; CP-SAT's deterministic time, or `HEURISTIC_LAYER_S`
    per layer for a heuristic, is charged to ``budget``."""
    sub = subproblem(problem, members)
    if method == "exact":
        rep, stats = rx.solve_exact(sub, options, budget=budget)
    else:
        rep, stats = rp.solve(sub, method, options)
        if budget is not None:
            budget.spend(len(members) * HEURISTIC_LAYER_S)
    return rep.copies, stats


def _assemble(
    problem: rp.ReplicationProblem, order: list[int], cuts: list[tuple[int, int]], method: str, options: SolverOptions
) -> tuple[Segmentation, list[SolveStats]]:
    copies = [1] * len(problem.layers)
    inner: list[SolveStats] = []
    for i, j in cuts:
        members = order[i:j]
        seg_copies, stats = _replicate(problem, members, method, options)
        inner.append(stats)
        for layer, r in zip(members, seg_copies):
            copies[layer] = r
    return Segmentation(tuple(order), tuple(cuts), tuple(copies)), inner


def global_bound(problem: rp.ReplicationProblem) -> float:
    """A lower bound (ns) valid for every segmentation, whatever the order.

    Each layer gets at most the copies it could have alone on the whole chip, the segments'
    values add up to at least the whole model's bottleneck / critical path at those copies, and
    at least one segment pays the largest ``program_ns``.
    """
    times = []
    for layer in problem.layers:
        alone = 1 if layer.crossbars == 0 else max(1, min(layer.copy_cap, problem.budget // layer.crossbars))
        times.append(rp.layer_time(layer, alone))
    program = max((layer.program_ns for layer in problem.layers), default=0.0)
    return rp.schedule_value(times, problem.edges, problem.mode) + program


def is_chain(problem: rp.ReplicationProblem) -> bool:
    """True if the edges force the given order (it is the only topological order)."""
    edges = set(problem.edges)
    return all((i, i + 1) in edges for i in range(len(problem.layers) - 1))


def _dp(
    problem: rp.ReplicationProblem, inner: str, options: SolverOptions, budget: Budget
) -> tuple[list[tuple[int, int]], float, float, bool, dict[tuple[int, int], tuple[int, ...]], str]:
    """DP over cut positions within ``budget``: (cuts, cost, bound over the fixed order, all
    intervals optimal and the DP complete, copies per interval, a note naming the intervals
    replicated by a cheaper method and where the budget stopped the DP).

    Intervals are costed in order of their end ``j``, so when the budget runs out the DP is
    complete up to the last finished end ``j0``: the layers from ``j0`` on are then cut by first
    fit with one copy each (no solver time left), the order bound is -inf (not all intervals
    costed) and the note says so.  The budget is asked before every interval, so the DP overruns
    it by at most one interval's replication."""
    n = len(problem.layers)
    prefix = [0]
    for layer in problem.layers:
        prefix.append(prefix[-1] + layer.crossbars)
    intervals = [(i, j) for j in range(1, n + 1) for i in range(j)
                 if prefix[j] - prefix[i] <= problem.budget]
    cost: dict[tuple[int, int], float] = {}
    low: dict[tuple[int, int], float] = {}
    copies: dict[tuple[int, int], tuple[int, ...]] = {}
    proven = True
    order = list(range(n))
    fallback = {"balance": 0}  # intervals costed by a cheaper method (time ran short)
    best = [0.0] + [math.inf] * n
    bound = [0.0] + [math.inf] * n
    back = [0] * (n + 1)
    done_to = 0  # best[j] final for every j <= done_to
    for done, (i, j) in enumerate(intervals):
        if j > done_to + 1:  # every interval ending at j - 1 is costed
            done_to = j - 1
        left = budget.left()
        if left <= 0:
            break
        share = left / (len(intervals) - done)
        # too many intervals for the time limit: cost them with the greedy (valid costs and
        # bounds; the DP is then not proven)
        method = inner if share >= 0.05 else "balance"
        if method != inner:
            fallback[method] += 1
        reps, stats = _replicate(problem, order[i:j], method, options.limited(max(0.05, share)), budget)
        program = program_time(problem, order[i:j])
        cost[i, j] = stats.objective + program
        low[i, j] = stats.bound + program
        copies[i, j] = reps
        proven = proven and stats.status is Status.OPTIMAL
        if best[i] + cost[i, j] < best[j]:
            best[j], back[j] = best[i] + cost[i, j], i
        bound[j] = min(bound[j], bound[i] + low[i, j])
    else:
        done_to = n
    cuts: list[tuple[int, int]] = []
    if done_to < n:  # stopped by the budget: first fit, one copy each, from done_to on
        proven = False
        rest = rp.ReplicationProblem(problem.layers[done_to:], tuple(
            (u - done_to, v - done_to) for u, v in problem.edges if u >= done_to), problem.budget, problem.mode)
        for a, b in first_fit(rest):
            cuts.append((a + done_to, b + done_to))
            copies[a + done_to, b + done_to] = tuple(1 for _ in range(a, b))
    j = done_to
    while j > 0:
        cuts.append((back[j], j))
        j = back[j]
    cuts.sort()
    limit = "deterministic limit" if budget.deterministic else "time limit"
    short = "; ".join(f"{k} of {len(intervals)} intervals replicated by {m} ({limit})"
                      for m, k in fallback.items() if k)
    if done_to < n:
        short = "; ".join(x for x in (short, f"the {limit} stopped the DP after {len(cost)} of "
                                       f"{len(intervals)} intervals: layers {done_to}-{n - 1} cut by "
                                       "first fit with one copy each") if x)
    total = math.inf if done_to < n else best[n]
    return cuts, total, bound[n] if done_to == n else -math.inf, proven, copies, short


def segment(
    problem: rp.ReplicationProblem,
    method: str = "dp",
    options: SolverOptions | None = None,
    *,
    inner: str = "exact",
) -> tuple[Segmentation, SolveStats]:
    """Segment and replicate the model with ``method`` (greedy | dp | cpsat); costs in ns.

    ``inner`` is the replication method inside each interval for ``dp`` and for the ``cpsat``
    hint (``exact`` or ``balance``); ``greedy`` always uses ``balance``.  ``options.time_limit_s``
    bounds the whole call (shared between the DP's intervals and the CP-SAT model).
    """
    if method not in METHODS:
        raise ValueError(f"unknown segmentation method {method!r}; expected one of {METHODS}")
    if inner not in ("exact", "balance"):
        raise ValueError(f"inner replication must be 'exact' or 'balance', got {inner!r}")
    check_layers_fit(problem)
    options = options or SolverOptions()
    start = time.perf_counter()
    budget = Budget.of(options)
    n = len(problem.layers)
    if method == "greedy":
        seg, inner_stats = _assemble(problem, list(range(n)), first_fit(problem), "balance", options)
        value = evaluate(problem, seg)
        bound = global_bound(problem)
        stats = SolveStats(
            stage=STAGE, method="greedy", status=Status.FEASIBLE, objective=value, bound=bound,
            wall_s=time.perf_counter() - start, bound_kind="global_max_copies_plus_program", exact=False,
            note=f"mode={problem.mode}; {len(seg.segments)} segments (first fit, balance inside)",
        )
        return seg, stats
    too_big = ""
    if method == "cpsat" and n > MAX_CPSAT_LAYERS:
        too_big = (f"cpsat segmentation models at most {MAX_CPSAT_LAYERS} layers, this graph has {n}: "
                   "the DP's segmentation is returned")
        method = "dp"
    dp_share = options.time_limit_s if method == "dp" else options.time_limit_s / 2
    cuts, value, order_bound, proven, copies_by_interval, short = _dp(problem, inner, options,
                                                                      budget.share(dp_share))
    copies = [1] * n
    for i, j in cuts:
        for layer, r in zip(range(i, j), copies_by_interval[i, j]):
            copies[layer] = r
    seg = Segmentation(tuple(range(n)), tuple(cuts), tuple(copies))
    value = evaluate(problem, seg)
    chain = is_chain(problem)
    if method == "dp":
        if chain:
            bound, kind = max(order_bound, global_bound(problem)), "dp_over_interval_bounds"
        else:
            bound, kind = global_bound(problem), "global_max_copies_plus_program"
        optimal = proven and chain and inner == "exact"
        note = f"{too_big}; " if too_big else ""
        note += f"mode={problem.mode}; {len(cuts)} segments; {inner} replication inside; "
        over = f"{order_bound:.6g} ns" if math.isfinite(order_bound) else "none, the DP stopped early"
        note += (
            "the graph is a chain, so consecutive cuts of its only order are all segmentations"
            if chain
            else f"optimal over cuts of the given order only (bound over that order: {over}); "
            "another topological order may do better" + ("" if too_big else ": use method='cpsat'")
        )
        note += f"; {short}" if short else ""
        stats = SolveStats(
            stage=STAGE, method="dp", status=Status.OPTIMAL if optimal else Status.FEASIBLE,
            objective=value, bound=bound, wall_s=time.perf_counter() - start, bound_kind=kind,
            exact=True, note=note,
        )
        return seg, stats
    left = max(0.0, budget.left())
    if left < 0.05:  # the DP took the whole limit: no time for CP-SAT
        value = evaluate(problem, seg)
        note = (f"mode={problem.mode}; {len(cuts)} segments; the {'deterministic ' if budget.deterministic else ''}"
                f"time limit ran out before CP-SAT: the DP's segmentation is returned")
        note += f"; dp: {short}" if short else ""
        stats = SolveStats(stage=STAGE, method="cpsat", status=Status.FEASIBLE, objective=value,
                           bound=global_bound(problem), wall_s=time.perf_counter() - start,
                           bound_kind="global_max_copies_plus_program", exact=True, note=note)
        return seg, stats
    sub_options = options.limited(left)
    best, status, value, bound, note = assignment(problem, seg, sub_options)
    note += f"; dp hint: {short}" if short else ""
    stats = SolveStats(
        stage=STAGE, method="cpsat", status=status, objective=value, bound=max(bound, global_bound(problem)),
        wall_s=time.perf_counter() - start, bound_kind="cp_sat", exact=True, note=note,
    )
    return best, stats
