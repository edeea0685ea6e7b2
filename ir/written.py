"""Crossbar-written MatMuls: a MatMul of two activations whose right operand the program writes
into crossbars at run time, then streams the left operand's rows through them as MVMs.

Geometry (what `workload.matrix_of` and `chunks.chunk_axis` take for such an op), for
``A (..., M, K) x B (..., K, N) -> Y (..., M, N)``:

* B has no leading dims, or only 1s: one K x N matrix (``groups = 1``); every row of A, its
  leading dims flattened, is an input vector (``vectors = prod(A[:-1])``), and the op chunks
  along FLAT rows, as a MatMul with a constant weight does.
* B's leading dims equal A's (and Y's), e.g. attention's ``(1, heads, S, dh) x (1, heads, dh, S)``:
  ``groups = prod(leading dims)`` independent K x N blocks, one per batch and head; input vector
  ``m`` holds row ``m`` of A for every group side by side (a grouped MVM, like a grouped Conv's),
  so ``vectors = M`` and the op chunks along axis ``ndim - 2`` (the M rows, every group at once).
* anything else (B broadcast against A, unknown shapes, rank < 2, a non-float operand): not
  written; such a MatMul stays on the vector unit or the host.

The written matrix of group ``g`` is ``B.reshape(groups, K, N)[g]`` (`operand_group`).
"""
from __future__ import annotations

import math

import numpy as np

from cimopt.ir.graph import Graph, OpSpec


def is_written(graph: Graph, op: OpSpec) -> bool:
    """Whether ``op`` is a MatMul whose right operand is an activation (not a constant)."""
    return (op.op_type == "MatMul" and op.domain in ("", "ai.onnx") and len(op.inputs) == 2
            and op.inputs[0] not in graph.constants and op.inputs[1] not in graph.constants)


def written_geometry(graph: Graph, op: OpSpec) -> tuple[int, int, int, int] | None:
    """(groups, K, N, vectors) of a MatMul of two activations written into crossbars (module
    docstring), or None when its shapes do not allow it."""
    if not is_written(graph, op):
        return None
    specs = [graph.spec(t) for t in (*op.inputs, op.outputs[0])]
    if not all(s.known and s.dtype == "float32" for s in specs):
        return None
    a, b, y = (tuple(s.shape or ()) for s in specs)
    if len(a) < 2 or len(b) < 2 or len(y) < 2 or a[-1] != b[-2] or min(a[-1], b[-1], a[-2]) < 1:
        return None
    k, n = b[-2], b[-1]
    if math.prod(b[:-2]) == 1:
        return 1, k, n, math.prod(a[:-1])
    if len(a) == len(b) == len(y) and a[:-2] == b[:-2] == y[:-2]:
        return math.prod(b[:-2]), k, n, a[-2]
    return None


def operand_group(value: np.ndarray, k: int, n: int, group: int) -> np.ndarray:
    """The K x N float32 matrix of ``group`` of a written operand ``value`` (shape (..., K, N))."""
    return np.asarray(value, dtype=np.float32).reshape(-1, k, n)[group]
