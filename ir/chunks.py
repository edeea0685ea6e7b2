"""Chunks of a crossbar op's output: rows along one axis, the unit of scheduling.

Conv (1-D/2-D/3-D) chunks its output *vectors* (axis code `VEC`): the positions of every
dimension but the channels (axis 1), in (image, row, column, ...) order, so a chunk is any
contiguous range of output vectors, down to one (with a width pool in its output stage, of
the pooled output: `mvm_vectors` gives the MVM vectors a chunk computes); Gemm along axis 0; MatMul and
Linear along their flattened leading dims (``axis = -2`` meaning "rows of the output viewed
as (vectors, N)"); a crossbar-written MatMul of grouped operands (`ir.written`) along axis
``ndim - 2``, each row holding every group.  ConvTranspose is one chunk (its outputs overlap).  `needed_rows` gives
the receptive field of a chunk in the op's first input, for layer pipelining.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from cimopt.ir.graph import Graph, OpSpec
from cimopt.ir.written import is_written, written_geometry

#: axis code for "flattened leading dims" (rows of a (vectors, N) view)
FLAT = -2
WHOLE = -1
#: pools an output stage may run first (`ir.passes.epilogue_fusion`)
_POOLS = frozenset({"MaxPool", "AveragePool"})
#: axis code for "vectors": positions over every dimension but axis 1 (the channels), in
#: (image, spatial...) order; a rank-2 tensor's vectors are its rows
VEC = -3


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
        pool = _width_pool(op)
        if pool is not None:   # chunks of the pooled output; a unit reads about ``stride`` MVM vectors
            return ChunkAxis(VEC, vector_count(graph.shape(op.outputs[0])), pool[1])
        return ChunkAxis(VEC, vector_count(y), 1)
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


def vector_count(shape: tuple[int, ...] | list[int]) -> int:
    """How many vectors (positions, `VEC`) a tensor of ``shape`` holds: images x spatial positions."""
    if len(shape) < 2:
        return 1
    return int(shape[0]) * math.prod(int(d) for d in shape[2:])


def split_vectors(images: int, per_image: int, chunks: int) -> list[tuple[int, int]]:
    """``images * per_image`` vectors in at least ``min(chunks, total)`` contiguous, non-empty ranges
    that never span two images: each image gets ``ceil(chunks / images)`` nearly equal ranges when
    ``chunks >= images``; else consecutive images are grouped ``ceil(images / chunks)`` at a time
    (whole images: a range then spans images only when each holds whole images)."""
    if images <= 0 or per_image <= 0:
        return [(0, max(1, images * per_image))]
    if chunks < images:
        per = -(-images // max(1, chunks))
        return [(i * per_image, min(images, i + per) * per_image) for i in range(0, images, per)]
    k = -(-chunks // images)
    return [(n * per_image + a, n * per_image + b) for n in range(images) for a, b in split_rows(per_image, k)]


def position_intervals(shape: tuple[int, ...], axis: int, row0: int, row1: int) -> list[tuple[int, int]] | None:
    """The vectors (`VEC` indices, every channel of each) an access of rows ``row0:row1`` along
    ``axis`` touches, as sorted disjoint ranges; None when the access selects channels (axis 1, or
    FLAT rows of a rank-3+ tensor), so it is not a set of whole vectors."""
    nd = len(shape)
    if nd < 2:
        return None
    total = vector_count(shape)
    if axis == WHOLE:
        return [(0, total)]
    if axis == VEC or (nd == 2 and axis in (0, FLAT)):
        return [(row0, row1)]
    if axis == 0:
        per = total // max(1, shape[0])
        return [(row0 * per, row1 * per)]
    if axis < 2 or axis >= nd:
        return None
    inner = int(np.prod(shape[axis + 1:], dtype=np.int64))
    outer = int(shape[0]) * int(np.prod(shape[2:axis], dtype=np.int64))
    step = int(shape[axis]) * inner
    return [(o * step + row0 * inner, o * step + row1 * inner) for o in range(outer)]


def intervals_overlap(a: list[tuple[int, int]], b: list[tuple[int, int]]) -> bool:
    """Do two sorted lists of disjoint half-open ranges share an index?"""
    i = j = 0
    while i < len(a) and j < len(b):
        if a[i][0] < b[j][1] and b[j][0] < a[i][1]:
            return True
        if a[i][1] <= b[j][1]:
            i += 1
        else:
            j += 1
    return False


def accesses_overlap(shape: tuple[int, ...], a: tuple[int, int, int], b: tuple[int, int, int]) -> bool:
    """May accesses ``a`` and ``b`` ((axis, row0, row1) each) of a tensor of ``shape`` touch a
    common element?  Exact for two accesses on one axis and for accesses of whole vectors
    (`position_intervals`); True (conservative) otherwise."""
    if WHOLE in (a[0], b[0]):
        return True
    if a[0] == b[0]:
        return a[1] < b[2] and b[1] < a[2]
    pa, pb = position_intervals(shape, *a), position_intervals(shape, *b)
    if pa is None or pb is None:
        return True
    return intervals_overlap(pa, pb)


def window_vectors(out_shape: tuple[int, ...], in_shape: tuple[int, ...], v0: int, v1: int,
                   first_row: Callable[[int], int], end_row: Callable[[int], int]) -> tuple[int, int]:
    """The input vectors (`VEC` range) that output vectors ``v0:v1`` of a sliding window read,
    as whole input rows: ``first_row(h)`` / ``end_row(h)`` give the input rows (unclipped) output
    row ``h``'s windows start at / end before.  A range within one image reads input rows
    ``first_row(h0):end_row(h1)`` of that image; a range over several images reads from the first
    image's first row to the last image's last (a contiguous superset)."""
    per_out = vector_count(out_shape) // max(1, out_shape[0])
    per_in = vector_count(in_shape) // max(1, in_shape[0])
    row_out = per_out // max(1, out_shape[2]) if len(out_shape) > 2 else 1
    row_in = per_in // max(1, in_shape[2]) if len(in_shape) > 2 else 1
    rows_in = in_shape[2] if len(in_shape) > 2 else 1
    n0, p0 = divmod(v0, per_out)
    n1, p1 = divmod(v1 - 1, per_out)
    lo = min(rows_in, max(0, first_row(p0 // row_out)))
    hi = min(rows_in, max(lo, end_row(p1 // row_out)))
    return n0 * per_in + lo * row_in, n1 * per_in + hi * row_in


def _width_pool(op: OpSpec) -> tuple[int, int, int, int] | None:
    """(kernel, stride, leading pad, dilation) along the width of the pool a Conv's output stage
    runs first (`ir.passes.epilogue_fusion` fuses only pools of height 1), or None."""
    epi = op.epilogue
    if epi is None or not epi.ops or epi.ops[0].op_type not in _POOLS:
        return None
    p = epi.ops[0]
    kernel = tuple(p.attr("kernel_shape"))
    strides = tuple(p.attr("strides", (1,) * len(kernel)))
    pads = tuple(p.attr("pads", (0,) * (2 * len(kernel))))
    dil = tuple(p.attr("dilations", (1,) * len(kernel)))
    return int(kernel[-1]), int(strides[-1]), int(pads[len(kernel) - 1]), int(dil[-1])


def mvm_vectors(graph: Graph, op: OpSpec, row0: int, row1: int) -> tuple[int, int]:
    """The vectors of a crossbar op's MVM output (`OpSpec.mvm_output`) that its output chunk
    ``row0:row1`` needs: the same range, but for a Conv whose output stage pools along the width
    the contiguous range (in (image, row, column) order) from the first pooled window's first
    column to the last one's last."""
    pool = _width_pool(op) if op.op_type == "Conv" and chunk_axis(graph, op).axis == VEC else None
    if pool is None:
        return row0, row1
    k, s, p, d = pool
    z = graph.shape(op.outputs[0])
    y = graph.shape(op.mvm_output)
    wz, wy = z[-1], y[-1]
    first, last = divmod(row0, wz), divmod(row1 - 1, wz)       # (image x rows..., column) of Z
    lo = first[0] * wy + max(0, first[1] * s - p)
    hi = last[0] * wy + min(wy - 1, last[1] * s - p + (k - 1) * d) + 1
    return lo, max(lo + 1, hi)


def mvm_vector_count(graph: Graph, op: OpSpec, ax: ChunkAxis, row0: int, row1: int) -> int:
    """Input vectors the MVM of output chunk ``row0:row1`` (along ``ax``, the op's `chunk_axis`)
    multiplies: `mvm_vectors`' range for a vector range, else its rows' vectors (WHOLE: all)."""
    if ax.axis == WHOLE:
        return ax.vectors_per_row
    if ax.axis == VEC:
        y0, y1 = mvm_vectors(graph, op, row0, row1)
        return y1 - y0
    return (row1 - row0) * ax.vectors_per_row


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
    """(axis, first, end) rows of the op's first input that output rows ``row0:row1`` read (a Conv:
    the input vectors, `VEC`, its output vectors ``row0:row1`` read, as whole input rows)."""
    ax = chunk_axis(graph, op)
    if op.op_type == "MatMul" and ax.axis != WHOLE:
        return ax.axis, row0, row1     # row m of the output reads row m of the left operand
    if ax.axis == VEC:
        x = graph.shape(op.inputs[0])
        k = graph.shape(op.inputs[1])[2] if len(x) > 2 else 1
        begin, _, strides, dil = conv_pads(graph, op)
        s, b, d = (strides[0], begin[0], dil[0]) if len(x) > 2 else (1, 0, 1)
        y0, y1 = mvm_vectors(graph, op, row0, row1)
        lo, hi = window_vectors(tuple(graph.shape(op.mvm_output)), tuple(x), y0, y1,
                                lambda h: h * s - b, lambda h: h * s - b + (k - 1) * d + 1)
        return VEC, lo, hi
    if ax.axis in (0, FLAT):
        if op.op_type == "Gemm" and op.attr("transA", 0):
            return WHOLE, 0, 0
        return ax.axis, row0, row1
    return WHOLE, 0, 0
