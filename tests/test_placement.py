"""Placement: heuristics, bounds, CP-SAT, Hungarian and LNS; property tests against brute force."""
from __future__ import annotations

import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cimopt.ir.errors import CapacityError
from cimopt.solver.placement import exact as px
from cimopt.solver.placement.bounds import ball_lp_bound, colocation_bound, lower_bound
from cimopt.solver.placement.heuristic import (HEURISTICS, greedy, heuristic, inorder, local_search, pack, snake,
                                               snake_order)
from cimopt.solver.placement.problem import check, cost, Placement, PlacementProblem
from cimopt.solver.placement.stage import packable_groups, solve_placement as solve
from cimopt.solver.stats import SolverOptions, Status

FAST = SolverOptions(time_limit_s=5.0, seed=1, workers=8)


def brute_force(problem: PlacementProblem) -> float | None:
    """Cheapest feasible placement by enumerating every group → core map; None if none fits."""
    best: float | None = None
    for cores in itertools.product(range(problem.n_cores), repeat=problem.n_groups):
        load = [0] * problem.n_cores
        for g, c in enumerate(cores):
            load[c] += problem.groups[g]
        if max(load) > problem.crossbars_per_core:
            continue
        c = cost(problem, Placement(cores))
        best = c if best is None or c < best else best
    return best


def chain(n_layers: int, per_layer: int, size: int, rows: int, cols: int,
          cap: int) -> PlacementProblem:
    """Layers of ``per_layer`` groups; each group sends 100 bytes to each of the next layer's."""
    groups = tuple(size for _ in range(n_layers * per_layer))
    traffic = tuple((layer * per_layer + i, (layer + 1) * per_layer + j, 100.0)
                    for layer in range(n_layers - 1) for i in range(per_layer)
                    for j in range(per_layer))
    return PlacementProblem(groups, traffic, rows, cols, cap)


@st.composite
def tiny_problems(draw: st.DrawFn) -> PlacementProblem:
    """≤ 5 groups on a ≤ 2×2 mesh, bytes with one decimal so scaling is exercised."""
    rows, cols = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    cap = draw(st.integers(1, 4))
    n = draw(st.integers(1, 5))
    groups = tuple(draw(st.integers(1, cap)) for _ in range(n))
    pairs = [(a, b) for a in range(n) for b in range(a + 1, n)]
    chosen = draw(st.lists(st.sampled_from(pairs), max_size=8)) if pairs else []
    traffic = tuple((a, b, draw(st.integers(1, 1000)) / 10) for a, b in chosen)
    return PlacementProblem(groups, traffic, rows, cols, cap)


def test_problem_normalises_traffic() -> None:
    p = PlacementProblem((1, 1, 1), ((2, 0, 5.0), (0, 2, 1.5), (1, 2, 0.0)), 1, 3, 4)
    assert p.traffic == ((0, 2, 6.5),)
    with pytest.raises(ValueError, match="two different groups"):
        PlacementProblem((1, 1), ((0, 0, 1.0),), 1, 1, 4)


def test_inorder_fills_cores_first_fit_in_index_order() -> None:
    p = PlacementProblem((2, 2, 3, 2, 1), (), 2, 2, 4)
    assert inorder(p).core_of == (0, 0, 1, 2, 1)


def test_snake_visits_rows_boustrophedon() -> None:
    p = PlacementProblem(tuple(4 for _ in range(6)), (), 2, 3, 4)
    assert snake_order(p) == [0, 1, 2, 5, 4, 3]
    assert snake(p).core_of == (0, 1, 2, 5, 4, 3)


@pytest.mark.parametrize("name", HEURISTICS)
def test_heuristics_respect_capacity(name: str) -> None:
    p = chain(6, 4, 3, 3, 3, 9)
    placement = heuristic(name)(p)
    check(p, placement)
    loads = [sum(s for s, c in zip(p.groups, placement.core_of) if c == core)
             for core in range(p.n_cores)]
    assert max(loads) <= p.crossbars_per_core


def test_greedy_beats_inorder_on_a_chain() -> None:
    p = PlacementProblem((4, 4, 4, 4), ((0, 1, 10.0), (1, 2, 10.0), (2, 3, 10.0)), 2, 2, 4)
    assert cost(p, inorder(p)) == 40.0   # row-major: core 1 → core 2 is a diagonal, 2 hops
    assert cost(p, greedy(p)) == 30.0
    _, stats = solve(p, "greedy", FAST)   # every pair is too big to share a core: bound is tight
    assert stats.bound == 30.0 and stats.status == Status.OPTIMAL


def test_ball_lp_bound_beats_colocation_on_a_chain() -> None:
    p = chain(6, 4, 4, 3, 3, 16)
    assert colocation_bound(p) == 0.0   # any two groups fit in one core
    bound, kind = lower_bound(p)
    assert kind == "ball LP bound" and bound == pytest.approx(ball_lp_bound(p)) and bound > 0
    assert bound <= cost(p, px.lns(p, snake(p), SolverOptions(1.0, 0, 8)))


def test_check_rejects_overfull_core() -> None:
    p = PlacementProblem((3, 3), (), 1, 2, 4)
    with pytest.raises(ValueError, match="core 0 crossbars: holds 6, has 4"):
        check(p, Placement((0, 0)))


def test_capacity_error_when_demand_exceeds_chip() -> None:
    p = PlacementProblem((4, 4, 4), ((0, 1, 1.0),), 1, 2, 4)
    for method in ("inorder", "greedy+ls", "exact", "hungarian", "lns"):
        with pytest.raises(CapacityError, match="short by 4"):
            solve(p, method, FAST)


def test_capacity_error_when_group_exceeds_core() -> None:
    p = PlacementProblem((5, 1), (), 2, 2, 4)
    with pytest.raises(CapacityError, match="group 0 needs 5 crossbars but a core has 4"):
        solve(p, "snake", FAST)


def test_capacity_error_when_packing_is_impossible() -> None:
    p = PlacementProblem((3, 3, 2), ((0, 1, 1.0),), 1, 2, 4)   # 8 ≤ 8 crossbars, but no packing
    with pytest.raises(CapacityError, match="cannot be packed"):
        solve(p, "exact", FAST)


def test_improvers_never_worse_than_start_on_a_chain() -> None:
    p = chain(8, 4, 4, 4, 4, 16)
    start = inorder(p)
    opts = SolverOptions(time_limit_s=2.0, seed=2, workers=8)
    for improve in (local_search, px.hungarian, px.lns):
        better = improve(p, start, opts)
        check(p, better)
        assert cost(p, better) <= cost(p, start)


def test_solve_reports_valid_stats_on_a_chain() -> None:
    p = chain(6, 4, 4, 3, 3, 16)
    opts = SolverOptions(time_limit_s=2.0, seed=0, workers=8)
    results = {m: solve(p, m, opts) for m in ("inorder", "snake+ls", "exact", "hungarian")}
    for method, (placement, stats) in results.items():
        check(p, placement)
        assert stats.method == method and stats.stage == "placement"
        assert stats.objective == pytest.approx(cost(p, placement))
        assert 0 <= stats.bound <= stats.objective
        assert stats.bound_kind
    assert results["exact"][1].objective <= results["snake+ls"][1].objective


def test_deterministic_for_a_seed() -> None:
    p = PlacementProblem((2, 1, 1, 2, 1), ((0, 1, 3.0), (1, 2, 7.0), (2, 3, 2.0), (0, 4, 5.0),
                                           (3, 4, 1.5)), 2, 2, 3)
    opts = SolverOptions(time_limit_s=5.0, seed=7, workers=8)
    first, second = solve(p, "exact", opts)[1], solve(p, "exact", opts)[1]
    assert first.objective == second.objective and first.status == Status.OPTIMAL
    q = chain(6, 4, 4, 3, 3, 16)
    assert local_search(q, inorder(q), opts) == local_search(q, inorder(q), opts)
    assert px.hungarian(q, inorder(q), opts) == px.hungarian(q, inorder(q), opts)


def test_weight_scale_keeps_integers_exact() -> None:
    assert px.weight_scale([3.0, 5.0], 4) == 1.0
    assert px.weight_scale([0.1], 4) == 2.0 ** 51
    assert px.weight_scale([2.0 ** 60], 1) < 1.0


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tiny_problems())
def test_against_brute_force(p: PlacementProblem) -> None:
    optimum = brute_force(p)
    if optimum is None:
        with pytest.raises(CapacityError):
            solve(p, "exact", FAST)
        return
    bound, _ = lower_bound(p)
    assert bound <= optimum + 1e-9
    placement, stats = solve(p, "exact", FAST)
    check(p, placement)
    assert stats.objective == pytest.approx(optimum, rel=1e-9, abs=1e-9)
    assert stats.status == Status.OPTIMAL and stats.exact
    assert stats.bound <= optimum + 1e-9
    for method in ("inorder", "snake", "greedy", "inorder+ls", "snake+ls", "greedy+ls"):
        try:
            h_placement, h_stats = solve(p, method, FAST)
        except CapacityError:
            continue   # first fit can fail on a tight packing that exists
        check(p, h_placement)
        assert h_stats.bound <= optimum + 1e-9
        assert h_stats.objective >= optimum - 1e-9
        start = h_placement
        assert cost(p, px.hungarian(p, start, FAST)) <= h_stats.objective + 1e-9
        lns_placement = px.lns(p, start, FAST)
        check(p, lns_placement)
        assert cost(p, lns_placement) <= h_stats.objective + 1e-9


def _cover(groups: list[tuple[str, int, int, int]]) -> dict[tuple[str, int], list[int]]:
    """Tile indices per (op, replica), in group order."""
    out: dict[tuple[str, int], list[int]] = {}
    for op, r, first, n in groups:
        out.setdefault((op, r), []).extend(range(first, first + n))
    return out


def test_groups_that_do_not_pack_are_cut_at_free_space() -> None:
    # three groups of 3 on two cores of 4: 9 > 8 crossbars do not fit at all; 2 + 3 + 3 on two cores
    # of 4 fit in total but best-fit decreasing puts 3 and 3 on separate cores and 2 fits nowhere
    assert packable_groups([("a", 0, 0, 3)] * 3, 4, 1, 2)[1] == 0           # too big: left to placement
    groups = [("a", 0, 0, 3), ("b", 0, 0, 3), ("c", 0, 0, 2)]
    with pytest.raises(CapacityError):
        pack(PlacementProblem((3, 3, 2), (), 1, 2, 4))
    cut, added = packable_groups(groups, 4, 1, 2)
    assert added == len(cut) - len(groups) > 0
    assert _cover(cut) == _cover(groups)
    check(PlacementProblem(tuple(n for *_, n in cut), (), 1, 2, 4),
          pack(PlacementProblem(tuple(n for *_, n in cut), (), 1, 2, 4)))


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 3), st.integers(1, 3), st.integers(1, 8),
       st.lists(st.integers(1, 8), min_size=1, max_size=14))
def test_cut_groups_always_pack_when_the_chip_has_room(rows: int, cols: int, cap: int, sizes: list[int]) -> None:
    groups = [(f"op{i}", 0, 0, min(s, cap)) for i, s in enumerate(sizes)]
    cut, added = packable_groups(groups, cap, rows, cols)
    assert _cover(cut) == _cover(groups) and added == len(cut) - len(groups)
    assert all(n >= 1 for *_, n in cut)
    p = PlacementProblem(tuple(n for *_, n in cut), (), rows, cols, cap)
    if sum(n for *_, n in groups) > cap * rows * cols:
        assert added == 0
        return
    try:
        placed = pack(p)
    except CapacityError:
        placed = inorder(p)          # the fallback cut packs along first fit by construction
    check(p, placed)
