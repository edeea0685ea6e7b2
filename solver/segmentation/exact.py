"""Segmentation by CP-SAT: layer -> segment assignment and the copies of every layer, jointly.

Model: ``into[l, k]`` puts layer ``l`` in segment ``k`` (at most one segment per layer), with
precedence ``segment(u) <= segment(v)`` on every edge; ``pick[l, b]`` gives it
``choices[l][b]`` copies; each segment's crossbars are capped by the budget and its reprogramming
time is the largest ``program_ns`` among its layers; objective: the sum over segments of the
bottleneck plus reprogramming (throughput) or the end of the last segment (latency).  Times are
integers in ``1 / scale`` ns rounded down, as in `cimopt.solver.replication.exact`.  The model
is hinted with a given segmentation (the DP's), solved by `cimopt.solver.cpsat.solve_model`, and
the better of the two in float is returned, so it is never worse than the hint.
"""
from __future__ import annotations

import math

from ortools.sat.python import cp_model

from cimopt.solver.cpsat import solve_model, within_tolerance
from cimopt.solver.replication import exact as rx, heuristic as rp
from cimopt.solver.segmentation.cost import evaluate, Segmentation, subproblem
from cimopt.solver.stats import SolverOptions, Status


def assignment(
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
    note += f"{res.limit_note()}; " if res.limit_note() else ""
    if scale != 1:
        note += f"times rounded down to 1/{scale} ns in the model; "
    note += f"{len(best.segments)} segments"
    bound = res.bound / scale  # of the model with times rounded down: a bound of the instance
    # OPTIMAL only when the bound meets the value: a rounded model proved optimal may still be
    # above the real optimum by its rounding
    status = Status.OPTIMAL if within_tolerance(value, bound) else Status.FEASIBLE
    return best, status, value, bound, note
