"""MatMul + Add fusion: ``Add(MatMul(X, W), B)`` with constant W and B becomes ``ai.cimopt::Linear``.

Rules
  * ``MatMul(X, W)`` (standard domain, no fused activation) with ``W`` a constant 2-D float
    matrix of shape ``(K, N)``, whose output has exactly one reader, an ``Add`` (either operand
    order), and is not a graph output.
  * The other operand of the Add is a constant ``B`` of the same dtype whose shape is ``(N,)``
    or ``(1, ..., 1, N)`` with no more dims than the MatMul output (so the Add broadcasts over
    the last dim only and does not grow the result).
  * The pair becomes ``OpSpec(op_type="Linear", domain=CIMOPT_DOMAIN, inputs=(X, W, B))`` named
    after the MatMul, writing the Add's output and carrying the Add's fused activation; ``B``
    is reshaped to ``(N,)`` (a new constant when its shape changes).
  * Gemm is left as it is.

Preconditions: the MatMul output's shape is known (`ir.load` infers shapes); constants are
folded (run constant folding first).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from cimopt.ir.graph import CIMOPT_DOMAIN, Graph, OpSpec
from cimopt.ir.passes.manager import PassResult, register


def _bias_vector(graph: Graph, name: str, n: int, out_rank: int, dtype: str) -> str | None:
    """The name of a constant ``(N,)`` bias equal to ``name``'s value, or None if it does not qualify."""
    b = graph.constants.get(name)
    if b is None or b.dtype.name != dtype or b.ndim < 1 or b.ndim > out_rank:
        return None
    if b.shape[-1] != n or any(d != 1 for d in b.shape[:-1]):
        return None
    if b.ndim == 1:
        return name
    flat = graph.fresh_name(f"{name}_vector")
    graph.constants[flat] = b.reshape(n)
    return flat


@register
@dataclass(frozen=True)
class MatMulAddFusion:
    """Fuse every qualifying MatMul + Add pair into one ``ai.cimopt::Linear`` (see the module rules).

    Returns the same graph, changed in place; ``modified`` is True when some pair was fused.
    """

    name: ClassVar[str] = "matmul_add_fusion"

    def __call__(self, graph: Graph) -> PassResult:
        modified = False
        outputs = set(graph.outputs)
        for mm in graph.ops():
            if mm.op_type != "MatMul" or mm.domain not in ("", "ai.onnx") or mm.activation is not None:
                continue
            x, w_name = mm.inputs[0], mm.inputs[1]
            w = graph.constants.get(w_name)
            y = mm.outputs[0]
            if w is None or w.ndim != 2 or w.dtype.kind != "f" or y in outputs:
                continue
            readers = graph.consumers(y)
            if len(readers) != 1:
                continue
            add = readers[0]
            if add.op_type != "Add" or add.domain not in ("", "ai.onnx") or len(add.inputs) != 2:
                continue
            if add.inputs[0] == add.inputs[1]:
                continue
            spec = graph.spec(y)
            if not spec.known or not spec.shape:
                continue
            other = add.inputs[1] if add.inputs[0] == y else add.inputs[0]
            bias = _bias_vector(graph, other, int(w.shape[1]), len(spec.shape), w.dtype.name)
            if bias is None:
                continue
            graph.remove_op(add.name)
            graph.replace_op(OpSpec(mm.name, "Linear", (x, w_name, bias), (add.outputs[0],), (), CIMOPT_DOMAIN,
                                    add.activation, mm.op_class))
            graph.tensors.pop(y, None)
            modified = True
        if modified:
            graph.prune_constants()
        return PassResult(graph, modified)
