"""The granularity-free latency bound: the critical path at one vector per op (ns).

Used by `solver.e2e_bound.end_to_end_bound` in latency mode.  It holds for every schedule the
machine could run at any chunk size, one output vector per task included, and for streaming
(pipelined) instructions too.  The argument, per op ``k`` of a `BoundProblem`:

* ``L_k`` (``BoundOp.vector_ns``): no task of ``k`` takes less than its smallest piece of work:
  a crossbar op's vector passes its copy's pipeline in ``fixed + interval`` (a one-vector MVM;
  in a longer instruction each vector still spends that long from its input to its output);
  a vector or host op's task holds at least one output element's share of its work.
* ``S_k``, a time before which no task of ``k`` starts (its *head*).  A task reads the producer
  vectors its outputs' windows cover, and starts after they are written.  When every output
  vector of ``k`` reads at least one vector of each producer ``p`` (``head == "every"``: a conv
  whose windows all hold a real pixel, elementwise, layout, ...), ``S_k >= S_p + L_p`` for every
  producer; when each reads one of its producers only (``"some"``: Concat along a position
  axis) the least of those; ``"none"`` (a Pad's border vectors read nothing): ``S_k >= 0``.  A
  producer every vector reads *all* of (``whole_from``: a MatMul's right operand, which is in
  every output row, or written into the crossbars before any MVM) gives ``S_k >= E_p``.
* ``E_k``, a time before which ``k`` has not finished all its vectors.  ``k``'s busiest unit
  (a copy of its weights, one of the vector units, the host) does at least ``W_k`` of work after
  ``S_k``: a crossbar op's ``fixed + ceil(vectors / r) * interval`` on the busiest of its at most
  ``r`` copies (those the crossbars hold beside one copy of every other op; instructions on a
  copy do not overlap and each pays the fill, so splitting into more instructions only adds),
  a vector op's time over as many units as it has elements (task time is superadditive:
  a chunk pays its share rounded up and at least the unit's fixed latency), a host op's whole
  time.  So ``E_k >= S_k + W_k``.  On a *covering* edge ``p -> k`` (every vector of ``p`` is
  read by some vector of ``k``: elementwise, a conv whose windows leave no pixel out, a MatMul's
  operands, ...), ``p``'s last vector is read by a task of ``k`` that ends at least ``L_k``
  later: ``E_k >= E_p + L_k``.  The makespan is at least every ``E_k``: class ``critical-path``.
* ``tail_k``: after any vector of ``k`` ends, the schedule runs at least ``tail_k`` longer:
  the largest ``L_c + tail_c`` over covering edges ``k -> c`` (0 without one: a vector read by
  no one, e.g. skipped by a stride, may end last).
* Crossbar copies together (class ``critical-path-copies``, a model that fits the chip: every
  op's copies hold their crossbars through the inference, none rewritten within it): a program
  of makespan ``T`` gives op ``k`` with ``r_k`` copies ``S_k + fixed_k + ceil(vectors_k / r_k)
  * interval_k + tail_k <= T`` (its busiest copy's work lies between its head and its tail), and
  ``sum_k crossbars_k * r_k <= crossbars``: the least such ``T`` is
  `solver.replication.bounds.integer_copies_bound` with ``fixed = S_k + fixed_k + tail_k``.

Transfers, memory and the schedule's waiting only add.  A consumer can start as soon as the first
vector its window needs exists, so a chain's bound is the sum of its ops' one-vector latencies
plus its bottleneck op's full work, not the sum of whole ops.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from cimopt.solver.e2e_bound_problem import BoundProblem
from cimopt.solver.replication.bounds import integer_copies_bound
from cimopt.solver.replication.problem import Layer, ReplicationProblem

HEAD_RULES = ("every", "some", "none")


@dataclass(frozen=True)
class PathTimes:
    """Per op (indices of the problem's ops): head ``start`` (S), ``end`` (E), ``tail`` (ns)."""

    start: tuple[float, ...]
    end: tuple[float, ...]
    tail: tuple[float, ...]


def max_copies(p: BoundProblem, k: int) -> int:
    """Most copies crossbar op ``k`` can have: beside one copy of every other crossbar op when
    the model fits, else as many as the chip holds (at least 1)."""
    o = p.ops[k]
    if o.crossbars <= 0:
        return 1
    need = sum(x.crossbars for x in p.ops if x.unit == "crossbar")
    room = p.crossbars - (need - o.crossbars) if need <= p.crossbars else p.crossbars
    return max(1, room // o.crossbars)


def full_work_ns(p: BoundProblem, k: int) -> float:
    """``W_k``: the least time ``k``'s busiest unit works on it (see the module docstring)."""
    o = p.ops[k]
    if o.unit == "crossbar":
        fill = max(0.0, o.fixed_ns - o.operand_write_ns)
        return max(o.vector_ns, fill + math.ceil(o.vectors / max_copies(p, k)) * o.interval_ns)
    if o.unit == "vector":
        return max(o.vector_ns, o.time_ns / max(1, min(o.elements, p.vector_units)))
    if o.unit == "host":
        return max(o.vector_ns, o.time_ns)
    return o.vector_ns                      # flexible: its fastest one-vector task on either unit


def path_times(p: BoundProblem) -> PathTimes:
    """Heads, ends and tails of every op of ``p`` (ops in topological order)."""
    n = len(p.ops)
    preds: list[list[int]] = [[] for _ in range(n)]
    succs: list[list[int]] = [[] for _ in range(n)]
    for u, v, _ in p.edges:
        if u not in preds[v]:
            preds[v].append(u)
            succs[u].append(v)
    covering = set(p.covering)
    start, end = [0.0] * n, [0.0] * n
    for k in range(n):
        o = p.ops[k]
        if o.head not in HEAD_RULES:
            raise ValueError(f"op {o.name!r}: head must be one of {HEAD_RULES}, got {o.head!r}")
        after = [start[u] + p.ops[u].vector_ns for u in preds[k]]
        s = 0.0
        if after and o.head == "every":
            s = max(after)
        elif after and o.head == "some":
            s = min(after)
        for u in o.whole_from:
            s = max(s, end[u])
        e = s + full_work_ns(p, k)
        for u in preds[k]:
            if (u, k) in covering:
                e = max(e, end[u] + o.vector_ns)
        start[k], end[k] = s, e
    tail = [0.0] * n
    for k in range(n - 1, -1, -1):
        tail[k] = max((p.ops[c].vector_ns + tail[c] for c in succs[k] if (k, c) in covering), default=0.0)
    return PathTimes(tuple(start), tuple(end), tuple(tail))


def critical_path_ns(p: BoundProblem) -> float:
    """Class ``critical-path``: the latest ``E_k`` (ns)."""
    return max(path_times(p).end, default=0.0)


def copies_path_ns(p: BoundProblem) -> float:
    """Class ``critical-path-copies`` (ns; 0 when the model does not fit the chip): every crossbar
    op's head, busiest copy and tail within the makespan, the copies under the crossbar budget."""
    xb = [k for k, o in enumerate(p.ops) if o.unit == "crossbar"]
    if not xb or sum(p.ops[k].crossbars for k in xb) > p.crossbars:
        return 0.0
    t = path_times(p)
    layers = tuple(Layer(p.ops[k].name, p.ops[k].crossbars, p.ops[k].vectors, p.ops[k].interval_ns,
                         t.start[k] + max(0.0, p.ops[k].fixed_ns - p.ops[k].operand_write_ns) + t.tail[k])
                   for k in xb)
    return integer_copies_bound(ReplicationProblem(layers, (), p.crossbars, "throughput"))


def vector_chain_ns(p: BoundProblem) -> float:
    """The pipeline depth (ns): the latest ``S_k + L_k``, one vector through every op of the
    longest chain, each op's other vectors costing nothing (a part of `critical_path_ns`)."""
    t = path_times(p)
    return max((s + o.vector_ns for s, o in zip(t.start, p.ops)), default=0.0)
