"""Which core's vector unit runs each vector task (whole op or row chunk, `ir.vector_chunks`).

A stream of inferences is paced by the busiest unary resource, so vector work is spread to keep
every vector unit below the crossbar bottleneck while keeping data local:

1. Candidates are the cores of the task's producers (where its input rows already are), in
   decreasing order of the bytes they hold for it.
2. A task goes to the least-loaded candidate when that keeps the candidate's vector unit and
   NoC input port within the cap; otherwise to the core whose vector unit and port would be
   least loaded (an idle vector unit, its inputs transferred there).  The chunks of one op are
   spread evenly over as many cores as it has chunks (at most all), so they can run at once.

The cap (ns) is the larger of the busiest crossbar resource's load and an even share of all
vector work.  Tasks are taken in topological (creation) order, so
producers have their cores when a consumer is placed.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from cimopt.ir.graph import Graph, OpSpec
from cimopt.ir.vector_chunks import vector_chunk_axis
from cimopt.targets.spec import Target


class VectorTask(Protocol):
    """What the assignment reads and sets of a task (`cimopt.tasks.TaskInfo`)."""

    kind: str
    resource: str
    unit: str
    duration_ns: int
    core: int
    row0: int
    row1: int


def _transfer_ns(target: Target, nbytes: int) -> float:
    """A lower estimate of a transfer's time on the receiving port (ns): bytes over one link."""
    return nbytes / max(target.chip.noc_link_bandwidth_bytes_per_ns, 1e-9)


def assign_vector_cores(tasks: Sequence[VectorTask], edges: set[tuple[int, int]], target: Target,
                        input_bytes: dict[int, int]) -> None:
    """Set core, unit and resource of every vector task of ``tasks`` in place (``edges``: precedence).

    ``input_bytes``: task index -> bytes of dynamic input it reads (for the transfer estimate).
    """
    vec = [i for i, t in enumerate(tasks) if t.kind == "vector"]
    if not vec:
        return
    preds: dict[int, list[int]] = {}
    for a, b in edges:
        preds.setdefault(b, []).append(a)
    load: dict[str, int] = {}
    for t in tasks:
        if t.kind == "mvm":
            load[t.resource] = load.get(t.resource, 0) + t.duration_ns
    bottleneck = max(load.values(), default=0)
    total = sum(tasks[i].duration_ns for i in vec)
    share = max(bottleneck, total / target.cores)
    chunks: dict[str, int] = {}
    for i in vec:
        chunks[tasks[i].op] = chunks.get(tasks[i].op, 0) + 1
    per_core: dict[tuple[str, int], int] = {}
    vload = [0.0] * target.cores
    port = [0.0] * target.cores
    for i in vec:
        t = tasks[i]
        d = t.duration_ns
        held: dict[int, int] = {}
        for p in preds.get(i, ()):
            pt = tasks[p]
            if pt.kind in ("mvm", "vector") and pt.core >= 0:
                held[pt.core] = held.get(pt.core, 0) + max(1, pt.row1 - pt.row0)
        tin = _transfer_ns(target, input_bytes.get(i, 0))

        def score(c: int) -> float:
            remote = tin if held.get(c, 0) == 0 or len(held) > 1 else 0.0
            return max(vload[c] + d, port[c] + remote)

        limit = -(-chunks[t.op] // min(chunks[t.op], target.cores))

        def free(c: int) -> bool:
            return per_core.get((t.op, c), 0) < limit

        best = min((c for c in sorted(held, key=lambda c: -held[c]) if free(c)), key=score, default=-1)
        if best < 0 or score(best) > share:
            best = min((c for c in range(target.cores) if free(c)), key=score)
        per_core[(t.op, best)] = per_core.get((t.op, best), 0) + 1
        if held.get(best, 0) == 0 or len(held) > 1:
            port[best] += tin
        vload[best] += d
        t.core = best
        t.unit = f"core{best}"
        t.resource = f"core{best}.vector"


def vector_parallelism(graph: Graph, op: OpSpec, target: Target) -> int:
    """Vector units a vector op's chunks can keep busy at once: its rows, at most one per core."""
    return max(1, min(vector_chunk_axis(graph, op).rows, target.cores))
