"""The standard optimisation sequence, run before the target-dependent passes.

Rules
  * `OPTIMIZE`: a `Fixpoint` group of, in this order and repeated until no pass changes the
    graph: constant folding, identity elimination, dead node elimination, BatchNorm folding,
    MatMul + Add fusion, activation fusion.
  * Then `InferShapes` re-infers every tensor shape, so specs match the rewritten graph.
  * `optimize_passes()` is that sequence, for a `PassManager` (`cimopt.frontend` puts the
    target-dependent passes after it); `optimize(graph)` runs it alone.

Preconditions: graph inputs have static shapes (as `ir.load` guarantees).
"""
from __future__ import annotations

from cimopt.ir.graph import Graph
from cimopt.ir.passes.activation_fusion import ActivationFusion
from cimopt.ir.passes.batchnorm_folding import BatchNormFolding
from cimopt.ir.passes.constant_folding import ConstantFolding
from cimopt.ir.passes.dead_node_elimination import DeadNodeElimination
from cimopt.ir.passes.identity_elimination import IdentityElimination
from cimopt.ir.passes.manager import Fixpoint, Pass, PassManager, PassResult
from cimopt.ir.passes.matmul_add_fusion import MatMulAddFusion
from cimopt.ir.passes.shape_inference import InferShapes

#: The fold/simplify/fuse group, run to a fixpoint.
OPTIMIZE = Fixpoint((ConstantFolding(), IdentityElimination(), DeadNodeElimination(), BatchNormFolding(),
                     MatMulAddFusion(), ActivationFusion()))


def optimize_passes() -> list[Pass]:
    """The target-independent sequence: `OPTIMIZE`, then shape re-inference."""
    return [OPTIMIZE, InferShapes()]


def optimize(graph: Graph) -> PassResult:
    """Fold, simplify and fuse ``graph`` in place, computing the same function; shapes re-inferred.

    ``modified`` is True when some pass changed the graph.
    """
    return PassManager(optimize_passes())(graph)
