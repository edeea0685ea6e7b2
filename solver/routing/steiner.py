"""Multicast trees: a tree of directed links from a source router reaching every destination.

`kou_tree`: the minimum spanning tree of the metric closure of the terminals (Kruskal, networkx's
``steiner_tree(method="kou")``, a 2 - 2/leaves approximation of the lightest tree) on the
undirected view of a network whose links go both ways, oriented away from the source; on a
network with one-way links, the shortest-path tree from the source.  `exact_tree`: the lightest
tree, a CP-SAT model (one unit of flow from the source to each destination inside the tree's
links), for small terminal sets.  Weights are per link (e.g. hops, or a congestion price).
"""
from __future__ import annotations

import networkx as nx
from networkx.algorithms.approximation import steiner_tree
from ortools.sat.python import cp_model

from cimopt.solver.cpsat import solve_model
from cimopt.solver.routing.problem import path_in_tree, prune, Route
from cimopt.solver.stats import SolverOptions, Status

#: the most destinations `exact_tree` is meant for (the model has a flow per destination)
EXACT_MAX_DSTS = 8


def tree_weight(g: nx.DiGraph, route: Route, weight: str) -> float:
    """The sum of the weights of the route's links."""
    return float(sum(g.edges[u, v][weight] for u, v in set(route)))


def _symmetric(g: nx.DiGraph) -> bool:
    return all(g.has_edge(v, u) for u, v in g.edges)


def kou_tree(g: nx.DiGraph, src: int, dsts: tuple[int, ...], weight: str) -> Route:
    """A light tree from ``src`` to ``dsts`` (module doc); links sorted."""
    terminals = sorted({src, *dsts})
    if len(terminals) == 1:
        return ()
    if not _symmetric(g):
        paths = nx.single_source_dijkstra_path(g, src, weight=weight)
        return prune(tuple((u, v) for d in dsts for u, v in zip(paths[d], paths[d][1:])), src, dsts)
    ug = nx.Graph()
    ug.add_nodes_from(g.nodes)
    for u, v, e in g.edges(data=True):
        w = (e[weight] + g.edges[v, u][weight]) / 2
        if not ug.has_edge(u, v) or ug.edges[u, v][weight] > w:
            ug.add_edge(u, v, **{weight: w})
    tree = steiner_tree(ug, terminals, weight=weight, method="kou")
    both = tuple((u, v) for a, b in tree.edges for u, v in ((a, b), (b, a)))
    return prune(both, src, dsts)


def exact_tree(g: nx.DiGraph, src: int, dsts: tuple[int, ...], weight: str,
               options: SolverOptions, hint: Route = ()) -> tuple[Route, Status, float]:
    """The lightest tree from ``src`` to ``dsts`` by CP-SAT (integer link weights), hinted with
    ``hint`` (a tree; `kou_tree` when empty); returns (tree, status, lower bound of its weight).
    Never heavier than the hint."""
    dsts = tuple(sorted({d for d in dsts if d != src}))
    if not dsts:
        return (), Status.OPTIMAL, 0.0
    hint = hint or kou_tree(g, src, dsts, weight)
    m = cp_model.CpModel()
    edges = sorted(g.edges)
    y = {e: m.new_bool_var(f"y{e}") for e in edges}
    for d in dsts:
        f = {e: m.new_bool_var(f"f{d}{e}") for e in edges}
        for e in edges:
            m.add_implication(f[e], y[e])
        for v in g.nodes:
            net = sum(f[(v, w)] for w in g.successors(v)) - sum(f[(u, v)] for u in g.predecessors(v))
            m.add(net == (1 if v == src else -1 if v == d else 0))
        hint_path = path_in_tree(hint, src, d)
        for e in edges:
            m.add_hint(f[e], e in hint_path)
    for e in edges:
        m.add_hint(y[e], e in set(hint))
    cost = {e: int(round(g.edges[e][weight])) for e in edges}
    m.minimize(sum(cost[e] * y[e] for e in edges))
    res = solve_model(m, options, name="steiner", hint_objective=float(sum(cost[e] for e in set(hint))))
    if not res.improved:
        return hint, res.status, max(0.0, res.bound)
    tree = prune(tuple(e for e in edges if res.boolean_value(y[e])), src, dsts)
    return tree, res.status, max(0.0, res.bound)
