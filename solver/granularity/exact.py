"""Exact granularity with CP-SAT: the estimate of `problem` minimised over every choice of chunks
per copy, under the task budget.

Model: per decided op ``l`` an integer ``k_l`` in ``[k_min, k_max]`` and its ``t_l``, ``c_l``
read from tables by element constraints (times are integer ns, so the model is the problem);
``sum copies_l * k_l <= budget``.  Latency: ``start_v >= start_u + c_u``, ``finish_v >= start_v +
t_v`` and ``finish_v >= finish_u + c_v`` on every edge, ``L >= finish_v``; throughput: ``L >=
t_l``; minimise ``L``.  Any feasible assignment of start / finish is at least the recurrence, so
the optimum is the estimate's.  Hinted with the greedy choice; the objective reported is
recomputed from the chosen ``k``; never worse than the greedy (`cimopt.solver.cpsat.solve_model`
keeps the hint when CP-SAT ends worse)."""
from __future__ import annotations

import time
from dataclasses import asdict

from ortools.sat.python import cp_model

from cimopt.solver.cpsat import solve_model
from cimopt.solver.granularity.heuristic import greedy
from cimopt.solver.granularity.problem import STAGE, Granularity, GranularityProblem, granularity, lower_bound, objective
from cimopt.solver.stats import SolverOptions, SolveStats, Status


def solve(p: GranularityProblem, options: SolverOptions) -> tuple[Granularity, SolveStats]:
    """The CP-SAT optimum of ``p`` within ``options``' limits (see the module docstring)."""
    t0 = time.perf_counter()
    hint = greedy(p)
    hint_obj = objective(p, hint)
    m = cp_model.CpModel()
    top = sum(max(o.busy_ns(o.k_max if o.decided else 1), 0) + o.chunk_ns(o.k_min if o.decided else 1)
              for o in p.ops) + 1
    ks, ts, cs = [], [], []
    for i, o in enumerate(p.ops):
        if not o.decided:
            ks.append(1)
            ts.append(o.busy_ns(1))
            cs.append(o.chunk_ns(1))
            continue
        k = m.new_int_var(o.k_min, o.k_max, f"k{i}")
        idx = m.new_int_var(0, o.k_max - o.k_min, f"i{i}")
        m.add(idx == k - o.k_min)
        t = m.new_int_var(0, top, f"t{i}")
        c = m.new_int_var(0, top, f"c{i}")
        m.add_element(idx, [o.busy_ns(x) for x in range(o.k_min, o.k_max + 1)], t)
        m.add_element(idx, [o.chunk_ns(x) for x in range(o.k_min, o.k_max + 1)], c)
        m.add_hint(k, hint[i])
        ks.append(k)
        ts.append(t)
        cs.append(c)
    m.add(sum(o.copies * k for o, k in zip(p.ops, ks) if o.decided) <= p.budget)
    span = m.new_int_var(0, top, "L")
    if p.mode == "throughput":
        for t in ts:
            m.add(span >= t)
    else:
        start = [m.new_int_var(0, top, f"s{i}") for i in range(len(p.ops))]
        finish = [m.new_int_var(0, top, f"f{i}") for i in range(len(p.ops))]
        for v in range(len(p.ops)):
            m.add(finish[v] >= start[v] + ts[v])
            m.add(span >= finish[v])
        for u, v in p.edges:
            m.add(start[v] >= start[u] + cs[u])
            m.add(finish[v] >= finish[u] + cs[v])
    m.add_hint(span, hint_obj)
    m.minimize(span)
    r = solve_model(m, options, name="granularity", hint_objective=float(hint_obj),
                    instance=lambda: {"problem": asdict(p)})
    k = tuple(r.value(x) if isinstance(x, cp_model.IntVar) else 1 for x in ks) if r.improved else hint
    obj = objective(p, k)
    bound = max(r.bound, float(lower_bound(p))) if r.found else float(lower_bound(p))
    status = Status.OPTIMAL if r.status is Status.OPTIMAL or obj <= bound else Status.FEASIBLE
    note = "" if r.improved else r.kept_note()
    return granularity(p, k), SolveStats(STAGE, "cpsat", status, float(obj), bound,
                                      time.perf_counter() - t0, bound_kind="CP-SAT bound", exact=True, note=note)
