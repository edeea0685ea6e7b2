"""Bounds that bound: every method of every stage on the same random instances (several sizes).

For each instance the largest bound any method reports is at most the smallest objective any
method reaches (every bound is a lower bound of the instance, whatever method runs), and a
method says OPTIMAL only when its objective meets its own bound.  Instances come from
`cimopt.solver.harness.generators` (the benchmark instances) or, for stages without a generator, from
small random builders here.
"""
from __future__ import annotations

import random
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cimopt.cost.adc_error import AdcOption
from cimopt.ir.workload import Matrix
from cimopt.solver.accuracy import knapsack as ab
from cimopt.solver.accuracy.stage import AccuracyStage
from cimopt.solver.cpsat import within_tolerance
from cimopt.solver.memory import heuristic as mem
from cimopt.solver.memory.generator import memory_instance
from cimopt.solver.memory.problem import MemoryInstance
from cimopt.solver.memory.stage import MemoryStage
from cimopt.solver.placement.generator import layered_chain
from cimopt.solver.placement.problem import PlacementInstance
from cimopt.solver.placement.stage import PlacementStage
from cimopt.solver.replication.generator import random_layers
from cimopt.solver.replication.problem import ReplicationInstance
from cimopt.solver.replication.stage import ReplicationStage
from cimopt.solver.scheduling.generator import scheduling_instance
from cimopt.solver.scheduling.problem import SchedulingInstance
from cimopt.solver.routing.generator import instance as routing_instance
from cimopt.solver.routing.stage import RoutingStage
from cimopt.solver.scheduling.stage import SchedulingStage
from cimopt.solver.stats import SolverOptions, SolveStats, Status
from cimopt.solver.tiling.problem import TilingProblem
from cimopt.solver.tiling.stage import TilingStage

FAST = SolverOptions(time_limit_s=0.5, seed=0, workers=1, deterministic=True)
PROPERTY = settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _every_method(stage: Any, problem: Any, methods: list[str] | None = None) -> list[SolveStats]:
    return [stage.run(problem, m, FAST)[1] for m in (methods or [m.name for m in stage.methods])]


def _check(stats: list[SolveStats]) -> None:
    best = min(s.objective for s in stats)
    top = max(stats, key=lambda s: s.bound)
    assert top.bound <= best + max(1e-6, 1e-9 * abs(best)), \
        (f"{top.method}'s bound {top.bound!r} is above the objective {best!r} of "
         f"{min(stats, key=lambda s: s.objective).method}")
    for s in stats:
        if s.status is Status.OPTIMAL:
            assert within_tolerance(s.objective, s.bound), (s.method, s.objective, s.bound, s.note)
        assert s.kind, s.method  # `Stage.run` names the method's kind


@pytest.mark.parametrize("tasks", [12, 40, 120])
@pytest.mark.parametrize("mode", ["latency", "throughput"])
@given(seed=st.integers(0, 10_000))
@PROPERTY
def test_scheduling(tasks: int, mode: str, seed: int) -> None:
    _check(_every_method(SchedulingStage(), SchedulingInstance(scheduling_instance(tasks, seed), mode)))


@pytest.mark.parametrize("flows", [6, 24])
@pytest.mark.parametrize("mode", ["unicast", "multicast"])
@given(seed=st.integers(0, 10_000))
@PROPERTY
def test_routing(flows: int, mode: str, seed: int) -> None:
    _check(_every_method(RoutingStage(), routing_instance(flows, seed, mode)))


@pytest.mark.parametrize(("groups", "mesh"), [(6, 3), (14, 4), (30, 6)])
@given(seed=st.integers(0, 10_000))
@PROPERTY
def test_placement(groups: int, mesh: int, seed: int) -> None:
    p = layered_chain(groups, mesh, mesh, 16, seed)  # about 9 crossbars a group: room for all
    inst = PlacementInstance((p,), (tuple((n, 0, 0, g) for n, g in zip(p.names, p.groups)),))
    _check(_every_method(PlacementStage(), inst))


@pytest.mark.parametrize("layers", [4, 9, 16])
@pytest.mark.parametrize("mode", ["latency", "throughput"])
@given(seed=st.integers(0, 10_000))
@PROPERTY
def test_replication_that_fits(layers: int, mode: str, seed: int) -> None:
    p = random_layers(layers, seed, mode=mode)
    inst = ReplicationInstance(p, tuple(x.name for x in p.layers))
    stats = _every_method(ReplicationStage(), inst)
    _check(stats)
    # a model that fits is one segment whatever method is asked for (one objective per instance)
    assert {s.produced_by for s in stats if s.method.startswith("segment-")} <= {"balance", "cpsat"}


@pytest.mark.parametrize("layers", [4, 9])
@pytest.mark.parametrize("mode", ["latency", "throughput"])
@given(seed=st.integers(0, 10_000))
@PROPERTY
def test_replication_segmented(layers: int, mode: str, seed: int) -> None:
    # half the crossbars one copy needs: every method segments (the stage says so)
    p = random_layers(layers, seed, budget_per_layer=0.6, mode=mode)
    if max(x.crossbars for x in p.layers) > p.budget:
        return
    _check(_every_method(ReplicationStage(), ReplicationInstance(p, tuple(x.name for x in p.layers))))


def _spilling_memory(n: int, seed: int) -> mem.MemoryProblem:
    """Buffers homed in two small core-local spaces, spilling to global, then DRAM."""
    rng = random.Random(seed)
    spaces = ("core0.local", "core1.local")
    bufs = []
    for i in range(n):
        start = rng.randrange(0, 2000)
        bufs.append(mem.Buffer(f"b{i}", rng.randint(1, 16) * 64, start, start + rng.randint(10, 600),
                               rng.choice(spaces + ("global",))))
    cap = {s: 24 * 64 for s in spaces}
    return mem.MemoryProblem(tuple(bufs), {**cap, "global": 40 * 64, "dram": 1 << 40},
                             {**{s: "global" for s in spaces}, "global": "dram", "dram": None}, 64)


@pytest.mark.parametrize("buffers", [8, 30, 90])
@given(seed=st.integers(0, 10_000))
@PROPERTY
def test_memory(buffers: int, seed: int) -> None:
    _check(_every_method(MemoryStage(), MemoryInstance(memory_instance(buffers, seed), 1)))
    # with spills: the spill rule is part of the instance (`memory.assign_spaces`), so the same
    # instance file gives every method the same spaces, whether or not it was assigned before
    raw = _spilling_memory(buffers, seed)
    assigned, moves = mem.assign_spaces(raw)
    assert mem.assign_spaces(assigned) == (assigned, ())
    for problem in (raw, assigned):
        _check(_every_method(MemoryStage(), MemoryInstance(problem, 1, moves)))


def test_memory_squeezenet_like_fragmentation() -> None:
    """Greedy-by-size cannot pack a space that max-live fits: the spill rule moves the buffer
    before any method runs, so greedy and CP-SAT plan the same spaces and agree on the bound (on
    main greedy said OPTIMAL at a peak CP-SAT beat)."""
    b = [mem.Buffer("a", 2 * 64, 0, 10, "g"), mem.Buffer("b", 1 * 64, 0, 5, "g"),
         mem.Buffer("c", 1 * 64, 5, 10, "g"), mem.Buffer("d", 2 * 64, 10, 20, "g"),
         mem.Buffer("e", 1 * 64, 10, 20, "g"), mem.Buffer("f", 2 * 64, 5, 15, "g")]
    problem = mem.MemoryProblem(tuple(b), {"g": 5 * 64, "dram": 1 << 30}, {"g": "dram", "dram": None}, 64)
    assigned, _ = mem.assign_spaces(problem)
    stats = _every_method(MemoryStage(), MemoryInstance(assigned, 1))
    _check(stats)
    for method in ("greedy", "exact"):
        plan, _ = mem.plan(problem, method, FAST)  # type: ignore[arg-type]
        assert plan.space_of == tuple(x.space for x in assigned.buffers)
        assert mem.check(problem, plan) == []


@pytest.mark.parametrize("ops", [1, 4, 10])
@given(seed=st.integers(0, 10_000))
@PROPERTY
def test_tiling(ops: int, seed: int) -> None:
    rng = random.Random(seed)
    mats = tuple((f"op{i}", Matrix(rng.choice((1, 1, 2, 8)), rng.randint(1, 700), rng.randint(1, 700),
                                   rng.randint(1, 100))) for i in range(ops))
    _check(_every_method(TilingStage(), TilingProblem(mats, 128, 128, rng.choice((1, 2, 4)))))


@pytest.mark.parametrize("layers", [2, 6, 12])
@given(seed=st.integers(0, 10_000))
@PROPERTY
def test_accuracy(layers: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    opts = []
    for _ in range(layers):
        n = int(rng.integers(1, 5))
        cost = np.sort(rng.uniform(1, 100, n))
        err = np.sort(rng.uniform(0, 1, n))[::-1]
        opts.append(tuple(AdcOption(2 ** k, float(c), 0.0, float(e)) for k, (c, e) in enumerate(zip(cost, err))))
    budget = float(sum(o[-1].error for o in opts)) * 1.5 + 1e-6   # reachable: every layer at its best
    p = ab.AccuracyProblem(tuple(f"l{i}" for i in range(layers)), tuple(opts), budget, "latency", resolution=500)
    _check(_every_method(AccuracyStage(), p))
