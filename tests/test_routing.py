"""The routing stage: XY, congestion-weighted Dijkstra, Steiner trees and the exact multi-commodity
flow against brute force on tiny meshes; the cut bound below every routing."""
from __future__ import annotations

import itertools
from dataclasses import replace

import networkx as nx
import pytest
from hypothesis import given, settings, strategies as st

from cimopt.solver.routing import generator
from cimopt.solver.routing.bounds import cut_bound
from cimopt.solver.routing.exact import solve_exact
from cimopt.solver.routing.heuristic import dijkstra, xy
from cimopt.solver.routing.problem import (byte_hops, check, link_loads, max_link_load_ns, prune, Route,
                                           RoutingProblem)
from cimopt.solver.routing.stage import RoutingStage
from cimopt.solver.routing.steiner import exact_tree, kou_tree, tree_weight
from cimopt.solver.stats import SolverOptions, Status

OPTS = SolverOptions(time_limit_s=20.0, seed=0, workers=1)


def _simple_paths(p: RoutingProblem, src: int, dst: int) -> list[Route]:
    g = p.graph()
    return [tuple(zip(path, path[1:])) for path in nx.all_simple_paths(g, src, dst)]


def _brute_force(p: RoutingProblem) -> float:
    """The least largest link load over every choice of a simple path per flow (unicast only)."""
    options = [_simple_paths(p, f.src, f.dsts[0]) for f in p.flows]
    return min(max_link_load_ns(p, routes) for routes in itertools.product(*options))


tiny_flows = st.lists(st.tuples(st.integers(0, 5), st.integers(0, 5), st.integers(1, 8)), min_size=1, max_size=3)


@settings(max_examples=25, deadline=None)
@given(tiny_flows)
def test_exact_routing_matches_brute_force_and_bounds_hold(flows: list[tuple[int, int, int]]) -> None:
    p = generator.mesh_instance(2, 3, [(s, (d,), b * 1024) for s, d, b in flows])
    if not p.flows:
        return
    best = _brute_force(p)
    routes, stats = solve_exact(p, dijkstra(p), OPTS)
    assert not check(p, routes)
    assert stats.status is Status.OPTIMAL
    assert stats.objective == pytest.approx(best)
    assert max_link_load_ns(p, routes) == pytest.approx(best)
    bound, _ = cut_bound(p)
    assert bound <= best + 1e-9
    for heuristic in (xy, dijkstra):
        r = heuristic(p)
        assert not check(p, r)
        assert max_link_load_ns(p, r) >= best - 1e-9
    assert max_link_load_ns(p, dijkstra(p)) <= max_link_load_ns(p, xy(p)) + 1e-9


def _brute_tree(g: nx.DiGraph, src: int, dsts: tuple[int, ...]) -> int:
    """The fewest links of a tree from ``src`` reaching ``dsts`` (every subset of links, smallest first)."""
    edges = sorted(g.edges)
    for k in range(len(edges) + 1):
        for sub in itertools.combinations(edges, k):
            reach = nx.descendants(nx.DiGraph(sub), src) if any(src in e for e in sub) else set()
            if all(d in reach for d in dsts):
                return k
    raise AssertionError("unreachable")


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 5), st.sets(st.integers(0, 5), min_size=1, max_size=4))
def test_steiner_trees_against_brute_force(src: int, dsts: set[int]) -> None:
    p = generator.mesh_instance(2, 3, [])
    g = p.graph()
    for _, _, e in g.edges(data=True):
        e["hops"] = 1
    targets = tuple(sorted(dsts - {src}))
    if not targets:
        return
    best = _brute_tree(g, src, targets)
    tree, status, lb = exact_tree(g, src, targets, "hops", OPTS)
    assert status is Status.OPTIMAL and lb <= best
    assert tree_weight(g, tree, "hops") == best
    approx = kou_tree(g, src, targets, "hops")
    assert best <= tree_weight(g, approx, "hops") <= 2 * best
    for t in (tree, approx):
        reach = nx.descendants(nx.DiGraph(list(t)), src) if t else set()
        assert all(d in reach for d in targets)
        assert len({v for _, v in t}) == len(t), "a router entered twice is not a tree"


@pytest.mark.parametrize("mode", ["unicast", "multicast"])
def test_every_method_on_generated_instances(mode: str) -> None:
    stage = RoutingStage()
    for seed in range(3):
        p = generator.instance(24, seed, mode)
        bound, _ = cut_bound(p)
        objs = {}
        for m in stage.methods:
            sol, stats = stage.solve(p, m.name, SolverOptions(time_limit_s=5.0, seed=0, workers=1))
            routes = sol.routing.routes
            assert not check(p, routes), (m.name, check(p, routes)[:2])
            assert stats.objective == pytest.approx(max_link_load_ns(p, routes))
            assert stats.bound <= stats.objective + 1e-6
            assert bound <= stats.objective + 1e-6
            objs[m.name] = stats.objective
        assert objs["dijkstra"] <= objs["xy"] + 1e-9
        assert objs["mcf"] <= objs["dijkstra"] + 1e-9


def test_multicast_trees_move_fewer_bytes_than_unicast() -> None:
    flows = [(0, (2, 8), 4096), (4, (0, 2, 6, 8), 1024), (7, (1, 3), 2048)]
    multi = generator.mesh_instance(3, 3, flows, multicast=True)
    uni = generator.mesh_instance(3, 3, [(s, (d,), b) for s, ds, b in flows for d in ds])
    for method in (xy, dijkstra):
        assert byte_hops(multi, method(multi)) < byte_hops(uni, method(uni))
        assert max_link_load_ns(multi, method(multi)) <= max_link_load_ns(uni, method(uni)) + 1e-9
    assert not check(multi, dijkstra(multi))
    assert check(replace(multi, multicast=False), xy(multi))   # trees need routers that multicast


def test_check_catches_broken_routes() -> None:
    p = generator.mesh_instance(2, 2, [(0, (3,), 100), (1, (2,), 50)])
    good = xy(p)
    assert not check(p, good)
    assert any("not reached" in v for v in check(p, (good[0][:-1], good[1])))
    assert any("not a link" in v for v in check(p, (((0, 3),), good[1])))
    assert any("routes for" in v for v in check(p, good[:1]))
    loads = link_loads(p, good)
    assert sum(loads.values()) == byte_hops(p, good)


def test_prune_keeps_a_tree_to_the_destinations() -> None:
    route = ((0, 1), (1, 2), (2, 5), (1, 4), (4, 5), (0, 3))
    tree = prune(route, 0, (5,))
    assert tree == ((0, 1), (1, 2), (2, 5)) or tree == ((0, 1), (1, 4), (4, 5))
    assert prune(route, 0, (3, 4)) == ((0, 1), (0, 3), (1, 4))
