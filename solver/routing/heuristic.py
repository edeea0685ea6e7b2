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

import heapq
from collections.abc import Callable

from cimopt.solver.routing.problem import byte_hops, Flow, Link, max_link_load_ns, Route, RoutingProblem
from cimopt.solver.routing.steiner import kou_tree

ROUNDS = 2
_EXPONENT = 4


def xy(problem: RoutingProblem) -> tuple[Route, ...]:
    """The default (dimension-order) route of every flow."""
    return problem.default_routes


def _score(problem: RoutingProblem, routes: tuple[Route, ...]) -> tuple[float, float]:
    return max_link_load_ns(problem, routes), byte_hops(problem, routes)


def _shortest(adj: dict[int, list[tuple[int, float]]], src: int, dst: int,
              price: Callable[[int, int, float], float]) -> list[int]:
    """The cheapest path from ``src`` to ``dst`` (Dijkstra; ``price(u, v, bandwidth)`` per link;
    ties: fewer routers by number), as routers."""
    dist = {src: 0.0}
    parent = {src: src}
    heap = [(0.0, src)]
    done: set[int] = set()
    while heap:
        d, u = heapq.heappop(heap)
        if u in done:
            continue
        if u == dst:
            break
        done.add(u)
        for v, bw in adj[u]:
            nd = d + price(u, v, bw)
            if nd < dist.get(v, float("inf")):
                dist[v] = nd
                parent[v] = u
                heapq.heappush(heap, (nd, v))
    path = [dst]
    while path[-1] != src:
        path.append(parent[path[-1]])
    return path[::-1]


def dijkstra(problem: RoutingProblem) -> tuple[Route, ...]:
    """Congestion-aware routes (module doc); never worse than `xy` by (max link load, byte-hops)."""
    g = problem.graph()
    bw = {(u, v): e["bandwidth"] for u, v, e in g.edges(data=True)}
    adj: dict[int, list[tuple[int, float]]] = {u: [] for u in g.nodes}
    for (u, v), b in sorted(bw.items()):
        adj[u].append((v, b))
    order = sorted(range(len(problem.flows)), key=lambda k: (-problem.flows[k].nbytes, k))
    load: dict[Link, float] = {}
    routes: list[Route] = [() for _ in problem.flows]
    top = [0.0]   # the largest link load (ns), never lowered within a round (a price scale)

    def add(k: int, sign: int) -> None:
        for ln in set(routes[k]):
            load[ln] = load.get(ln, 0.0) + sign * problem.flows[k].nbytes
            top[0] = max(top[0], load[ln] / bw[ln])

    def route_one(f: Flow) -> Route:
        scale = max(top[0], f.nbytes / max(bw.values(), default=1.0))

        def price(u: int, v: int, b: float) -> float:
            return 1.0 + ((load.get((u, v), 0.0) + f.nbytes) / b / scale) ** _EXPONENT

        dsts = tuple(d for d in f.dsts if d != f.src)
        if not dsts:
            return ()
        if len(dsts) > 1 and problem.multicast:
            for u, v, e in g.edges(data=True):
                e["price"] = price(u, v, e["bandwidth"])
            return kou_tree(g, f.src, dsts, "price")
        path = _shortest(adj, f.src, dsts[0], price)
        return tuple(zip(path, path[1:]))

    best = tuple(problem.default_routes)
    best_score = _score(problem, best)
    for rnd in range(ROUNDS + 1):
        top[0] = max((b / bw[ln] for ln, b in load.items()), default=0.0)
        for k in order:
            if rnd:
                add(k, -1)
            routes[k] = route_one(problem.flows[k])
            add(k, +1)
        cand = tuple(routes)
        score = _score(problem, cand)
        if score < best_score:
            best, best_score = cand, score
    return best
