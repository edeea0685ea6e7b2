"""Routing heuristics: the routers' own dimension-order routes (`xy`), and Dijkstra on
congestion-weighted links with rip-up and reroute (`dijkstra`), multicast flows on Steiner trees
(`cimopt.solver.routing.steiner.kou_tree`) under the same weights.

`dijkstra`: flows taken heaviest first; a flow's link ``e`` costs ``1 + ((load_e + bytes) / bw_e
/ M)^4`` where ``M`` is the largest link load so far (ns): one per hop on a cool link, steeply
more on a link the flow would make the hottest, so flows detour around hot links when a detour
is cheap.  Then ``ROUNDS`` rounds of rip-up and reroute (PathFinder style: each flow removed and
routed again under the others' loads); the best routes seen, by (largest link load, byte-hops),
are kept, the XY routes among the candidates, so it is never worse than `xy`.
"""
from __future__ import annotations

import networkx as nx

from cimopt.solver.routing.problem import byte_hops, Flow, Link, max_link_load_ns, Route, RoutingProblem
from cimopt.solver.routing.steiner import kou_tree

ROUNDS = 3
_EXPONENT = 4


def xy(problem: RoutingProblem) -> tuple[Route, ...]:
    """The default (dimension-order) route of every flow."""
    return problem.default_routes


def _score(problem: RoutingProblem, routes: tuple[Route, ...]) -> tuple[float, float]:
    return max_link_load_ns(problem, routes), byte_hops(problem, routes)


def _route_one(g: nx.DiGraph, f: Flow, load: dict[Link, float], top: float, multicast: bool) -> Route:
    """The cheapest route of ``f`` under the congestion prices of ``load`` (bytes) and ``top`` (ns)."""
    for u, v, e in g.edges(data=True):
        ns = (load.get((u, v), 0.0) + f.nbytes) / e["bandwidth"]
        e["price"] = 1.0 + (ns / top) ** _EXPONENT if top > 0 else 1.0
    dsts = tuple(d for d in f.dsts if d != f.src)
    if not dsts:
        return ()
    if len(dsts) > 1 and multicast:
        return kou_tree(g, f.src, dsts, "price")
    path = nx.dijkstra_path(g, f.src, dsts[0], weight="price")
    return tuple(zip(path, path[1:]))


def dijkstra(problem: RoutingProblem) -> tuple[Route, ...]:
    """Congestion-aware routes (module doc); never worse than `xy` by (max link load, byte-hops)."""
    g = problem.graph()
    bw = {(u, v): e["bandwidth"] for u, v, e in g.edges(data=True)}
    order = sorted(range(len(problem.flows)), key=lambda k: (-problem.flows[k].nbytes, k))
    load: dict[Link, float] = {}
    routes: list[Route] = [() for _ in problem.flows]

    def add(k: int, sign: int) -> None:
        for ln in set(routes[k]):
            load[ln] = load.get(ln, 0.0) + sign * problem.flows[k].nbytes

    def top() -> float:
        return max((b / bw[ln] for ln, b in load.items()), default=0.0)

    best = tuple(problem.default_routes)
    best_score = _score(problem, best)
    for rnd in range(ROUNDS + 1):
        for k in order:
            if rnd:
                add(k, -1)
            f = problem.flows[k]
            routes[k] = _route_one(g, f, load, max(top(), f.nbytes / max(bw.values(), default=1.0)),
                                   problem.multicast)
            add(k, +1)
        cand = tuple(routes)
        score = _score(problem, cand)
        if score < best_score:
            best, best_score = cand, score
    return best
