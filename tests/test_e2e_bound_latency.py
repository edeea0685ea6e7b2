"""The granularity-free latency bound (`solver.e2e_bound_latency`): each rule on hand-made chains,
and, on random tiny DAGs of crossbar ops with 1-D windows, never above the makespan of a
schedule at any chunk size (one vector included), whole-chunk or streaming instructions."""
from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cimopt.solver.e2e_bound import BoundOp, BoundProblem, end_to_end_bound, latency_limit_ns
from cimopt.solver.e2e_bound_latency import (copies_path_ns, critical_path_ns, full_work_ns, max_copies,
                                             path_times, vector_chain_ns)


def _xb(name: str, vectors: int, interval: float, fixed: float, crossbars: int = 1, head: str = "every",
        whole: tuple[int, ...] = ()) -> BoundOp:
    return BoundOp(name, "crossbar", fixed + vectors * interval, fixed + interval, 1, crossbars, vectors, interval,
                   fixed, vector_ns=fixed + interval, head=head, whole_from=whole)


def _chain(ops: tuple[BoundOp, ...], crossbars: int, covering: bool = True) -> BoundProblem:
    edges = tuple((i, i + 1, 8) for i in range(len(ops) - 1))
    cov = frozenset((u, v) for u, v, _ in edges) if covering else frozenset()
    return BoundProblem(ops, edges, "latency", crossbars, 2, 1.0, 1.0, 1, cov)


def test_chain_is_one_vector_per_op_plus_the_bottleneck_work() -> None:
    # a: 100 vectors of 10 ns, fill 5; b: 10 vectors of 10 ns, fill 5; one crossbar each, 2 on chip
    p = _chain((_xb("a", 100, 10.0, 5.0), _xb("b", 10, 10.0, 5.0)), crossbars=2)
    t = path_times(p)
    assert max_copies(p, 0) == 1 and full_work_ns(p, 0) == 5 + 100 * 10
    assert t.start == (0.0, 15.0)                    # b starts after a's first vector (15 ns)
    assert t.end == (1005.0, 1020.0)                 # a's last vector, then one vector of b
    assert t.tail == (15.0, 0.0)
    assert critical_path_ns(p) == 1020.0             # not 1005 + 105 (whole ops one after another)
    assert vector_chain_ns(p) == 30.0
    # without covering edges b's last vector need not follow a's: b's own work after its head
    assert critical_path_ns(_chain(p.ops, 2, covering=False)) == max(1005.0, 15.0 + 105.0)


def test_copies_shorten_the_bottleneck_and_share_the_budget() -> None:
    p = _chain((_xb("a", 100, 10.0, 5.0), _xb("b", 10, 10.0, 5.0)), crossbars=6)
    assert max_copies(p, 0) == 5                     # beside one copy of b
    assert full_work_ns(p, 0) == 5 + 20 * 10
    # together: a's head 0 + fill 5 + ceil(100 / r_a) * 10 + tail 15 <= T, b: 15 + 5 + ceil(10 / r_b) * 10 <= T,
    # r_a + r_b <= 6: r = (5, 1) gives T = 220, (4, 2) T = 270: the bound is just below 220
    assert copies_path_ns(p) == pytest.approx(220.0, rel=1e-6)
    b = end_to_end_bound(p)
    assert b.value_ns == pytest.approx(220.0, rel=1e-6) and b.limited_by in ("critical-path", "critical-path-copies")
    assert latency_limit_ns(p) <= b.value_ns


def test_head_rules_and_whole_operands() -> None:
    a, b = _xb("a", 10, 10.0, 0.0), _xb("b", 1, 1.0, 0.0)
    joins = {rule: _xb("c", 1, 1.0, 0.0, head=rule) for rule in ("every", "some", "none")}
    for rule, c in joins.items():
        p = BoundProblem((a, b, c), ((0, 2, 8), (1, 2, 8)), "latency", 10, 1, 1.0, 1.0)
        s = path_times(p).start[2]
        assert s == {"every": 10.0, "some": 1.0, "none": 0.0}[rule]
    p = BoundProblem((a, b, _xb("c", 1, 1.0, 0.0, whole=(0,))), ((0, 2, 8), (1, 2, 8)), "latency", 3, 1, 1.0, 1.0)
    assert path_times(p).start[2] == 100.0           # reads all of a: after a's last vector
    with pytest.raises(ValueError, match="head"):
        path_times(BoundProblem((_xb("x", 1, 1.0, 0.0, head="most"),), (), "latency", 1, 1, 1.0, 1.0))


def test_vector_and_host_work() -> None:
    v = BoundOp("v", "vector", 400.0, 40.0, 1, vector_ns=2.0, elements=8)
    h = BoundOp("h", "host", 300.0, 300.0, vector_ns=30.0)
    p = BoundProblem((v, h), ((0, 1, 8),), "latency", 1, 4, 1.0, 1.0, 1, frozenset({(0, 1)}))
    assert full_work_ns(p, 0) == 100.0               # 400 ns over min(8 elements, 4 units)
    assert full_work_ns(p, 1) == 300.0
    assert path_times(p).end == (100.0, 302.0)       # h starts after v's first element, ends after all of it
    assert dict(end_to_end_bound(p).classes)["vector"] == 100.0


# ---- property: the bound never beats a schedule at any granularity ------------------------------

@st.composite
def _instances(draw: st.DrawFn) -> dict:
    n = draw(st.integers(1, 4))
    ops = []
    for k in range(n):
        preds = sorted(draw(st.sets(st.integers(0, k - 1), min_size=1, max_size=2))) if k else []
        ops.append({"v": draw(st.integers(1, 6)), "I": float(draw(st.integers(1, 5))),
                    "F": float(draw(st.integers(0, 6))), "c": draw(st.integers(1, 2)), "r": draw(st.integers(1, 3)),
                    "preds": preds,
                    # a window (kernel, stride, leading pad), or None: every vector reads all of the producer
                    "win": {p: draw(st.none() | st.tuples(st.integers(1, 3), st.integers(1, 2), st.integers(0, 2)))
                            for p in preds}})
    return {"ops": ops, "slack": draw(st.integers(0, 3)), "seed": draw(st.integers(0, 10 ** 6)),
            "stream": draw(st.booleans()), "max_chunk": draw(st.integers(1, 6))}


def _reads(inst: dict, k: int, p: int, j: int) -> list[int]:
    if inst["ops"][k]["win"][p] is None:
        return list(range(inst["ops"][p]["v"]))
    kw, s, pad = inst["ops"][k]["win"][p]
    return [i for i in (j * s - pad + x for x in range(kw)) if 0 <= i < inst["ops"][p]["v"]]


def _problem(inst: dict) -> BoundProblem:
    ops, edges, covering = [], [], set()
    for k, o in enumerate(inst["ops"]):
        every = all(_reads(inst, k, p, j) for p in o["preds"] for j in range(o["v"]))
        whole = tuple(p for p in o["preds"] if o["win"][p] is None)
        ops.append(_xb(f"op{k}", o["v"], o["I"], o["F"], o["c"], "every" if every else "none", whole))
        for p in o["preds"]:
            edges.append((p, k, 8))
            read = {i for j in range(o["v"]) for i in _reads(inst, k, p, j)}
            if read == set(range(inst["ops"][p]["v"])):
                covering.add((p, k))
    budget = sum(o["c"] * o["r"] for o in inst["ops"]) + inst["slack"]
    return BoundProblem(tuple(ops), tuple(edges), "latency", budget, 1, 1e9, 1e9, 1, frozenset(covering))


def _makespan(inst: dict) -> float:
    """A list schedule: each op's vectors in random contiguous chunks, dealt to random copies;
    whole-chunk instructions (every vector out at the end) or streaming ones (vector i enters
    the pipeline at its inputs and ``I`` after the previous one, and leaves ``F + I`` later)."""
    rng = random.Random(inst["seed"])
    done: list[list[float]] = []                    # per op, per vector: when it is out
    for k, o in enumerate(inst["ops"]):
        free = [0.0] * o["r"]
        out = [0.0] * o["v"]
        j = 0
        while j < o["v"]:
            m = rng.randint(1, min(inst["max_chunk"], o["v"] - j)) if "chunk" not in inst else inst["chunk"]
            ready = [max((done[p][i] for p in o["preds"] for i in _reads(inst, k, p, x)), default=0.0)
                     for x in range(j, j + m)]
            c = rng.randrange(o["r"])
            if inst["stream"]:
                enter = max(free[c], ready[0])
                for x in range(m):
                    enter = max(enter if x == 0 else enter + o["I"], ready[x])
                    out[j + x] = enter + o["F"] + o["I"]
                free[c] = out[j + m - 1]
            else:
                start = max([free[c], *ready])
                free[c] = start + o["F"] + m * o["I"]
                out[j:j + m] = [free[c]] * m
            j += m
        done.append(out)
    return max(max(v) for v in done)


@settings(max_examples=300, deadline=None)
@given(_instances())
def test_latency_bound_never_beats_a_fine_grained_schedule(inst: dict) -> None:
    p = _problem(inst)
    makespan = _makespan(inst)
    b = end_to_end_bound(p)
    assert b.value_ns <= makespan + 1e-6, (b, makespan, inst)
    assert latency_limit_ns(p) <= b.value_ns + 1e-9


def test_one_vector_chunks_reach_the_bound_on_a_pipelined_chain() -> None:
    """The bound is tight where it should be: a 1x1 chain streamed one vector at a time."""
    inst = {"ops": [{"v": 6, "I": 2.0, "F": 1.0, "c": 1, "r": 1, "preds": [], "win": {}},
                    {"v": 6, "I": 2.0, "F": 1.0, "c": 1, "r": 1, "preds": [0], "win": {0: (1, 1, 0)}}],
            "slack": 0, "seed": 0, "stream": True, "max_chunk": 6, "chunk": 6}
    # op0: 1 + 6 * 2 = 13; op1 streams one vector behind: 13 + 3; one streaming instruction each does it
    assert end_to_end_bound(_problem(inst)).value_ns == pytest.approx(16.0)
    assert _makespan(inst) == pytest.approx(16.0)
    # whole-chunk instructions of one vector each pay the fill every time: 6 x 3 + 3
    assert _makespan({**inst, "stream": False, "chunk": 1}) == pytest.approx(21.0)
