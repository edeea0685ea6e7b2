"""The benchmark instances (`cimopt.solver.harness.generators`) are feasible at every size, and the
replication heuristic's cut steps; the compile summary's idle-crossbar note."""
from __future__ import annotations

import math

import pytest

from cimopt.report.summary import idle_crossbars_note
from cimopt.solver.harness import generators
from cimopt.solver.placement import generator as placement_generator, problem as pl
from cimopt.solver.registry import stage
from cimopt.solver.replication import heuristic as rp
from cimopt.solver.stats import SolverOptions, Status

FAST = SolverOptions(time_limit_s=5.0, seed=0, workers=1)
#: (stage, heuristic that must find a solution, sizes); placement was infeasible from ~70 groups
CASES = (("scheduling", "list", (10, 300, 2000)), ("placement", "inorder", (5, 70, 300, 1000)),
         ("memory", "greedy", (10, 500)), ("replication", "balance", (3, 40, 150)))


@pytest.mark.parametrize("name, method, sizes", CASES)
def test_generated_instances_are_feasible_at_every_size(name: str, method: str, sizes: tuple[int, ...]) -> None:
    st = stage(name)
    for size in sizes:
        for seed in (0, 1):
            inst = generators.instance(name, size, seed)
            _, s = st.run(inst, method, FAST)
            assert s.status in (Status.OPTIMAL, Status.FEASIBLE), (name, size, seed, s)
            assert math.isfinite(s.objective) and not s.attempts, (name, size, seed, s.attempts)


@pytest.mark.parametrize("groups", (1, 20, 69, 70, 400, 1000))
def test_placement_mesh_holds_first_fit_in_any_order(groups: int) -> None:
    p = placement_generator.placement_instance(groups, seed=3)
    assert max(p.groups) * 4 <= p.crossbars_per_core
    assert p.n_cores * p.crossbars_per_core >= placement_generator.PLACEMENT_SLACK * sum(p.groups)
    for order in (range(p.n_groups), reversed(range(p.n_groups))):  # plain first fit, two orders
        free = [p.crossbars_per_core] * p.n_cores
        core_of = [0] * p.n_groups
        for g in order:
            core_of[g] = next(c for c in range(p.n_cores) if free[c] >= p.groups[g])
            free[core_of[g]] -= p.groups[g]
        pl.check(p, pl.Placement(tuple(core_of)))


def test_placement_generator_is_the_benchmarks() -> None:
    inst = generators.instance("placement", 60, 0)
    p = placement_generator.placement_instance(60, 0)
    assert inst.problems == (p,)  # type: ignore[attr-defined]


def _fork(branches: int) -> rp.ReplicationProblem:
    """A source, ``branches`` equal parallel layers, a sink: no single copy shortens the path."""
    mid = [rp.Layer(f"b{k}", 2, 64, 10.0) for k in range(branches)]
    layers = (rp.Layer("src", 0, 1, 5.0), *mid, rp.Layer("sink", 0, 1, 5.0))
    edges = tuple((0, k + 1) for k in range(branches)) + tuple((k + 1, branches + 1) for k in range(branches))
    return rp.ReplicationProblem(layers, edges, 2 * branches * 8, "latency")


@pytest.mark.parametrize("branches", (2, 3, 5))
def test_balance_steps_parallel_branches_together(branches: int) -> None:
    p = _fork(branches)
    copies = rp.balance_copies(p)
    assert copies[1:-1] == (8,) * branches  # every branch grows; all 2 * branches * 8 crossbars used
    assert rp.objective(p, rp.Replication(copies)) == 5.0 + 8 * 10.0 + 5.0


def test_idle_crossbars_note_only_when_crossbar_bound_and_mostly_idle() -> None:
    assert "900 of 1024 crossbars" in idle_crossbars_note(124, 1024, "crossbar")
    assert idle_crossbars_note(512, 1024, "crossbar") == ""
    assert idle_crossbars_note(124, 1024, "critical-path") == ""
