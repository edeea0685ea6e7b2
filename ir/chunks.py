"""Chunks of a crossbar op's output: rows along one axis, the unit of scheduling.

Conv (1-D/2-D/3-D) chunks along output axis 2 (height); Gemm along axis 0; MatMul and
Linear along their flattened leading dims (``axis = -2`` meaning "rows of the output viewed
as (vectors, N)"); a crossbar-written MatMul of grouped operands (`ir.written`) along axis
``ndim - 2``, each row holding every group.  ConvTranspose is one chunk (its outputs overlap).  `needed_rows` gives
the receptive field of a chunk in the op's first input, for layer pipelining.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from cimopt.ir.graph import Graph, OpSpec
from cimopt.ir.written import is_written, written_geometry

#: axis code for "flattened leading dims" (rows of a (vectors, N) view)
FLAT = -2
WHOLE = -1


@dataclass(frozen=True)
class ChunkAxis:
    axis: int          # 2 for Conv, 0 for Gemm, FLAT for MatMul/Linear, WHOLE when not chunkable
    rows: int          # number of rows along it
    vectors_per_row: int


def chunk_axis(graph: Graph, op: OpSpec) -> ChunkAxis:
    """The axis a crossbar op's chunks split (of the tensor its MVM writes, before any epilogue)."""
    y = graph.shape(op.mvm_output)
    t = op.op_type
    if t == "Conv" and len(y) >= 3:
        return ChunkAxis(2, y[2], y[0] * int(np.prod(y[3:], dtype=np.int64)))
    if t == "Gemm":
        return ChunkAxis(0, y[0], 1)
    if t == "MatMul" and is_written(graph, op):
        geo = written_geometry(graph, op)
        if geo is not None and geo[0] > 1:
            return ChunkAxis(len(y) - 2, y[-2], 1)
    if t in ("MatMul", "Linear"):
        rows = int(np.prod(y[:-1], dtype=np.int64)) if len(y) > 1 else 1
        return ChunkAxis(FLAT, rows, 1)
    x = graph.shape(op.inputs[0])
    vectors = x[0] * int(np.prod(x[2:], dtype=np.int64)) if t == "ConvTranspose" else 1
    return ChunkAxis(WHOLE, 1, vectors)


def split_rows(rows: int, chunks: int) -> list[tuple[int, int]]:
    """``rows`` split into ``chunks`` contiguous, nearly equal, non-empty ranges."""
    chunks = max(1, min(chunks, rows))
    base, extra = divmod(rows, chunks)
    out, r = [], 0
    for i in range(chunks):
        n = base + (1 if i < extra else 0)
        out.append((r, r + n))
        r += n
    return out


def conv_pads(graph: Graph, op: OpSpec) -> tuple[list[int], list[int], list[int], list[int]]:
    """(pads_begin, pads_end, strides, dilations) of a Conv's spatial axes, auto_pad resolved."""
    x = graph.shape(op.inputs[0])
    w = graph.shape(op.inputs[1])
    nsp = len(x) - 2
    strides = list(op.attr("strides", (1,) * nsp))
    dil = list(op.attr("dilations", (1,) * nsp))
    kernel = list(op.attr("kernel_shape", w[2:]))
    auto = op.attr("auto_pad", "NOTSET")
    if auto in ("SAME_UPPER", "SAME_LOWER"):
        begin, end = [], []
        for i in range(nsp):
            out = math.ceil(x[2 + i] / strides[i])
            total = max(0, (out - 1) * strides[i] + (kernel[i] - 1) * dil[i] + 1 - x[2 + i])
            lo = total // 2 if auto == "SAME_UPPER" else total - total // 2
            begin.append(lo)
            end.append(total - lo)
        return begin, end, strides, dil
    if auto == "VALID":
        return [0] * nsp, [0] * nsp, strides, dil
    pads = list(op.attr("pads", (0,) * (2 * nsp)))
    return pads[:nsp], pads[nsp:], strides, dil


def needed_rows(graph: Graph, op: OpSpec, row0: int, row1: int) -> tuple[int, int, int]:
    """(axis, first, end) rows of the op's first input that output rows ``row0:row1`` read."""
    ax = chunk_axis(graph, op)
    if op.op_type == "MatMul" and ax.axis != WHOLE:
        return ax.axis, row0, row1     # row m of the output reads row m of the left operand
    if ax.axis == 2:
        x = graph.shape(op.inputs[0])
        w = graph.shape(op.inputs[1])
        begin, _, strides, dil = conv_pads(graph, op)
        k = w[2]
        lo = row0 * strides[0] - begin[0]
        hi = (row1 - 1) * strides[0] - begin[0] + (k - 1) * dil[0] + 1
        return 2, max(0, lo), min(x[2], hi)
    if ax.axis in (0, FLAT):
        if op.op_type == "Gemm" and op.attr("transA", 0):
            return WHOLE, 0, 0
        return ax.axis, row0, row1
    return WHOLE, 0, 0
