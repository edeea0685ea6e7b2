"""Exact routing: the multi-commodity flow minimising the largest link load, a CP-SAT model hinted
with the heuristic's routes.

Per flow ``k`` and link ``e`` a Boolean ``x[k,e]`` (the route holds ``e``).  A unicast flow sends
one unit from its source to its destination along ``x`` (conservation at every router, nothing
into the source or out of the destination).  A multicast flow is a tree: per destination ``d`` a
unit path ``f[k,d,e] <= x[k,e]``, and ``x`` itself enters each router at most once.  ``Z >=
sum_k c[k,e] x[k,e]`` on every link, ``c[k,e]`` the flow's bytes (every bandwidth equal; Z in
bytes) or ``floor(1000 bytes / bw_e)`` (ps) otherwise, so the model's optimum never exceeds the
true one and its bound is a bound; minimise Z.  Routes are read back as paths and trees inside
``x`` (`prune`), so cycles the solver leaves cost nothing.

Above `FULL_MODEL_MAX_VARS` Booleans the model keeps, per flow, only the links within
`NEIGHBOURHOOD` hops of its hinted route (a large neighbourhood of the heuristic: exact inside
it, the hint always in it); its bound then is only the cut bound (`bounds.cut_bound`).
"""
from __future__ import annotations

import math
import time

import networkx as nx
from ortools.sat.python import cp_model

from cimopt.solver.cpsat import solve_model, within_tolerance
from cimopt.solver.routing.bounds import cut_bound
from cimopt.solver.routing.problem import max_link_load_ns, path_in_tree, prune, Route, RoutingProblem
from cimopt.solver.stats import SolverOptions, SolveStats, Status

FULL_MODEL_MAX_VARS = 60_000
NEIGHBOURHOOD = 2


def _near(g: nx.DiGraph, route: Route, src: int, radius: int) -> set[int]:
    """Routers within ``radius`` hops (either way) of the routers of ``route`` and ``src``."""
    seeds = {src} | {u for ln in route for u in ln}
    ug = g.to_undirected(as_view=True)
    return set(nx.multi_source_dijkstra_path_length(ug, seeds, cutoff=radius, weight=None))


def solve_exact(problem: RoutingProblem, hint: tuple[Route, ...], options: SolverOptions,
                method: str = "mcf") -> tuple[tuple[Route, ...], SolveStats]:
    """The routes of least largest link load (module doc), never worse than ``hint``; stats in ns."""
    t0 = time.perf_counter()
    g = problem.graph()
    edges = sorted(g.edges)
    bws = {e: g.edges[e]["bandwidth"] for e in edges}
    uniform = len(set(bws.values())) <= 1
    unit = (1.0 / next(iter(bws.values()))) if uniform and bws else 1e-3   # ns per model unit

    def coef(nbytes: int, e: tuple[int, int]) -> int:
        return nbytes if uniform else math.floor(1000 * nbytes / bws[e])

    flows = [(k, f) for k, f in enumerate(problem.flows) if f.nbytes > 0 and any(d != f.src for d in f.dsts)]
    full = sum(len(edges) * (1 + (len(f.dsts) if len(f.dsts) > 1 else 0)) for _, f in flows) <= FULL_MODEL_MAX_VARS
    m = cp_model.CpModel()
    terms: dict[tuple[int, int], list[cp_model.LinearExpr]] = {e: [] for e in edges}
    xs: dict[int, dict[tuple[int, int], cp_model.IntVar]] = {}
    for k, f in flows:
        dsts = tuple(d for d in f.dsts if d != f.src)
        if full:
            allowed = edges
        else:
            keep = _near(g, hint[k], f.src, NEIGHBOURHOOD)
            allowed = [e for e in edges if e[0] in keep and e[1] in keep]
        nodes = {u for e in allowed for u in e} | {f.src, *dsts}
        x = {e: m.new_bool_var(f"x{k}_{e[0]}_{e[1]}") for e in allowed}
        xs[k] = x
        outs: dict[int, list[tuple[int, int]]] = {v: [] for v in nodes}
        ins: dict[int, list[tuple[int, int]]] = {v: [] for v in nodes}
        for e in allowed:
            outs[e[0]].append(e)
            ins[e[1]].append(e)
        for v in nodes:
            m.add(sum(x[e] for e in ins[v]) <= (0 if v == f.src else 1))
        hint_set = set(hint[k])
        for e in allowed:
            m.add_hint(x[e], e in hint_set)
            terms[e].append(coef(f.nbytes, e) * x[e])
        if len(dsts) == 1:
            d = dsts[0]
            for v in nodes:
                net = sum(x[e] for e in outs[v]) - sum(x[e] for e in ins[v])
                m.add(net == (1 if v == f.src else -1 if v == d else 0))
            continue
        for d in dsts:
            fl = {e: m.new_bool_var(f"f{k}_{d}_{e[0]}_{e[1]}") for e in allowed}
            on_path = path_in_tree(hint[k], f.src, d)
            for e in allowed:
                m.add_implication(fl[e], x[e])
                m.add_hint(fl[e], e in on_path)
            for v in nodes:
                net = sum(fl[e] for e in outs[v]) - sum(fl[e] for e in ins[v])
                m.add(net == (1 if v == f.src else -1 if v == d else 0))
    hint_loads = {e: sum(coef(problem.flows[k].nbytes, e) for k, _ in flows if e in set(hint[k])) for e in edges}
    z = m.new_int_var(0, max(1, sum(max(coef(f.nbytes, e) for e in edges) for _, f in flows)), "z")
    for e in edges:
        if terms[e]:
            m.add(z >= sum(terms[e]))
    hz = max(hint_loads.values(), default=0)
    m.add_hint(z, hz)
    m.minimize(z)
    res = solve_model(m, options, name="routing", hint_objective=float(hz))
    routes = list(hint)
    if res.improved:
        for k, f in flows:
            chosen = tuple(e for e, var in xs[k].items() if res.boolean_value(var))
            routes[k] = prune(chosen, f.src, tuple(d for d in f.dsts if d != f.src))
    out = tuple(routes)
    obj = max_link_load_ns(problem, out)
    hint_obj = max_link_load_ns(problem, hint)
    if obj > hint_obj:   # the read-back can only drop links; keep the hint on a rounding tie
        out, obj = tuple(hint), hint_obj
    cut, cut_kind = cut_bound(problem)
    model_bound = res.bound * unit if full and math.isfinite(res.bound) and res.bound > 0 else 0.0
    bound, kind = (model_bound, "CP-SAT bound") if model_bound > cut else (cut, cut_kind)
    status = Status.OPTIMAL if within_tolerance(obj, bound) else Status.FEASIBLE   # the hint is a solution
    note = ("" if full else f"each flow within {NEIGHBOURHOOD} hops of its heuristic route; ") + (
        "improved on the heuristic" if res.improved else res.kept_note())
    return out, SolveStats("routing", method, status, obj, bound, time.perf_counter() - t0, kind, full, note)
