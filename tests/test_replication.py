"""Replication and segmentation: heuristics, CP-SAT and DP against brute force on tiny instances."""
from __future__ import annotations

import itertools
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cimopt.ir.errors import CapacityError
from cimopt.solver.replication import heuristic as rp
from cimopt.solver.replication.bounds import integer_copies_bound, water_filling_bound
from cimopt.solver.replication.stage import solve_replication
from cimopt.solver.segmentation import heuristic as sg
from cimopt.solver.stats import SolverOptions, Status

OPTS = SolverOptions(time_limit_s=10.0, seed=0, workers=2)
TOL = 1e-9
SETTINGS = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def layers_and_edges(draw: st.DrawFn, max_layers: int = 4) -> tuple[tuple[rp.Layer, ...], tuple[tuple[int, int], ...]]:
    """Up to ``max_layers`` small layers (integral ns times) and a random DAG over them."""
    n = draw(st.integers(1, max_layers))
    granules = [draw(st.integers(1, 3)) for _ in range(n)]
    layers = tuple(
        rp.Layer(
            name=f"l{i}",
            crossbars=draw(st.integers(0, 4)),
            vectors=granules[i] * draw(st.integers(1, 4)),
            granule=granules[i],
            interval_ns=float(draw(st.integers(0, 10))),
            fixed_ns=float(draw(st.integers(0, 5))),
            max_copies=draw(st.integers(0, 4)),
            program_ns=float(draw(st.integers(0, 30))),
        )
        for i in range(n)
    )
    pairs = [(u, v) for v in range(n) for u in range(v)]
    edges = tuple(p for p in pairs if draw(st.booleans()))
    return layers, edges


@st.composite
def fitting_problems(draw: st.DrawFn) -> rp.ReplicationProblem:
    """A replication problem whose one-copy need fits a budget of at most 12 crossbars."""
    layers, edges = draw(layers_and_edges())
    need = sum(layer.crossbars for layer in layers)
    if need > 12:
        layers = tuple(rp.Layer(x.name, min(x.crossbars, 3), x.vectors, x.interval_ns, x.fixed_ns, x.max_copies,
                                granule=x.granule) for x in layers)
        need = sum(layer.crossbars for layer in layers)
    budget = draw(st.integers(need, 12))
    mode = draw(st.sampled_from(rp.MODES))
    return rp.ReplicationProblem(layers, edges, budget, mode)


def brute_replication(problem: rp.ReplicationProblem) -> float:
    """Optimum over every copy vector within the caps and the budget (ns)."""
    ranges = [range(1, layer.copy_cap + 1) for layer in problem.layers]
    best = math.inf
    for copies in itertools.product(*ranges):
        if rp.crossbars_used(problem, copies) <= problem.budget:
            best = min(best, rp.objective(problem, rp.Replication(tuple(copies))))
    return best


def brute_segments(problem: rp.ReplicationProblem, order: list[int], cuts: list[tuple[int, int]]) -> float:
    """Cost of given segments with brute-force replication inside each (ns); inf if one does not fit."""
    total = 0.0
    for i, j in cuts:
        members = order[i:j]
        sub = sg.subproblem(problem, members)
        if sub.one_copy_crossbars > problem.budget:
            return math.inf
        total += brute_replication(sub) + sg.program_time(problem, members)
    return total


def brute_cuts(problem: rp.ReplicationProblem) -> float:
    """Optimum over every set of cut positions of the given order (ns)."""
    n = len(problem.layers)
    best = math.inf
    for mask in range(2 ** (n - 1)):
        bounds = [0] + [p for p in range(1, n) if mask >> (p - 1) & 1] + [n]
        best = min(best, brute_segments(problem, list(range(n)), list(zip(bounds, bounds[1:]))))
    return best


def brute_assignment(problem: rp.ReplicationProblem) -> float:
    """Optimum over every precedence-respecting layer -> segment assignment (ns)."""
    n = len(problem.layers)
    best = math.inf
    for seg_of in itertools.product(range(n), repeat=n):
        if any(seg_of[u] > seg_of[v] for u, v in problem.edges):
            continue
        order = sorted(range(n), key=lambda l: (seg_of[l], l))
        cuts: list[tuple[int, int]] = []
        for p in range(1, n + 1):
            if p == n or seg_of[order[p]] != seg_of[order[p - 1]]:
                cuts.append((cuts[-1][1] if cuts else 0, p))
        best = min(best, brute_segments(problem, order, cuts))
    return best


def test_layer_time_and_breakpoints() -> None:
    layer = rp.Layer("conv", crossbars=2, vectors=10, interval_ns=3.0, fixed_ns=1.0)
    assert rp.layer_time(layer, 1) == 31.0
    assert rp.layer_time(layer, 3) == 13.0
    points = rp.useful_copies(layer, 10)
    assert points == [1, 2, 3, 4, 5, 10]
    times = [rp.layer_time(layer, r) for r in range(1, 11)]
    assert all(times[r - 1] < times[r - 2] for r in points[1:])
    with pytest.raises(ValueError):
        rp.layer_time(layer, 0)


def test_granule_deals_whole_rows() -> None:
    # 7 rows of 4 vectors: 3 copies give the busiest copy 3 rows (12 vectors), not ceil(28 / 3) = 10
    layer = rp.Layer("conv", crossbars=2, vectors=28, interval_ns=1.0, granule=4)
    assert layer.units == 7 and layer.copy_cap == 7
    assert [rp.layer_time(layer, r) for r in (1, 3, 4, 7)] == [28.0, 12.0, 8.0, 4.0]
    assert rp.useful_copies(layer, 7) == [1, 2, 3, 4, 7]
    with pytest.raises(ValueError, match="granule"):
        rp.Layer("conv", crossbars=2, vectors=10, interval_ns=1.0, granule=4)


@SETTINGS
@given(fitting_problems())
def test_heuristics_respect_budget(problem: rp.ReplicationProblem) -> None:
    for method in ("none", "uniform", "balance"):
        rep, stats = rp.solve(problem, method, OPTS)
        assert rp.crossbars_used(problem, rep.copies) <= problem.budget
        assert stats.objective == rp.objective(problem, rep)
        assert stats.bound <= stats.objective + TOL
        assert stats.status in (Status.OPTIMAL, Status.FEASIBLE)


@SETTINGS
@given(fitting_problems())
def test_exact_matches_brute_force(problem: rp.ReplicationProblem) -> None:
    optimum = brute_replication(problem)
    rep, stats = solve_replication(problem, "cpsat", OPTS)
    assert stats.status is Status.OPTIMAL and stats.exact
    assert rp.crossbars_used(problem, rep.copies) <= problem.budget
    assert stats.objective == pytest.approx(optimum, abs=TOL)
    bound, _ = rp.lower_bound(problem)
    balance = rp.solve(problem, "balance", OPTS)[1].objective
    uniform = rp.solve(problem, "uniform", OPTS)[1].objective
    none = rp.solve(problem, "none", OPTS)[1].objective
    assert bound <= optimum + TOL
    assert stats.bound <= optimum + TOL
    assert optimum <= balance + TOL and balance <= none + TOL
    assert optimum <= uniform + TOL <= none + 2 * TOL
    if problem.mode == "throughput":
        assert balance == pytest.approx(optimum, abs=TOL)


@st.composite
def segment_problems(draw: st.DrawFn) -> rp.ReplicationProblem:
    """Every layer fits the budget (<= 12), the whole model may not."""
    layers, edges = draw(layers_and_edges())
    largest = max(layer.crossbars for layer in layers)
    budget = draw(st.integers(max(1, largest), 12))
    mode = draw(st.sampled_from(rp.MODES))
    return rp.ReplicationProblem(layers, edges, budget, mode)


def assert_fits(problem: rp.ReplicationProblem, seg: sg.Segmentation) -> None:
    for members in seg.members():
        used = sum(problem.layers[l].crossbars * seg.copies[l] for l in members)
        assert used <= problem.budget


@SETTINGS
@given(segment_problems())
def test_segmentation_dp_matches_brute_force(problem: rp.ReplicationProblem) -> None:
    seg, stats = sg.segment(problem, "dp", OPTS)
    assert_fits(problem, seg)
    assert stats.objective == pytest.approx(brute_cuts(problem), abs=TOL)
    assert stats.objective == pytest.approx(sg.evaluate(problem, seg), abs=TOL)
    assert stats.bound <= stats.objective + TOL
    greedy, greedy_stats = sg.segment(problem, "greedy", OPTS)
    assert_fits(problem, greedy)
    assert stats.objective <= greedy_stats.objective + TOL


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(segment_problems())
def test_segmentation_cpsat_matches_brute_force(problem: rp.ReplicationProblem) -> None:
    seg, stats = sg.segment(problem, "cpsat", OPTS)
    assert_fits(problem, seg)
    optimum = brute_assignment(problem)
    assert stats.status is Status.OPTIMAL
    assert stats.objective == pytest.approx(optimum, abs=TOL)
    assert stats.bound <= optimum + TOL
    assert stats.objective <= sg.segment(problem, "dp", OPTS)[1].objective + TOL


def test_capacity_error_names_layer_need_and_budget() -> None:
    big = rp.Layer("fc_huge", crossbars=20, vectors=1, interval_ns=5.0)
    small = rp.Layer("conv1", crossbars=2, vectors=4, interval_ns=5.0)
    problem = rp.ReplicationProblem((small, big), ((0, 1),), 8, "throughput")
    for call in (lambda: rp.solve(problem, "balance"), lambda: solve_replication(problem, "cpsat", OPTS),
                 lambda: sg.segment(problem, "dp", OPTS), lambda: sg.segment(problem, "greedy", OPTS)):
        with pytest.raises(CapacityError, match=r"fc_huge.*20 crossbars.*8"):
            call()
    too_many = rp.ReplicationProblem((small, small, small, small, small), (), 8, "latency")
    with pytest.raises(CapacityError, match="segments"):
        rp.solve(too_many, "none")


def test_branches_let_cpsat_beat_the_order() -> None:
    layers = (
        rp.Layer("a", 2, 10, 3.0, 1.0, program_ns=50.0), rp.Layer("b", 3, 20, 2.0, program_ns=20.0),
        rp.Layer("c", 3, 5, 10.0, program_ns=30.0), rp.Layer("d", 2, 8, 4.0, program_ns=10.0),
        rp.Layer("e", 4, 16, 1.0, program_ns=40.0),
    )
    problem = rp.ReplicationProblem(layers, ((0, 1), (0, 2), (1, 3), (2, 4)), 6, "throughput")
    dp, dp_stats = sg.segment(problem, "dp", OPTS)
    best, stats = sg.segment(problem, "cpsat", OPTS)
    assert dp_stats.status is Status.FEASIBLE and "order" in dp_stats.note
    assert stats.status is Status.OPTIMAL and stats.objective < dp_stats.objective
    assert best.order != dp.order


def test_deterministic() -> None:
    """Same seed and one worker: the same answer (parallel CP-SAT may pick among tied optima)."""
    opts = SolverOptions(time_limit_s=10.0, seed=3, workers=1, deterministic=True)
    layers = tuple(rp.Layer(f"l{i}", 1 + i % 3, 49 * (1 + i % 4), 10.0 + i, 5.0, program_ns=100.0) for i in range(8))
    edges = tuple((i, i + 1) for i in range(7)) + ((0, 3), (2, 6))
    for mode in rp.MODES:
        problem = rp.ReplicationProblem(layers, edges, 40, mode)
        runs = [solve_replication(problem, m, opts)[0] for m in (*rp.METHODS, "cpsat") for _ in range(2)]
        assert runs[0::2] == runs[1::2]
        small = rp.ReplicationProblem(layers, edges, 6, mode)
        segs = [sg.segment(small, m, opts)[0] for m in sg.METHODS for _ in range(2)]
        assert segs[0::2] == segs[1::2]


def _granule_one_uncapped(problem: rp.ReplicationProblem) -> rp.ReplicationProblem:
    layers = tuple(rp.Layer(x.name, x.crossbars, x.vectors, x.interval_ns, x.fixed_ns, 0, x.program_ns)
                   for x in problem.layers)
    return rp.ReplicationProblem(layers, problem.edges, problem.budget, problem.mode)


@SETTINGS
@given(fitting_problems())
def test_whole_copies_bound_between_water_filling_and_every_optimum(problem: rp.ReplicationProblem) -> None:
    whole = integer_copies_bound(problem)
    assert water_filling_bound(problem) <= whole + TOL
    # below the optimum with the caps lifted and vectors dealt one at a time, hence below every optimum
    free = _granule_one_uncapped(problem)
    assert whole <= brute_replication(free) + TOL
    assert whole <= brute_replication(problem) + TOL


def test_whole_copies_bound_rounds_copies_up() -> None:
    # 2 crossbars per copy, 8 on the chip; 1000 and 500 ns of work: fractional copies reach 375 ns,
    # whole copies (3, 1) or (2, 2) only 500 ns
    layers = (rp.Layer("a", 2, 10, 100.0), rp.Layer("b", 2, 10, 50.0))
    p = rp.ReplicationProblem(layers, (), 8, "throughput")
    assert water_filling_bound(p) == pytest.approx(375.0)
    assert integer_copies_bound(p) == pytest.approx(500.0)
    assert brute_replication(_granule_one_uncapped(p)) == pytest.approx(500.0)
