"""The standard optimisation pipeline, run to a fixpoint before lowering.

Rules
  * Runs, in this order and repeated until no pass changes the graph (`PassManager` with
    ``fixpoint=True``): constant folding, identity elimination, dead node elimination,
    BatchNorm folding, MatMul + Add fusion, activation fusion.
  * Then re-infers every tensor shape (`infer_shapes`), so specs match the rewritten graph.

Preconditions: graph inputs have static shapes (as `ir.load` guarantees).
"""
from __future__ import annotations

from ..graph import Graph
from ..shapes import infer_shapes
from .activation_fusion import activation_fusion
from .base import PassManager, PassResult
from .batchnorm_folding import batchnorm_folding
from .constant_folding import constant_folding
from .dead_node_elimination import dead_node_elimination
from .identity_elimination import identity_elimination
from .matmul_add_fusion import matmul_add_fusion

#: The passes `optimize` runs, in order.
PASSES = (constant_folding, identity_elimination, dead_node_elimination, batchnorm_folding, matmul_add_fusion,
          activation_fusion)


def optimize(graph: Graph) -> PassResult:
    """Fold, simplify and fuse ``graph`` in place, computing the same function; shapes re-inferred.

    ``modified`` is True when some pass changed the graph.
    """
    result = PassManager(PASSES, fixpoint=True)(graph)
    return PassResult(infer_shapes(result.graph), result.modified)
