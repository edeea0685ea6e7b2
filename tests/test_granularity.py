"""Granularity: the estimate, the greedy and CP-SAT against brute force on tiny instances, and the stage in a compile."""
from __future__ import annotations

import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cimopt.ir.errors import UsageError
from cimopt.solver.granularity import exact, heuristic
from cimopt.solver.granularity.generator import random_problem
from cimopt.solver.granularity.problem import (
    ChunkOp, GranularityProblem, lower_bound, objective, tasks, violations)
from cimopt.solver.stats import SolverOptions, Status

OPTS = SolverOptions(time_limit_s=10.0, seed=0, workers=2)
SETTINGS = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def problems(draw: st.DrawFn) -> GranularityProblem:
    """Up to four ops (some vector ops with fixed times), a random DAG, a budget between the
    fewest and the most tasks."""
    n = draw(st.integers(1, 4))
    ops = []
    for i in range(n):
        if draw(st.booleans()):
            copies, units = draw(st.integers(1, 3)), draw(st.integers(1, 12))
            k_max = max(1, min(4, units // copies))
            k_min = draw(st.integers(1, k_max))
            ops.append(ChunkOp(f"l{i}", copies, units, draw(st.integers(0, 20)), draw(st.integers(0, 9)),
                               k_min, draw(st.integers(k_min, k_max))))
        else:
            t = draw(st.integers(0, 50))
            ops.append(ChunkOp(f"v{i}", 0, 0, 0, 0, t_fixed=t, c_fixed=draw(st.integers(0, t))))
    edges = tuple((u, v) for v in range(n) for u in range(v) if draw(st.booleans()))
    low = sum(o.copies * o.k_min for o in ops)
    high = sum(o.copies * o.k_max for o in ops)
    mode = draw(st.sampled_from(("latency", "throughput")))
    return GranularityProblem(tuple(ops), edges, mode, draw(st.integers(max(1, low), max(1, high))))


def brute(p: GranularityProblem) -> int:
    ranges = [range(o.k_min, o.k_max + 1) if o.decided else range(1, 2) for o in p.ops]
    return min(objective(p, k) for k in itertools.product(*ranges) if tasks(p, k) <= p.budget)


@SETTINGS
@given(problems())
def test_bound_greedy_exact_against_brute_force(p: GranularityProblem) -> None:
    best = brute(p)
    g, gs = heuristic.solve(p, OPTS)
    e, es = exact.solve(p, OPTS)
    assert violations(p, g.per_copy) == [] and violations(p, e.per_copy) == []
    assert gs.objective == objective(p, g.per_copy) and es.objective == objective(p, e.per_copy)
    assert lower_bound(p) <= best <= es.objective <= gs.objective
    assert es.objective == best and es.status is Status.OPTIMAL
    assert gs.bound <= best and es.bound <= best
    if gs.status is Status.OPTIMAL:
        assert gs.objective == best


def test_estimate_pipelines_a_chain() -> None:
    # two ops of 100 ns per unit over 10 units, one copy each: one chunk each runs them back to
    # back (2000 ns); ten chunks each let the second follow the first one chunk behind (1100 ns)
    a = ChunkOp("a", 1, 10, 100, 0, 1, 10)
    b = ChunkOp("b", 1, 10, 100, 0, 1, 10)
    p = GranularityProblem((a, b), ((0, 1),), "latency", 20)
    assert objective(p, (1, 1)) == 2000
    assert objective(p, (10, 10)) == 1100
    g, st = heuristic.solve(p, OPTS)
    assert st.objective == 1100 and g.counts == (("a", 10), ("b", 10))
    # a fill per chunk makes finer chunks cost: 50 ns per chunk
    f = GranularityProblem((ChunkOp("a", 1, 10, 100, 50, 1, 10), ChunkOp("b", 1, 10, 100, 50, 1, 10)),
                           ((0, 1),), "latency", 20)
    assert objective(f, (10, 10)) == 1650 > objective(f, (5, 5)) == 1500


def test_throughput_keeps_the_fewest_chunks_and_proves_it() -> None:
    p = random_problem(12, 3, "throughput")
    g, st = heuristic.solve(p, OPTS)
    assert g.per_copy == p.start() and st.status is Status.OPTIMAL


def test_the_budget_binds() -> None:
    p = random_problem(9, 1, "latency")
    tight = GranularityProblem(p.ops, p.edges, p.mode, p.min_tasks)
    g, _ = heuristic.solve(tight, OPTS)
    e, _ = exact.solve(tight, OPTS)
    assert g.per_copy == tight.start() == e.per_copy
    loose_g, loose_st = heuristic.solve(p, OPTS)
    assert tasks(p, loose_g.per_copy) <= p.budget and loose_st.objective <= objective(p, p.start())


def test_bad_problems_are_refused() -> None:
    with pytest.raises(UsageError, match="budget"):
        GranularityProblem((ChunkOp("a", 4, 10, 1, 0, 2, 2),), (), "latency", 7)
    with pytest.raises(UsageError, match="edge"):
        GranularityProblem((ChunkOp("a", 1, 10, 1, 0),), ((0, 0),), "latency", 7)
    with pytest.raises(UsageError, match="k_min"):
        ChunkOp("a", 1, 10, 1, 0, 3, 2)
