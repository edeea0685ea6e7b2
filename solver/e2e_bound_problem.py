"""The end-to-end bound's data (`solver.e2e_bound`): ops, edges, the chip's resources, and the result.

Times in ns, sizes in bytes, bandwidths in bytes/ns.
"""
from __future__ import annotations

from dataclasses import dataclass

MODES = ("latency", "throughput")


@dataclass(frozen=True)
class BoundOp:
    """One op as the bound sees it.  ``unit``: crossbar | vector | host | flexible (a MatMul of two
    activations that could run on its unit or be written into crossbars: no work class).

    Crossbar ops: ``crossbars`` per copy, ``vectors`` per inference, ``interval_ns`` per vector,
    ``fixed_ns`` fill, ``write_ns`` the programming time of each of its crossbars.  Every op:
    ``time_ns`` its whole time on one unit (one copy), ``chunk_ns`` its fastest chunk at the
    compiler's granularity (one output row), ``spread`` the units its row chunks can use at once.

    At the finest granularity (`solver.e2e_bound_latency`): ``vector_ns`` its fastest task (one
    vector through one copy, the MVM alone for a written MatMul; one output element's share of a
    vector or host op), ``elements`` the most pieces its work splits into (a vector op's units);
    ``head`` how its output vectors read its producers ("every": each reads some vector of every
    producer; "some": of at least one; "none": maybe of none); ``whole_from`` the producers every
    output vector reads all of.
    """

    name: str
    unit: str
    time_ns: float
    chunk_ns: float
    spread: int = 1
    crossbars: int = 0
    vectors: int = 0
    interval_ns: float = 0.0
    fixed_ns: float = 0.0
    weight_bytes: int = 0
    write_ns: tuple[float, ...] = ()
    written: bool = False         # a crossbar-written MatMul: its crossbars are written every inference
    #: a written MatMul: its operand write (ns, part of ``fixed_ns`` and ``chunk_ns``), and the
    #: ops producing that operand (indices); only they delay the write, the other producers the MVMs
    operand_write_ns: float = 0.0
    operand_from: tuple[int, ...] = ()
    vector_ns: float = 0.0
    elements: int = 1
    head: str = "every"
    whole_from: tuple[int, ...] = ()


@dataclass(frozen=True)
class BoundProblem:
    ops: tuple[BoundOp, ...]
    edges: tuple[tuple[int, int, int], ...]     # (producer index, consumer index, bytes), topological
    mode: str
    crossbars: int                              # on the chip
    vector_units: int
    bisection_bytes_per_ns: float
    dram_bytes_per_ns: float
    batch: int = 1                              # inferences per reprogramming
    #: edges (producer, consumer) on which every vector of the producer is read by some vector of
    #: the consumer (none known: no tails, a weaker but valid latency bound)
    covering: frozenset[tuple[int, int]] = frozenset()


@dataclass(frozen=True)
class E2EBound:
    value_ns: float                             # the bound on the mode's objective
    limited_by: str                             # the class that sets it
    classes: tuple[tuple[str, float], ...]      # every class's figure (ns)

    def figure(self, name: str) -> float:
        return dict(self.classes).get(name, 0.0)
