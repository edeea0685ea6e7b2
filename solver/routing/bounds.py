"""Lower bounds of the largest link load (ns per inference), valid for every route of every flow.

A cut ``(S, V \\ S)`` of the routers: every flow with its source in ``S`` and a destination
outside crosses the links from ``S`` to the rest at least once (a multicast tree too, its bytes
once), so some link of the cut carries at least ``bytes across / the cut's bandwidth`` ns of them
(the loads of the cut's links, weighted by their bandwidths, sum to the bytes).  The cuts counted:

* per source router, the minimum cut between it and all its flows' destinations (max-flow /
  min-cut on the link bandwidths), and per destination router the minimum cut from all the
  sources that send to it;
* the problem's own router sets (`RoutingProblem.cuts`: a mesh's row and column half-planes,
  the bisection among them), both directions.
"""
from __future__ import annotations

from collections import defaultdict, deque

from cimopt.solver.routing.problem import RoutingProblem

def _min_cut(adj: dict[int, dict[int, float]], sources: set[int], sinks: set[int]) -> float:
    """The smallest total bandwidth (bytes/ns) of links whose removal separates ``sources`` from
    ``sinks``: the maximum flow (Edmonds-Karp, shortest augmenting paths; ``adj[u][v]`` the
    bandwidth of link u->v).  Few augmentations on a network of a few links per router."""
    if sources & sinks:
        return float("inf")
    res: dict[int, dict[int, float]] = {u: dict(vs) for u, vs in adj.items()}
    for u, vs in adj.items():
        for v in vs:
            res.setdefault(v, {}).setdefault(u, 0.0)
    total = 0.0
    while True:
        parent: dict[int, int] = {s: s for s in sources}
        todo = deque(sorted(sources))
        end = -1
        while todo and end < 0:
            u = todo.popleft()
            for v, c in res.get(u, {}).items():
                if c > 1e-12 and v not in parent:
                    parent[v] = u
                    if v in sinks:
                        end = v
                        break
                    todo.append(v)
        if end < 0:
            return total
        path, v = [], end
        while v not in sources:
            path.append((parent[v], v))
            v = parent[v]
        push = min(res[u][v] for u, v in path)
        for u, v in path:
            res[u][v] -= push
            res[v][u] += push
        total += push


def cut_bound(problem: RoutingProblem) -> tuple[float, str]:
    """The largest of the cut bounds (module doc), ns per inference, and which cut gives it."""
    g = problem.graph()
    adj: dict[int, dict[int, float]] = defaultdict(dict)
    for u, v, e in g.edges(data=True):
        adj[u][v] = e["bandwidth"]
    best, kind = 0.0, "no flow crosses a link"
    out_bytes: dict[int, int] = defaultdict(int)
    out_dsts: dict[int, set[int]] = defaultdict(set)
    in_bytes: dict[int, int] = defaultdict(int)
    in_srcs: dict[int, set[int]] = defaultdict(set)
    for f in problem.flows:
        dsts = {d for d in f.dsts if d != f.src}
        if not dsts or f.nbytes <= 0:
            continue
        out_bytes[f.src] += f.nbytes
        out_dsts[f.src] |= dsts
        for d in dsts:
            in_bytes[d] += f.nbytes
            in_srcs[d].add(f.src)
    for s in sorted(out_bytes):
        cap = _min_cut(adj, {s}, out_dsts[s])
        if cap > 0 and out_bytes[s] / cap > best:
            best, kind = out_bytes[s] / cap, f"min cut around source router {s} (max-flow)"
    for d in sorted(in_bytes):
        cap = _min_cut(adj, in_srcs[d], {d})
        if cap > 0 and in_bytes[d] / cap > best:
            best, kind = in_bytes[d] / cap, f"min cut around destination router {d} (max-flow)"
    for k, cut in enumerate(problem.cuts):
        side = set(cut)
        for forward in (True, False):
            cap = sum(e["bandwidth"] for u, v, e in g.edges(data=True) if (u in side) == forward and (v in side) != forward)
            across = sum(f.nbytes for f in problem.flows
                         if (f.src in side) == forward and any((d in side) != forward for d in f.dsts))
            if cap > 0 and across / cap > best:
                best, kind = across / cap, f"cut {k} ({len(side)} routers, {'out of' if forward else 'into'} it)"
    return best, kind
