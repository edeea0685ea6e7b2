"""The standard optimisation pipeline, run to a fixpoint before lowering.

Rules
  * Runs, in this order and repeated until no pass changes the graph (`PassManager` with
    ``fixpoint=True``): constant folding, identity elimination, dead node elimination,
    BatchNorm folding, MatMul + Add fusion, activation fusion.
  * Then re-infers every tensor shape (`infer_shapes`), so specs match the rewritten graph.

Preconditions: graph inputs have static shapes (as `ir.load` guarantees).
"""
from __future__ import annotations

from cimopt.ir.graph import Graph
from cimopt.ir.shapes import infer_shapes
from cimopt.ir.passes.activation_fusion import activation_fusion
from cimopt.ir.passes.manager import PassManager, PassResult
from cimopt.ir.passes.batchnorm_folding import batchnorm_folding
from cimopt.ir.passes.constant_folding import constant_folding
from cimopt.ir.passes.dead_node_elimination import dead_node_elimination
from cimopt.ir.passes.identity_elimination import identity_elimination
from cimopt.ir.passes.matmul_add_fusion import matmul_add_fusion

#: The passes `optimize` runs, in order.
PASSES = (constant_folding, identity_elimination, dead_node_elimination, batchnorm_folding, matmul_add_fusion,
          activation_fusion)


def optimize(graph: Graph) -> PassResult:
    """Fold, simplify and fuse ``graph`` in place, computing the same function; shapes re-inferred.

    ``modified`` is True when some pass changed the graph.
    """
    result = PassManager(PASSES, fixpoint=True)(graph)
    return PassResult(infer_shapes(result.graph), result.modified)
