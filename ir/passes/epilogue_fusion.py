"""Epilogue fusion: vector ops applied in line by the crossbar output stage (`Epilogue`).

On a target whose cores apply some vector ops to an MVM's outputs as they leave the crossbars
(``core.output_stage_ops``: ISAAC's per-tile max-pool and sigmoid units, PUMA's vector unit),
such an op that directly consumes a crossbar op's output becomes part of that op: it no longer
is a vector op (nor a vector task), its work is the crossbar op's output stage
(`targets.physics.timing.mvm_task`) and the reference machine applies it to each chunk's rows.

Rules
  * The crossbar op's output has exactly one reader, the vector op, and is not a graph output;
    the vector op (standard domain, legalised VECTOR, its type in ``allowed``) has one float
    output.  Fused ops chain: the new output may take the next op the same way.
  * Row-local ops only, so each chunk of the crossbar op (`ir.chunks`) computes its own rows of
    the fused output: an op of `FUSABLE` whose output has the MVM output's shape and whose row
    chunks (`ir.vector_chunks`) are the crossbar op's; every other dynamic operand (a residual)
    has that shape too and, if it is the crossbar op's own input, each chunk's receptive field
    holds the chunk's rows of it.  A crossbar op that is one chunk
    (ConvTranspose) takes any such op whole.
  * A 2-D MaxPool / AveragePool (``auto_pad`` NOTSET or VALID, no Indices output; AveragePool
    without ``ceil_mode``) after a Conv chunked by height is separable: pooling along the width
    (kernel 1 x kw) is row-local and is fused; pooling along the height (kh x 1) over that result
    stays a vector op under the pool's name and output (a third of a 3 x 3 pool's work).  A pool
    with kh = sh = 1 and no height pads is row-local and fused whole.

  * Not into a MatMul whose second operand is written into crossbars at run time (`ir.written`).

Preconditions: legalised (`legalize.Legalize`), shapes inferred.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import ClassVar

import numpy as np

from cimopt.ir.chunks import chunk_axis, FLAT, needed_rows, vector_count, VEC, WHOLE
from cimopt.ir.graph import Epilogue, Graph, OpClass, OpSpec, TensorSpec
from cimopt.ir.passes.manager import PassResult, register
from cimopt.ir.vector_chunks import AXIS_OPS, ELEMENTWISE, vector_chunk_axis, vector_needed_rows
from cimopt.ir.written import is_written

POOLS = frozenset({"MaxPool", "AveragePool"})
#: Op types an output stage may apply (what ``core.output_stage_ops`` may list).
FUSABLE = frozenset((ELEMENTWISE - {"Identity", "Dropout", "Cast"}) | {k for k in AXIS_OPS if k != "Concat"} | POOLS)


def _same_rows(ax_a: int, ax_b: int, ndim: int) -> bool:
    return ax_a == ax_b or (ndim == 2 and {ax_a, ax_b} <= {0, FLAT})


def _row_local(graph: Graph, xbar: OpSpec, v: OpSpec, x: str) -> bool:
    """Does ``v`` compute each row of its output from the same row of ``x`` (and of its other operands)?"""
    if v.op_type not in FUSABLE - POOLS:
        return False
    shape = graph.shape(x)
    if graph.spec(v.outputs[0]).shape != shape:
        return False
    others = [t for t in v.inputs if t and t != x and t not in graph.constants]
    if any(graph.spec(t).shape != shape or (t in xbar.inputs and not _reads_own_rows(graph, xbar, t))
           for t in others):
        return False
    ax = chunk_axis(graph, xbar)
    if ax.axis == WHOLE:
        return True
    vax = vector_chunk_axis(graph, v)
    if vax.axis == WHOLE or vax.rows != ax.rows or not _same_rows(vax.axis, ax.axis, len(shape)):
        return False
    return all(vector_needed_rows(graph, v, t, 0, 1)[0] != WHOLE for t in (x, *others))


def _reads_own_rows(graph: Graph, xbar: OpSpec, t: str) -> bool:
    """Is ``t`` the crossbar op's first input, of its output's shape, and does every output row's
    receptive field (`ir.chunks.needed_rows`) hold that row (so the chunk's read serves the epilogue)?"""
    ax = chunk_axis(graph, xbar)
    if t != xbar.inputs[0] or graph.spec(t).shape != graph.spec(xbar.mvm_output).shape:
        return False
    shape = graph.shape(t)
    # a Conv's receptive fields are whole input rows (`ir.chunks.window_vectors`): one vector per row tells
    step = vector_count(shape) // max(1, shape[0] * shape[2]) if ax.axis == VEC and len(shape) > 2 else 1
    for r in range(0, ax.rows if ax.axis != WHOLE else 0, step):
        axis, lo, hi = needed_rows(graph, xbar, r, r + 1)
        if axis != WHOLE and not lo <= r < hi:
            return False
    return True


def _pool_axes(v: OpSpec, rank: int) -> tuple[list[int], list[int], list[int], list[int]] | None:
    """(kernel, strides, pads, dilations) of a separable 2-D pool, or None."""
    if rank != 4 or len([t for t in v.outputs if t]) != 1 or v.attr("auto_pad", "NOTSET") not in ("NOTSET", "VALID"):
        return None
    if v.op_type == "AveragePool" and v.attr("ceil_mode", 0):
        return None
    kernel = list(v.attr("kernel_shape", ()))
    if len(kernel) != 2:
        return None
    strides = list(v.attr("strides", (1, 1)))
    pads = [0, 0, 0, 0] if v.attr("auto_pad", "NOTSET") == "VALID" else list(v.attr("pads", (0, 0, 0, 0)))
    dil = list(v.attr("dilations", (1, 1)))
    return kernel, strides, pads, dil


def _pool_part(v: OpSpec, name: str, x: str, y: str, axis: int,
               geometry: tuple[list[int], list[int], list[int], list[int]]) -> OpSpec:
    """The pool restricted to one spatial axis (0: height, 1: width) of ``v``: x -> y."""
    kernel, strides, pads, dil = geometry
    keep = [axis]
    k = [kernel[i] if i in keep else 1 for i in range(2)]
    s = [strides[i] if i in keep else 1 for i in range(2)]
    d = [dil[i] if i in keep else 1 for i in range(2)]
    p = [pads[i] if i % 2 in keep else 0 for i in range(4)]
    attrs = dict(v.attrs)
    attrs.update(kernel_shape=tuple(k), strides=tuple(s), pads=tuple(p), auto_pad="NOTSET")
    if "dilations" in attrs:       # (an attribute only from opset 10 on)
        attrs["dilations"] = tuple(d)
    if v.op_type == "MaxPool":
        attrs.pop("storage_order", None)
    act = v.activation if axis == 0 else None
    return replace(v, name=name, inputs=(x,), outputs=(y,), attrs=tuple(sorted(attrs.items())), activation=act)


def _split_pool(graph: Graph, xbar: OpSpec, v: OpSpec, x: str) -> OpSpec | None:
    """The part of pool ``v`` fused into ``xbar`` (the width part, or all of it), changing the graph
    (the height part replaces ``v``); None when ``v`` is not fusable."""
    ax = chunk_axis(graph, xbar)
    geometry = _pool_axes(v, len(graph.shape(x)))
    if v.op_type not in POOLS or v.inputs[0] != x or geometry is None or (ax.axis not in (2, VEC, WHOLE)):
        return None
    kernel, strides, pads, _ = geometry
    if ax.axis == WHOLE or (kernel[0] == 1 and strides[0] == 1 and pads[0] == pads[2] == 0):
        return v
    if kernel[1] == 1 and strides[1] == 1 and pads[1] == pads[3] == 0:
        return None                      # nothing to pool along the width
    y = graph.shape(v.outputs[0])
    mid = graph.fresh_name(f"{v.outputs[0]}__cols")
    graph.tensors[mid] = TensorSpec(mid, (*graph.shape(x)[:3], y[3]), graph.spec(x).dtype)
    cols = _pool_part(v, graph.fresh_name(f"{v.name}__cols"), x, mid, 1, geometry)
    rows = _pool_part(v, v.name, mid, v.outputs[0], 0, geometry)
    graph.replace_op(replace(rows, op_class=v.op_class))
    return cols


def _fusable(graph: Graph, xbar: OpSpec, allowed: frozenset[str]) -> OpSpec | None:
    x = xbar.outputs[0]
    readers = graph.consumers(x)
    if len(readers) != 1 or x in graph.outputs:
        return None
    v = readers[0]
    outs = [t for t in v.outputs if t]
    if v.op_class is not OpClass.VECTOR or v.domain not in ("", "ai.onnx") or v.op_type not in allowed \
            or len(outs) != 1 or v.epilogue is not None or np.dtype(graph.spec(outs[0]).dtype).kind != "f":
        return None
    if v.op_type in POOLS:
        return _split_pool(graph, xbar, v, x)
    return v if _row_local(graph, xbar, v, x) else None


@register
@dataclass(frozen=True)
class EpilogueFusion:
    """Fuse every eligible vector op into the crossbar op whose output it reads (module rules);
    ``allowed``: the op types the target's output stage applies (``core.output_stage_ops``).

    Returns the same graph, changed in place; ``modified`` is True when some op was fused.
    """

    name: ClassVar[str] = "epilogue_fusion"
    allowed: frozenset[str]

    def __call__(self, graph: Graph) -> PassResult:
        allowed = self.allowed
        ok = frozenset(allowed) & FUSABLE
        modified = False
        if not ok:
            return PassResult(graph, False)
        for op in graph.ops():
            if op.op_class is not OpClass.CROSSBAR or is_written(graph, op):
                continue
            xbar = op
            while (v := _fusable(graph, xbar, ok)) is not None:
                prev = xbar.epilogue
                epi = Epilogue(prev.tensor if prev else xbar.outputs[0], (*(prev.ops if prev else ()), v))
                if v.name in graph.dag:      # (the width part of a split pool is a new op)
                    graph.remove_op(v.name)
                xbar = replace(xbar, outputs=(v.outputs[0],), epilogue=epi)
                graph.replace_op(xbar)
                modified = True
        return PassResult(graph, modified)
