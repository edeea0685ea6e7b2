"""Shape re-inference as a pass: every tensor's spec recomputed from the graph as it now is
(`cimopt.ir.shapes.infer_shapes`), so the specs match a rewritten graph.

Rules
  * Changes no op; ``modified`` is always False (only the tensor specs are refreshed), so a
    `Fixpoint` group is not kept running by it.

Preconditions: graph inputs have static shapes (as `ir.load` guarantees); else ShapeError.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from cimopt.ir.graph import Graph
from cimopt.ir.passes.manager import PassResult, register
from cimopt.ir.shapes import infer_shapes


@register
@dataclass(frozen=True)
class InferShapes:
    """Re-infer every tensor's shape and type; the op list is left as it is."""

    name: ClassVar[str] = "infer_shapes"

    def __call__(self, graph: Graph) -> PassResult:
        return PassResult(infer_shapes(graph), False)
