"""Chunks of a vector op's output, like a crossbar op's (`ir.chunks`): rows along one axis.

Rules (an op not covered is one WHOLE chunk):

* row-local ops (elementwise, BatchNormalization, LRN, and Softmax / LogSoftmax /
  LayerNormalization whose axis lies after the chunk axis, Concat along any other axis): output row r reads row r
  of every input whose broadcast shape has the output's extent up to the chunk axis; an input
  broadcast along it is read whole.
* MatMul of two activations (a vector op where the target's vector unit runs it): rows of the
  output (axis 2 for rank 4, FLAT otherwise) read the same rows of the left operand and all of
  the right one.
* MaxPool / AveragePool / LpPool (one output): output vectors (`VEC`: positions in (image,
  row, column) order), reading the receptive field of the kernel, strides, pads and dilations
  along the input's axis 2 (whole input rows, `ir.chunks.window_vectors`).
* GlobalAveragePool / GlobalMaxPool: rows along axis 1 (channels), reading those channels.
* layout ops (Reshape, Flatten, Squeeze, Unsqueeze, Transpose: `LAYOUT`): rows along an output
  dimension whose slices are exactly slices of one input dimension (a reshape keeps a dimension
  when its extent and the product of the extents before it are unchanged; a transpose moves
  every dimension).  Of those, the one on the axis its producer chunks (so a channel shuffle,
  Reshape-Transpose-Reshape, keeps a convolution's rows all the way through), else the one on
  the output's or the input's natural chunk axis.

The chunk axis of a row-local op is `VEC` for tensors of rank 4 or more (the vectors a Conv
chunks; Softmax / LogSoftmax / LayerNormalization and a Concat not along the channels: axis 2,
the height), FLAT (`ir.chunks`: rows of the (prod(leading dims), last) view) for ranks 2 and 3,
which is how MatMul / Linear chunk.  Rows are counted on the op's first output.
"""
from __future__ import annotations

import math

from cimopt.ir.chunks import chunk_axis, ChunkAxis, FLAT, vector_count, VEC, WHOLE, window_vectors
from cimopt.ir.graph import Graph, OpClass, OpSpec

#: Ops whose output element depends only on the input elements at the same position
#: (after broadcasting).
ELEMENTWISE = frozenset({
    "Add", "Sub", "Mul", "Div", "Pow", "Sqrt", "Reciprocal", "Neg", "Abs", "Exp", "Log", "Erf", "Tanh",
    "Sigmoid", "HardSigmoid", "HardSwish", "Relu", "LeakyRelu", "PRelu", "Clip", "Elu", "Selu", "Celu",
    "Gelu", "Softplus", "Softsign", "Mish", "Max", "Min", "Sum", "Mean", "Floor", "Ceil", "Round", "Sign",
    "Where", "Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual", "Not", "And", "Or", "Cast",
    "ThresholdedRelu", "Sin", "Cos", "BatchNormalization", "Identity", "Dropout",
    "LRN",   # normalises across channels only: row-local along the height
})
#: Row-local ops whose ``axis`` attribute must lie after the chunk axis (default in brackets).
AXIS_OPS = {"Softmax": -1, "LogSoftmax": -1, "LayerNormalization": -1, "Concat": None}
POOLS = frozenset({"MaxPool", "AveragePool", "LpPool"})
GLOBAL_POOLS = frozenset({"GlobalAveragePool", "GlobalMaxPool"})
#: Ops that only rearrange their first input's elements (the others are shapes or attributes).
RESHAPES = frozenset({"Reshape", "Flatten", "Squeeze", "Unsqueeze"})
LAYOUT = RESHAPES | {"Transpose"}


def _row_axis(ndim: int, op_type: str) -> int:
    if ndim < 4:
        return FLAT
    return 2 if op_type == "MatMul" or op_type in AXIS_OPS else VEC


def _dim_of(axis: int, ndim: int) -> int:
    """The tensor dimension whose index a chunk row is (FLAT: the last leading dim)."""
    return ndim - 2 if axis == FLAT else axis


def _rows(shape: tuple[int, ...], axis: int) -> int:
    if axis == VEC:
        return vector_count(shape)
    return int(math.prod(shape[:-1])) if axis == FLAT else shape[axis]


def vector_chunk_axis(graph: Graph, op: OpSpec) -> ChunkAxis:
    """The axis a vector op's chunks split and its number of rows (WHOLE, 1 row: not chunkable)."""
    whole = ChunkAxis(WHOLE, 1, 1)
    outs = [t for t in op.outputs if t]
    if len(outs) != 1 or not op.inputs:
        return whole
    y = graph.shape(outs[0])
    t = op.op_type
    if t in GLOBAL_POOLS:
        return ChunkAxis(1, y[1], 1) if len(y) >= 3 else whole
    if t in POOLS:
        return ChunkAxis(VEC, vector_count(y), 1) if len(y) >= 4 else whole
    if t in LAYOUT:
        pair = _layout_axes(graph, op)
        return ChunkAxis(pair[1], y[pair[1]], 1) if pair is not None else whole
    if len(y) < 2:
        return whole
    axis = _row_axis(len(y), t)
    dim = _dim_of(axis, len(y))
    if t in AXIS_OPS:
        a = op.attr("axis", AXIS_OPS[t])
        if a is None:
            return whole
        a = a + len(y) if a < 0 else a
        if t == "Concat" and a == 1 and len(y) >= 4:   # channels joined: each output vector reads its own
            return ChunkAxis(VEC, vector_count(y), 1)
        # Concat joins along its axis (any but the chunk's, and after it when FLAT); the others
        # normalise over the axes from theirs on
        if (a <= dim) if t != "Concat" else (a == dim or (axis == FLAT and a < dim)):
            return whole
    elif t not in ELEMENTWISE and t != "MatMul":
        return whole
    return ChunkAxis(axis, _rows(y, axis), 1)


def _layout_pairs(x: tuple[int, ...], y: tuple[int, ...], op: OpSpec) -> list[tuple[int, int]]:
    """(input dim, output dim) pairs of a layout op whose output slices are input slices; neither
    the last dimension (rows are slices of the leading dimensions, as the machine tracks them)."""
    if op.op_type == "Transpose":
        perm = op.attr("perm") or tuple(range(len(x) - 1, -1, -1))
        if len(perm) != len(y):
            return []
        pairs = [(int(perm[d]), d) for d in range(len(y)) if y[d] > 1]
    else:
        pairs = [(i, o) for i in range(len(x)) for o in range(len(y))
                 if x[i] == y[o] > 1 and math.prod(x[:i]) == math.prod(y[:o])]
    return [(i, o) for i, o in pairs if i < len(x) - 1 and o < len(y) - 1]


def _layout_axes(graph: Graph, op: OpSpec) -> tuple[int, int] | None:
    """The (input dim, output dim) a layout op chunks along (see the module docstring), or None."""
    if not op.inputs or not op.inputs[0] or len(op.outputs) != 1:
        return None
    x, y = graph.shape(op.inputs[0]), graph.shape(op.outputs[0])
    pairs = _layout_pairs(tuple(x), tuple(y), op)
    if not pairs:
        return None
    wanted = [_producer_dim(graph, op.inputs[0])]
    if len(y) >= 4:
        wanted.append(("out", 2))
    if len(x) >= 4:
        wanted.append(("in", 2))
    for w in wanted:
        if w is None:
            continue
        side, d = w
        for i, o in pairs:
            if (i if side == "in" else o) == d:
                return i, o
    return None


def _producer_dim(graph: Graph, tensor: str) -> tuple[str, int] | None:
    """("in", dim) of ``tensor`` its producer chunks along, when that is one dimension."""
    p = graph.producer(tensor)
    if p is None:
        return None
    if p.op_class is OpClass.CROSSBAR:
        axis = chunk_axis(graph, p).axis
    elif p.op_class is OpClass.VECTOR and tensor == p.outputs[0]:
        axis = vector_chunk_axis(graph, p).axis
    else:
        return None
    return ("in", axis) if axis >= 0 else None


def _pool_window(graph: Graph, op: OpSpec) -> tuple[int, int, int, int]:
    """(kernel, stride, leading pad, dilation) of a pool along axis 2."""
    x = graph.shape(op.inputs[0])
    y = graph.shape(op.outputs[0])
    kernel = int(op.attr("kernel_shape")[0])
    stride = int(op.attr("strides", (1,) * (len(x) - 2))[0])
    dil = int(op.attr("dilations", (1,) * (len(x) - 2))[0])
    auto = op.attr("auto_pad", "NOTSET")
    if auto in ("SAME_UPPER", "SAME_LOWER"):
        total = max(0, (y[2] - 1) * stride + (kernel - 1) * dil + 1 - x[2])
        pad = total // 2 if auto == "SAME_UPPER" else total - total // 2
    elif auto == "VALID":
        pad = 0
    else:
        pad = int(op.attr("pads", (0,) * (2 * (len(x) - 2)))[0])
    return kernel, stride, pad, dil


def vector_needed_rows(graph: Graph, op: OpSpec, tensor: str, row0: int, row1: int) -> tuple[int, int, int]:
    """(axis, first, end) rows of input ``tensor`` that output rows ``row0:row1`` read (WHOLE: all)."""
    ax = vector_chunk_axis(graph, op)
    if ax.axis == WHOLE:
        return WHOLE, 0, 0
    x = graph.shape(tensor)
    y = graph.shape(op.outputs[0])
    if op.op_type in POOLS:
        kernel, stride, pad, dil = _pool_window(graph, op)
        lo, hi = window_vectors(tuple(y), tuple(x), row0, row1, lambda h: h * stride - pad,
                                lambda h: h * stride - pad + (kernel - 1) * dil + 1)
        return VEC, lo, hi
    if op.op_type in GLOBAL_POOLS:
        return 1, row0, row1
    if op.op_type in LAYOUT:
        pair = _layout_axes(graph, op)
        return (pair[0], row0, row1) if pair is not None and tensor == op.inputs[0] else (WHOLE, 0, 0)
    if op.op_type == "Concat":
        return ax.axis, row0, row1
    if op.op_type == "MatMul" and (tensor == op.inputs[1] or len(x) < 2):
        return WHOLE, 0, 0       # every output row reads all of the right operand
    pad_x = (1,) * (len(y) - len(x)) + tuple(x)
    if ax.axis == VEC:   # every position of the output: the input must have them all
        same = len(x) == len(y) and pad_x[0] == y[0] and tuple(pad_x[2:]) == tuple(y[2:])
        return (VEC, row0, row1) if same else (WHOLE, 0, 0)
    # broadcast: the input, right-aligned, must span the output's dims up to the chunk axis
    dim = _dim_of(ax.axis, len(y))
    if len(x) != len(y) or tuple(pad_x[:dim + 1]) != tuple(y[:dim + 1]):
        return WHOLE, 0, 0
    return ax.axis, row0, row1


def chunk_fraction_cost(elements: int, ops: float, nbytes: int, rows: int, total_rows: int
                        ) -> tuple[int, float, int]:
    """(elements, ops, bytes) of ``rows`` of ``total_rows`` rows of a vector op's work (rounded up)."""
    if total_rows <= 0 or rows >= total_rows:
        return elements, ops, nbytes
    f = rows / total_rows
    return max(1, math.ceil(elements * f)), ops * f, math.ceil(nbytes * f)
