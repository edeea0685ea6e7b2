"""Routing's problem: flows of bytes between routers of a network of directed links, the routes
that carry them, and what a set of routes costs.

A `Flow` sends ``nbytes`` bytes per inference from router ``src`` to every router of ``dsts``:
one destination is a unicast (its route a path); several, a multicast whose routers replicate
packets (its route a tree from ``src``, each link carrying the bytes once).  A route is a tuple
of links ``(u, v)``.  The load of a link is the bytes of the flows whose routes hold it over the
link's bandwidth (ns per inference); the objective is the largest link load (ns).  Byte-hops
(bytes x links, summed over flows) is reported beside it.
"""
from __future__ import annotations

from collections import defaultdict, deque
from dataclasses import dataclass

import networkx as nx

STAGE = "routing"

Link = tuple[int, int]
Route = tuple[Link, ...]


@dataclass(frozen=True)
class NocLink:
    """A directed link from router ``src`` to router ``dst`` of ``bandwidth_bytes_per_ns`` bytes/ns."""

    src: int
    dst: int
    bandwidth_bytes_per_ns: float


@dataclass(frozen=True)
class Flow:
    """``nbytes`` bytes per inference from router ``src`` to each router of ``dsts`` (sorted, not ``src``)."""

    src: int
    dsts: tuple[int, ...]
    nbytes: int


@dataclass(frozen=True)
class RoutingProblem:
    """Flows on a network of ``routers`` routers and ``links``; ``default_routes``: the route of each
    flow a router without tables takes (XY on a mesh; the union of the XY paths for a multicast),
    the baseline; ``cuts``: router sets whose boundary the bound counts beside the max-flow cuts
    (a mesh's half planes, its bisection among them); ``multicast``: do routers replicate
    packets (flows with several destinations are trees)?"""

    routers: int
    links: tuple[NocLink, ...]
    flows: tuple[Flow, ...]
    default_routes: tuple[Route, ...]
    cuts: tuple[tuple[int, ...], ...] = ()
    multicast: bool = False

    def graph(self) -> nx.DiGraph:
        """The network, edges with ``bandwidth`` (bytes/ns)."""
        g = nx.DiGraph()
        g.add_nodes_from(range(self.routers))
        for ln in self.links:
            g.add_edge(ln.src, ln.dst, bandwidth=ln.bandwidth_bytes_per_ns)
        return g


@dataclass(frozen=True)
class Routing:
    """A route per flow (problem order)."""

    routes: tuple[Route, ...]


def link_loads(problem: RoutingProblem, routes: tuple[Route, ...]) -> dict[Link, float]:
    """Bytes per inference on each link the routes hold (a link a route holds twice counts once)."""
    load: dict[Link, float] = defaultdict(float)
    for f, r in zip(problem.flows, routes):
        for ln in set(r):
            load[ln] += f.nbytes
    return dict(load)


def max_link_load_ns(problem: RoutingProblem, routes: tuple[Route, ...]) -> float:
    """The largest link load: bytes per inference over the link's bandwidth (ns)."""
    bw = {(ln.src, ln.dst): ln.bandwidth_bytes_per_ns for ln in problem.links}
    return max((b / bw[ln] for ln, b in link_loads(problem, routes).items() if ln in bw), default=0.0)


def byte_hops(problem: RoutingProblem, routes: tuple[Route, ...]) -> float:
    """Sum over flows of bytes x the links of the route (bytes x links per inference)."""
    return float(sum(f.nbytes * len(set(r)) for f, r in zip(problem.flows, routes)))


def reached(route: Route, src: int) -> set[int]:
    """Routers the links of ``route`` reach from ``src`` (``src`` included)."""
    out: dict[int, list[int]] = defaultdict(list)
    for u, v in route:
        out[u].append(v)
    seen, todo = {src}, deque([src])
    while todo:
        u = todo.popleft()
        for v in out[u]:
            if v not in seen:
                seen.add(v)
                todo.append(v)
    return seen


def check(problem: RoutingProblem, routes: tuple[Route, ...]) -> list[str]:
    """Every way ``routes`` fails the problem: a count other than one per flow, a link the network
    lacks, a destination not reached from the source, a multicast tree on a network whose routers
    do not replicate, a link held twice."""
    if len(routes) != len(problem.flows):
        return [f"{len(routes)} routes for {len(problem.flows)} flows"]
    have = {(ln.src, ln.dst) for ln in problem.links}
    out: list[str] = []
    for k, (f, r) in enumerate(zip(problem.flows, routes)):
        bad = [ln for ln in r if tuple(ln) not in have]
        if bad:
            out.append(f"flow {k}: link {bad[0][0]}->{bad[0][1]} is not a link of the network")
        if len(set(r)) != len(r):
            out.append(f"flow {k}: a link appears twice")
        lost = [d for d in f.dsts if d not in reached(r, f.src)]
        if lost:
            out.append(f"flow {k}: router {lost[0]} is not reached from router {f.src}")
        if len(f.dsts) > 1 and not problem.multicast:
            out.append(f"flow {k}: {len(f.dsts)} destinations but the routers do not multicast")
    return out


def prune(route: Route, src: int, dsts: tuple[int, ...]) -> Route:
    """The links of ``route`` that a tree from ``src`` to ``dsts`` needs: a BFS tree of its links
    from ``src`` (shortest branches), leaves that are not destinations cut off repeatedly; sorted."""
    out: dict[int, list[int]] = defaultdict(list)
    for u, v in sorted(set(route)):
        out[u].append(v)
    parent: dict[int, int] = {src: src}
    todo = deque([src])
    while todo:
        u = todo.popleft()
        for v in out[u]:
            if v not in parent:
                parent[v] = u
                todo.append(v)
    keep: set[Link] = set()
    for d in dsts:
        v = d
        while v != src and v in parent:
            keep.add((parent[v], v))
            v = parent[v]
    return tuple(sorted(keep))


def path_in_tree(tree: Route, src: int, dst: int) -> set[Link]:
    """The links of the path from ``src`` to ``dst`` inside ``tree`` (each router entered once)."""
    parent = {v: u for u, v in tree}
    out: set[Link] = set()
    v = dst
    while v != src and v in parent and (parent[v], v) not in out:
        out.add((parent[v], v))
        v = parent[v]
    return out
