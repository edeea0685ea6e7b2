"""Exact routing: the multi-commodity flow minimising the largest link load, a CP-SAT model hinted
with the heuristic's routes.

Per flow ``k`` and link ``e`` a Boolean ``x[k,e]`` (the route holds ``e``).  A unicast flow sends
one unit from its source to its destination along ``x`` (conservation at every router, nothing
into the source, each router entered at most once).  A multicast flow is a tree: per
destination ``d`` a unit path ``f[k,d,e] <= x[k,e]``, and ``x`` enters each router at most once.
``Z >= background_e + sum_k c[k,e] x[k,e]`` on every link, ``c[k,e]`` the flow's bytes (every
bandwidth equal; Z in bytes) or ``floor(1000 bytes / bw_e)`` (ps) otherwise, so the model's
optimum never exceeds the true one and its bound is a bound; minimise Z.  Routes are read back
as paths and trees inside ``x`` (`prune`), so cycles the solver leaves cost nothing.

Up to `FULL_MODEL_MAX_VARS` Booleans every flow is free on every link: the model is exact and its
bound a bound of the instance.  Above, large-neighbourhood search: each round frees the flows
that cross the links loaded within `HOT` of the largest (as many as fit `LNS_MAX_VARS`, heaviest
first), each on the links within `NEIGHBOURHOOD` hops of its current route, the others fixed
(their loads the background), a quarter of the time limit per round; rounds go on while they
improve and time is left.  Its bound then
is the cut bound (`bounds.cut_bound`).
"""
from __future__ import annotations

import math
import time
from collections import defaultdict

import networkx as nx
from ortools.sat.python import cp_model

from cimopt.solver.budget import Budget, ROUND_ITEM_S
from cimopt.solver.cpsat import solve_model, within_tolerance
from cimopt.solver.routing.bounds import cut_bound
from cimopt.solver.routing.problem import link_loads, max_link_load_ns, path_in_tree, prune, Route, RoutingProblem
from cimopt.solver.stats import SolverOptions, SolveStats, Status

FULL_MODEL_MAX_VARS = 60_000
LNS_MAX_VARS = 8_000
NEIGHBOURHOOD = 2
HOT = 0.99
Edge = tuple[int, int]


def _near(g: nx.DiGraph, route: Route, src: int, radius: int) -> set[int]:
    """Routers within ``radius`` hops (either way) of the routers of ``route`` and ``src``."""
    seeds = {src} | {u for ln in route for u in ln}
    ug = g.to_undirected(as_view=True)
    return set(nx.multi_source_dijkstra_path_length(ug, seeds, cutoff=radius, weight=None))


class _Model:
    """One CP-SAT model over the ``free`` flows (the others' bytes in the background)."""

    def __init__(self, problem: RoutingProblem, g: nx.DiGraph, routes: list[Route], free: list[int],
                 allowed: dict[int, list[Edge]], bws: dict[Edge, float], uniform: bool) -> None:
        self.m = cp_model.CpModel()
        self.xs: dict[int, dict[Edge, cp_model.IntVar]] = {}
        m, edges = self.m, sorted(g.edges)
        def c(nbytes: int, e: Edge) -> int:
            return nbytes if uniform else math.floor(1000 * nbytes / bws[e])

        fixed = [k for k in range(len(problem.flows)) if k not in set(free)]
        background: dict[Edge, int] = defaultdict(int)
        for k in fixed:
            for e in set(routes[k]):
                background[e] += c(problem.flows[k].nbytes, e)
        terms: dict[Edge, list[cp_model.LinearExprT]] = defaultdict(list)
        for k in free:
            f = problem.flows[k]
            dsts = tuple(d for d in f.dsts if d != f.src)
            ok = allowed[k]
            nodes = {u for e in ok for u in e} | {f.src, *dsts}
            x = {e: m.new_bool_var(f"x{k}_{e[0]}_{e[1]}") for e in ok}
            self.xs[k] = x
            outs: dict[int, list[Edge]] = {v: [] for v in nodes}
            ins: dict[int, list[Edge]] = {v: [] for v in nodes}
            for e in ok:
                outs[e[0]].append(e)
                ins[e[1]].append(e)
            for v in nodes:
                m.add(sum(x[e] for e in ins[v]) <= (0 if v == f.src else 1))
            held = set(routes[k])
            for e in ok:
                m.add_hint(x[e], e in held)
                terms[e].append(c(f.nbytes, e) * x[e])
            commodities = [(dsts[0], x)] if len(dsts) == 1 else []
            for d in dsts if len(dsts) > 1 else ():
                fl = {e: m.new_bool_var(f"f{k}_{d}_{e[0]}_{e[1]}") for e in ok}
                on_path = path_in_tree(routes[k], f.src, d)
                for e in ok:
                    m.add_implication(fl[e], x[e])
                    m.add_hint(fl[e], e in on_path)
                commodities.append((d, fl))
            for d, var in commodities:
                for v in nodes:
                    net = sum(var[e] for e in outs[v]) - sum(var[e] for e in ins[v])
                    m.add(net == (1 if v == f.src else -1 if v == d else 0))
        hint_load = {e: background[e] + sum(c(problem.flows[k].nbytes, e) for k in free if e in set(routes[k]))
                     for e in edges}
        top = max(hint_load.values(), default=0)
        ub = max(1, max((background[e] for e in edges), default=0) +
                 sum(max(c(problem.flows[k].nbytes, e) for e in edges) for k in free))
        self.z = m.new_int_var(0, max(ub, top), "z")
        for e in edges:
            if terms[e] or background[e]:
                m.add(self.z >= background[e] + sum(terms[e]))
        m.add_hint(self.z, top)
        m.minimize(self.z)
        self.hint_objective = float(top)


def _read(problem: RoutingProblem, model: _Model, res: object, routes: list[Route]) -> list[Route]:
    out = list(routes)
    for k, x in model.xs.items():
        f = problem.flows[k]
        chosen = tuple(e for e, var in x.items() if res.boolean_value(var))  # type: ignore[attr-defined]
        out[k] = prune(chosen, f.src, tuple(d for d in f.dsts if d != f.src))
    return out


def _hot_flows(problem: RoutingProblem, routes: list[Route], bws: dict[Edge, float], budget_vars: int,
               edges_per_flow: int) -> list[int]:
    """The flows crossing links loaded within `HOT` of the largest load, heaviest first, as many as
    ``budget_vars`` Booleans allow (at ``edges_per_flow`` per destination)."""
    loads = {e: b / bws[e] for e, b in link_loads(problem, tuple(routes)).items() if e in bws}
    top = max(loads.values(), default=0.0)
    hot = {e for e, v in loads.items() if v >= HOT * top}
    cand = sorted((k for k, r in enumerate(routes) if hot & set(r)), key=lambda k: (-problem.flows[k].nbytes, k))
    out, used = [], 0
    for k in cand:
        need = edges_per_flow * (1 + (len(problem.flows[k].dsts) if len(problem.flows[k].dsts) > 1 else 0))
        if used + need > budget_vars and out:
            break
        out.append(k)
        used += need
    return out


def solve_exact(problem: RoutingProblem, hint: tuple[Route, ...], options: SolverOptions,
                method: str = "mcf") -> tuple[tuple[Route, ...], SolveStats]:
    """The routes of least largest link load (module doc), never worse than ``hint``; stats in ns."""
    t0 = time.perf_counter()
    g = problem.graph()
    edges = sorted(g.edges)
    bws = {e: g.edges[e]["bandwidth"] for e in edges}
    uniform = len(set(bws.values())) <= 1
    unit = (1.0 / next(iter(bws.values()))) if uniform and bws else 1e-3   # ns per model unit
    active = [k for k, f in enumerate(problem.flows) if f.nbytes > 0 and any(d != f.src for d in f.dsts)]
    size = sum(len(edges) * (1 + (len(problem.flows[k].dsts) if len(problem.flows[k].dsts) > 1 else 0))
               for k in active)
    full = size <= FULL_MODEL_MAX_VARS
    routes = list(hint)
    model_bound, rounds, improved, notes = 0.0, 0, 0, []
    if full:
        model = _Model(problem, g, routes, active, {k: edges for k in active}, bws, uniform)
        res = solve_model(model.m, options, name="routing", hint_objective=model.hint_objective)
        rounds = 1
        if res.improved:
            routes, improved = _read(problem, model, res, routes), 1
        if math.isfinite(res.bound) and res.bound > 0:
            model_bound = res.bound * unit
        notes.append(res.limit_note() or "")
    else:
        budget = Budget.of(options)   # wall or deterministic seconds, as the options say
        while budget.left() > 0.05:
            budget.spend(len(problem.flows) * ROUND_ITEM_S)
            free = _hot_flows(problem, routes, bws, LNS_MAX_VARS, len(edges) // 4 + 1)
            if not free:
                break
            allowed = {}
            for k in free:
                keep = _near(g, routes[k], problem.flows[k].src, NEIGHBOURHOOD)
                allowed[k] = [e for e in edges if e[0] in keep and e[1] in keep]
            model = _Model(problem, g, routes, free, allowed, bws, uniform)
            res = solve_model(model.m, options, name="routing-lns", hint_objective=model.hint_objective,
                              time_limit_s=max(0.05, min(budget.left(), options.time_limit_s / 4)), budget=budget)
            rounds += 1
            before = max_link_load_ns(problem, tuple(routes))
            cand = _read(problem, model, res, routes) if res.improved else routes
            if max_link_load_ns(problem, tuple(cand)) < before - 1e-9:
                routes, improved = cand, improved + 1
            else:
                break
    out = tuple(routes)
    obj = max_link_load_ns(problem, out)
    hint_obj = max_link_load_ns(problem, hint)
    if obj > hint_obj:   # the read-back can only drop links; keep the hint on a rounding tie
        out, obj = tuple(hint), hint_obj
    cut, cut_kind = cut_bound(problem)
    bound, kind = (model_bound, "CP-SAT bound") if model_bound > cut else (cut, cut_kind)
    status = Status.OPTIMAL if within_tolerance(obj, bound) else Status.FEASIBLE   # the hint is a solution
    what = "full multi-commodity flow" if full else f"LNS, {rounds} round(s) on the flows of the hottest links"
    note = f"{what}; " + (f"improved the heuristic in {improved} round(s)" if improved
                          else "CP-SAT found nothing better; heuristic kept")
    note += "".join(f"; {n}" for n in notes if n)
    return out, SolveStats("routing", method, status, obj, bound, time.perf_counter() - t0, kind, full, note)
