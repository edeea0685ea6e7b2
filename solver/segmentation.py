"""Segmentation: when one copy of every layer does not fit, run the model in segments.

The layers are executed in a topological ``order`` cut into consecutive segments, each of
which fits the crossbar budget at one copy per layer.  Segments run one after the other; before
each, its weights are written into the crossbars (all crossbars of a segment in parallel, so a
segment's reprogramming time is the largest ``program_ns`` among its layers), then it runs with
its own replication, using the whole budget.  Cost of a segmentation (ns per inference):

    sum over segments of ( value of the segment's replication subproblem
                           + max program_ns over the segment's layers )

where the value is the bottleneck (throughput mode) or the critical path inside the segment
(latency mode), the same objective as `cimopt.solver.replication`.

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
  (the ``dp`` one, FEASIBLE, with a note when CP-SAT finds nothing better in time);
  for graphs of at most `MAX_CPSAT_LAYERS` layers.  Its segments are intervals of the order
  sorted by (segment, layer index), which is returned as ``order``.

Preconditions: every single layer fits the budget (else `CapacityError`).
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass

from ortools.sat.python import cp_model

from cimopt.solver import replication as rp
from cimopt.solver import replication_exact as rx
from cimopt.solver.cpsat import solve_model, within_tolerance
from cimopt.solver.stats import SolverOptions, SolveStats, Status

STAGE = "segmentation"
METHODS = ("greedy", "dp", "cpsat")
MAX_CPSAT_LAYERS = 60


@dataclass(frozen=True)
class Segmentation:
    """Execution ``order`` (a topological order of layer indices), ``segments`` as half-open
    intervals ``[i, j)`` of positions in ``order``, and ``copies`` per layer (by layer index)."""

    order: tuple[int, ...]
    segments: tuple[tuple[int, int], ...]
    copies: tuple[int, ...]

    def members(self) -> list[list[int]]:
        """Layer indices of each segment, in execution order."""
        return [list(self.order[i:j]) for i, j in self.segments]


def check_layers_fit(problem: rp.ReplicationProblem) -> None:
    """Raise `CapacityError` if some layer alone needs more crossbars than the chip has."""
    for layer in problem.layers:
        if layer.crossbars > problem.budget:
            rp.check_fits(rp.ReplicationProblem((layer,), (), problem.budget, problem.mode))


def subproblem(problem: rp.ReplicationProblem, members: list[int]) -> rp.ReplicationProblem:
    """The replication problem of a segment: its layers (in the given order), inner edges."""
    position = {layer: p for p, layer in enumerate(members)}
    edges = tuple(
        sorted((position[u], position[v]) for u, v in problem.edges if u in position and v in position)
    )
    layers = tuple(problem.layers[i] for i in members)
    return rp.ReplicationProblem(layers, edges, problem.budget, problem.mode)


def program_time(problem: rp.ReplicationProblem, members: list[int]) -> float:
    """Time to write a segment's weights (ns): its slowest layer, all written in parallel."""
    return max((problem.layers[i].program_ns for i in members), default=0.0)


def evaluate(problem: rp.ReplicationProblem, seg: Segmentation) -> float:
    """Cost of a segmentation (ns); raises ValueError if it breaks a rule."""
    n = len(problem.layers)
    if sorted(seg.order) != list(range(n)):
        raise ValueError("order must list every layer exactly once")
    position = {layer: p for p, layer in enumerate(seg.order)}
    if any(position[u] > position[v] for u, v in problem.edges):
        raise ValueError("order is not a topological order of the edges")
    cuts = [p for i, j in seg.segments for p in (i, j)]
    if any(i >= j for i, j in seg.segments):
        raise ValueError("segments must be non-empty")
    if seg.segments and (cuts[0] != 0 or cuts[-1] != n or any(a != b for a, b in zip(cuts[1:-1:2], cuts[2::2]))):
        raise ValueError("segments must be consecutive intervals covering the order")
    total = 0.0
    for members in seg.members():
        sub = subproblem(problem, members)
        rep = rp.Replication(tuple(seg.copies[i] for i in members))
        total += rp.objective(sub, rep) + program_time(problem, members)
    return total


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
    problem: rp.ReplicationProblem, members: list[int], method: str, options: SolverOptions
) -> tuple[tuple[int, ...], SolveStats]:
    rep, stats = rp.solve(subproblem(problem, members), method, options)
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
    problem: rp.ReplicationProblem, inner: str, options: SolverOptions, deadline: float
) -> tuple[list[tuple[int, int]], float, float, bool, dict[tuple[int, int], tuple[int, ...]], str]:
    """DP over cut positions: (cuts, cost, bound over the fixed order, all intervals optimal,
    copies per interval, a note naming the intervals replicated by a cheaper method for time)."""
    n = len(problem.layers)
    prefix = [0]
    for layer in problem.layers:
        prefix.append(prefix[-1] + layer.crossbars)
    intervals = [(i, j) for j in range(1, n + 1) for i in range(j) if prefix[j] - prefix[i] <= problem.budget]
    cost: dict[tuple[int, int], float] = {}
    low: dict[tuple[int, int], float] = {}
    copies: dict[tuple[int, int], tuple[int, ...]] = {}
    proven = True
    order = list(range(n))
    fallback = {"balance": 0, "none": 0}  # intervals costed by a cheaper method (time ran short)
    for done, (i, j) in enumerate(intervals):
        left = max(0.0, deadline - time.perf_counter())
        share = left / (len(intervals) - done)
        sub_options = options.limited(max(0.05, share))
        # too many intervals for the time limit: cost the rest with the greedy, then with one
        # copy each once time is up (both give valid costs and bounds; the DP is then not proven)
        method = inner if share >= 0.05 else ("balance" if left > 0 else "none")
        if method != inner:
            fallback[method] += 1
        reps, stats = _replicate(problem, order[i:j], method, sub_options)
        program = program_time(problem, order[i:j])
        cost[i, j] = stats.objective + program
        low[i, j] = stats.bound + program
        copies[i, j] = reps
        proven = proven and stats.status is Status.OPTIMAL
    best = [0.0] + [math.inf] * n
    bound = [0.0] + [math.inf] * n
    back = [0] * (n + 1)
    for j in range(1, n + 1):
        for i in range(j):
            if (i, j) in cost:
                if best[i] + cost[i, j] < best[j]:
                    best[j], back[j] = best[i] + cost[i, j], i
                bound[j] = min(bound[j], bound[i] + low[i, j])
    cuts: list[tuple[int, int]] = []
    j = n
    while j > 0:
        cuts.append((back[j], j))
        j = back[j]
    cuts.reverse()
    short = "; ".join(f"{k} of {len(intervals)} intervals replicated by {m} (time limit)"
                      for m, k in fallback.items() if k)
    return cuts, best[n], bound[n], proven, copies, short


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
    n = len(problem.layers)
    if method == "greedy":
        seg, inner_stats = _assemble(problem, list(range(n)), first_fit(problem), "balance", options)
        value = evaluate(problem, seg)
        bound = min(global_bound(problem), value)
        stats = SolveStats(
            stage=STAGE, method="greedy", status=Status.FEASIBLE, objective=value, bound=bound,
            wall_s=time.perf_counter() - start, bound_kind="global_max_copies_plus_program", exact=False,
            note=f"mode={problem.mode}; {len(seg.segments)} segments (first fit, balance inside)",
        )
        return seg, stats
    if method == "cpsat" and n > MAX_CPSAT_LAYERS:
        raise ValueError(
            f"cpsat segmentation is for graphs of at most {MAX_CPSAT_LAYERS} layers, this one has {n}: use method='dp'"
        )
    dp_share = options.time_limit_s if method == "dp" else options.time_limit_s / 2
    cuts, value, order_bound, proven, copies_by_interval, short = _dp(problem, inner, options, start + dp_share)
    copies = [1] * n
    for i, j in cuts:
        for layer, r in zip(range(i, j), copies_by_interval[i, j]):
            copies[layer] = r
    seg = Segmentation(tuple(range(n)), tuple(cuts), tuple(copies))
    value = evaluate(problem, seg)
    chain = is_chain(problem)
    if method == "dp":
        if chain:
            bound, kind = min(max(order_bound, global_bound(problem)), value), "dp_over_interval_bounds"
        else:
            bound, kind = min(global_bound(problem), value), "global_max_copies_plus_program"
        optimal = proven and chain and inner == "exact"
        note = f"mode={problem.mode}; {len(cuts)} segments; {inner} replication inside; "
        note += (
            "the graph is a chain, so consecutive cuts of its only order are all segmentations"
            if chain
            else f"optimal over cuts of the given order only (bound over that order: {order_bound:.6g} ns); "
            "another topological order may do better: use method='cpsat'"
        )
        note += f"; {short}" if short else ""
        stats = SolveStats(
            stage=STAGE, method="dp", status=Status.OPTIMAL if optimal else Status.FEASIBLE,
            objective=value, bound=bound, wall_s=time.perf_counter() - start, bound_kind=kind,
            exact=True, note=note,
        )
        return seg, stats
    left = max(0.05, options.time_limit_s - (time.perf_counter() - start))
    sub_options = options.limited(left)
    best, status, value, bound, note = _assignment(problem, seg, sub_options)
    note += f"; dp hint: {short}" if short else ""
    stats = SolveStats(
        stage=STAGE, method="cpsat", status=status, objective=value, bound=max(bound, min(global_bound(problem), value)),
        wall_s=time.perf_counter() - start, bound_kind="cp_sat", exact=True, note=note,
    )
    return best, stats


def _assignment(
    problem: rp.ReplicationProblem, hint: Segmentation, options: SolverOptions
) -> tuple[Segmentation, Status, float, float, str]:
    """CP-SAT over layer -> segment and copies, hinted with ``hint``: (best, status, cost, bound, note)."""
    layers, n, budget = problem.layers, len(problem.layers), problem.budget
    segs = range(n)  # at most one segment per layer
    alone = [1 if x.crossbars == 0 else max(1, min(x.copy_cap, budget // x.crossbars)) for x in layers]
    choices = [rp.useful_copies(x, alone[l]) for l, x in enumerate(layers)]
    real = [[rp.layer_time(x, r) for r in choices[l]] for l, x in enumerate(layers)]
    scale = rx.time_scale([t for row in real for t in row] + [x.program_ns for x in layers])
    dur_table = [[math.floor(t * scale) for t in row] for row in real]
    prog = [math.floor(x.program_ns * scale) for x in layers]
    horizon = sum(max(row) for row in dur_table) + sum(prog)
    model = cp_model.CpModel()
    into: dict[tuple[int, int], cp_model.IntVar] = {}  # (layer, segment): layer runs in that segment
    pick: dict[tuple[int, int], cp_model.IntVar] = {}  # (layer, k): layer has choices[layer][k] copies
    dur: dict[int, cp_model.IntVar] = {}  # layer: its time in model units
    held: dict[int, cp_model.IntVar] = {}  # layer: crossbars its copies occupy
    use: dict[tuple[int, int], cp_model.IntVar] = {}  # (layer, segment): crossbars it takes in that segment
    index: dict[int, cp_model.IntVar] = {}  # layer: its segment number
    for l, x in enumerate(layers):
        for k in segs:
            into[l, k] = model.new_bool_var(f"into_{l}_{k}")
        model.add_exactly_one(into[l, k] for k in segs)
        index[l] = model.new_int_var(0, n - 1, f"segment_{l}")
        model.add(index[l] == sum(k * into[l, k] for k in segs))
        for b in range(len(choices[l])):
            pick[l, b] = model.new_bool_var(f"pick_{l}_{b}")
        model.add_exactly_one(pick[l, b] for b in range(len(choices[l])))
        dur[l] = model.new_int_var(min(dur_table[l]), max(dur_table[l]), f"dur_{l}")
        model.add(dur[l] == sum(d * pick[l, b] for b, d in enumerate(dur_table[l])))
        top = x.crossbars * choices[l][-1]
        held[l] = model.new_int_var(0, top, f"held_{l}")
        model.add(held[l] == sum(x.crossbars * r * pick[l, b] for b, r in enumerate(choices[l])))
        for k in segs:
            use[l, k] = model.new_int_var(0, top, f"use_{l}_{k}")
            model.add(use[l, k] == held[l]).only_enforce_if(into[l, k])
            model.add(use[l, k] == 0).only_enforce_if(~into[l, k])
    for u, v in problem.edges:
        model.add(index[u] <= index[v])
    filled: dict[int, cp_model.IntVar] = {}  # segment: it holds at least one layer
    write: dict[int, cp_model.IntVar] = {}  # segment: its reprogramming time in model units
    for k in segs:
        model.add(sum(use[l, k] for l in range(n)) <= budget)
        filled[k] = model.new_bool_var(f"filled_{k}")
        model.add_bool_or([into[l, k] for l in range(n)]).only_enforce_if(filled[k])
        write[k] = model.new_int_var(0, max(prog, default=0), f"write_{k}")
        for l in range(n):
            model.add_implication(into[l, k], filled[k])
            model.add(write[k] >= prog[l]).only_enforce_if(into[l, k])
        if k:
            model.add_implication(filled[k], filled[k - 1])

    position = {layer: p for p, layer in enumerate(hint.order)}
    hint_seg = {layer: k for k, (i, j) in enumerate(hint.segments) for layer in hint.order[i:j]}
    hint_b = [rx.hint_index(choices[l], hint.copies[l]) for l in range(n)]
    hint_dur = [dur_table[l][hint_b[l]] for l in range(n)]
    for l, x in enumerate(layers):
        model.add_hint(index[l], hint_seg[l])
        model.add_hint(dur[l], hint_dur[l])
        model.add_hint(held[l], x.crossbars * choices[l][hint_b[l]])
        for k in segs:
            model.add_hint(into[l, k], int(hint_seg[l] == k))
            model.add_hint(use[l, k], x.crossbars * choices[l][hint_b[l]] if hint_seg[l] == k else 0)
        for b in range(len(choices[l])):
            model.add_hint(pick[l, b], int(b == hint_b[l]))
    members = [[l for l in range(n) if hint_seg[l] == k] for k in segs]
    hint_write = [max((prog[l] for l in members[k]), default=0) for k in segs]
    for k in segs:
        model.add_hint(filled[k], int(bool(members[k])))
        model.add_hint(write[k], hint_write[k])

    if problem.mode == "throughput":
        peak: dict[int, cp_model.IntVar] = {}  # segment: its bottleneck in model units
        for k in segs:
            peak[k] = model.new_int_var(0, max(max(row) for row in dur_table), f"bottleneck_{k}")
            for l in range(n):
                model.add(peak[k] >= dur[l]).only_enforce_if(into[l, k])
            model.add_hint(peak[k], max((hint_dur[l] for l in members[k]), default=0))
        hint_objective = sum(max((hint_dur[l] for l in members[k]), default=0) + hint_write[k] for k in segs)
        model.minimize(sum(peak[k] + write[k] for k in segs))
    else:
        begin: dict[int, cp_model.IntVar] = {}  # layer: start time in model units
        opens: dict[int, cp_model.IntVar] = {}  # segment: time its reprogramming starts
        closes: dict[int, cp_model.IntVar] = {}  # segment: time its last layer finishes
        for l in range(n):
            begin[l] = model.new_int_var(0, horizon, f"start_{l}")
        for u, v in problem.edges:
            model.add(begin[v] >= begin[u] + dur[u])
        clock = 0
        for k in segs:
            opens[k] = model.new_int_var(0, horizon, f"open_{k}")
            closes[k] = model.new_int_var(0, horizon, f"close_{k}")
            model.add(closes[k] >= opens[k] + write[k])
            if k:
                model.add(opens[k] >= closes[k - 1])
            for l in range(n):
                model.add(begin[l] >= opens[k] + write[k]).only_enforce_if(into[l, k])
                model.add(begin[l] + dur[l] <= closes[k]).only_enforce_if(into[l, k])
            ready = clock + hint_write[k]
            ids = sorted(members[k], key=position.__getitem__)
            sub = subproblem(problem, ids)
            finish = rp.finish_times([float(hint_dur[l]) for l in ids], sub.edges)
            for p, l in enumerate(ids):
                model.add_hint(begin[l], ready + int(finish[p]) - hint_dur[l])
            model.add_hint(opens[k], clock)
            clock = ready + int(max(finish, default=0.0))
            model.add_hint(closes[k], clock)
        hint_objective = clock
        model.minimize(closes[n - 1])

    res = solve_model(model, options, name=f"segmentation-{problem.mode}",
                      hint_objective=hint_objective, instance=rx.instance(problem, scale))
    best, value = hint, evaluate(problem, hint)
    note = f"mode={problem.mode}; seed={options.seed}, workers={options.workers}; "
    if res.found:  # compared in float: the model's times are rounded down
        seg_of = [next(k for k in segs if res.boolean_value(into[l, k])) for l in range(n)]
        order = sorted(range(n), key=lambda l: (seg_of[l], l))
        cuts: list[tuple[int, int]] = []
        for p in range(n + 1):
            if p == n or (p and seg_of[order[p]] != seg_of[order[p - 1]]):
                cuts.append((cuts[-1][1] if cuts else 0, p))
        copies = tuple(choices[l][next(b for b in range(len(choices[l])) if res.boolean_value(pick[l, b]))]
                       for l in range(n))
        found = Segmentation(tuple(order), tuple(cuts), copies)
        found_value = evaluate(problem, found)
        if found_value <= value:
            best, value = found, found_value
        else:
            note += "CP-SAT's answer is worse in float than the rounded model says; dp hint kept; "
    else:
        note += res.kept_note() + "; "
    if scale != 1:
        note += f"times rounded down to 1/{scale} ns in the model; "
    note += f"{len(best.segments)} segments"
    bound = min(res.bound / scale, value)
    # OPTIMAL: CP-SAT proved the (rounded) model optimal, or the bound meets the value
    status = Status.OPTIMAL if res.status is Status.OPTIMAL or within_tolerance(value, bound) else Status.FEASIBLE
    return best, status, value, bound, note
