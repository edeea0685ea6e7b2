"""Which producer vectors an op's output vectors read, as far as the latency bound needs it
(`solver.e2e_bound_latency`): per op its head rule and the producers it reads whole, per data
edge whether it *covers* its producer (every producer vector read by some consumer vector).

Conservative by construction: an op type not listed reads "none" and covers nothing, which only
weakens the bound.  A crossbar op's vectors are its MVM's; a vector or host op's are its output
elements.  Windows (Conv, pools) are checked exactly along each spatial axis.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

from cimopt.ir.chunks import conv_pads
from cimopt.ir.graph import Graph, OpSpec
from cimopt.ir.vector_chunks import AXIS_OPS, ELEMENTWISE, GLOBAL_POOLS, LAYOUT, POOLS

#: every output element reads every element of its inputs' at least once overall (none is dropped)
_COVERING = ELEMENTWISE | set(AXIS_OPS) | LAYOUT | GLOBAL_POOLS | {
    "MatMul", "Gemm", "Linear", "ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd",
    "ReduceL2", "ReduceL1", "ReduceSumSquare", "ReduceLogSumExp", "InstanceNormalization",
    "GroupNormalization", "DepthToSpace", "SpaceToDepth", "Expand", "Tile"}
#: every output element reads some element of every input
_EVERY = (_COVERING - {"Concat"}) | {"Slice", "Gather", "GatherElements", "Split", "Resize", "Upsample",
                                     "ArgMax", "ArgMin", "TopK", "CumSum"}


def head_rule(graph: Graph, op: OpSpec) -> str:
    """"every" (each output vector reads some vector of every producer), "some" (of one of them:
    a Concat) or "none" (maybe of none: a Pad's border, a window wholly in the padding)."""
    t = op.op_type
    if t == "Conv" or t in POOLS:
        w = _windows(graph, op)
        return "every" if w is not None and all(_every_window_reads(*a) for a in w) else "none"
    if t == "Concat":
        return "some"
    return "every" if t in _EVERY else "none"


def whole_from(graph: Graph, op: OpSpec, written: bool) -> tuple[str, ...]:
    """Names of producers every output vector of ``op`` reads all of: a MatMul's right operand,
    when ``written`` into crossbars (each MVM uses every tile) or when each output row is a row of an
    unbatched product (rank <= 3, no leading dims on the operand)."""
    if op.op_type != "MatMul" or len(op.inputs) != 2 or op.inputs[1] in graph.constants:
        return ()
    p = graph.producer(op.inputs[1])
    if p is None:
        return ()
    b, y = graph.shape(op.inputs[1]), graph.shape(op.outputs[0])
    if written or (len(y) <= 3 and len(b) >= 2 and math.prod(b[:-2]) == 1):
        return (p.name,)
    return ()


def covering_edges(graph: Graph, names: Sequence[str], edges: Sequence[tuple[int, int]]) -> frozenset[tuple[int, int]]:
    """The edges (indices into ``names``) on which the consumer reads every vector of the producer."""
    out = set()
    for u, v in edges:
        p, c = graph.op(names[u]), graph.op(names[v])
        if _output_reads_all(p) and all(_covers(graph, c, t) for t in p.outputs if t) and \
                any(t in (*c.inputs, *c.extra_inputs()) for t in p.outputs if t):
            out.add((u, v))
    return frozenset(out)


def _output_reads_all(p: OpSpec) -> bool:
    """Whether every MVM vector of a crossbar op reaches its output (no fused window op drops one)."""
    return p.epilogue is None or all(e.op_type in ELEMENTWISE for e in p.epilogue.ops)


def _covers(graph: Graph, c: OpSpec, tensor: str) -> bool:
    """Whether ``c`` reads every element of ``tensor`` (one of its inputs; False when it is not one)."""
    t = c.op_type
    if tensor in c.extra_inputs():
        return c.epilogue is not None and all(e.op_type in ELEMENTWISE for e in c.epilogue.ops)
    if tensor not in c.inputs:
        return False
    if t == "Conv" or t in POOLS:
        w = _windows(graph, c)
        return tensor == c.inputs[0] and w is not None and all(_every_input_read(*a) for a in w)
    return t in _COVERING


def _windows(graph: Graph, op: OpSpec) -> list[tuple[int, int, int, int, int, int]] | None:
    """Per spatial axis (input size, output size, kernel, stride, leading pad, dilation) of a Conv
    or pool, or None when they are not known."""
    x, y = graph.shape(op.inputs[0]), graph.shape(op.outputs[0] if op.op_type != "Conv" else op.mvm_output)
    if len(x) < 3 or len(y) != len(x):
        return None
    nsp = len(x) - 2
    if op.op_type == "Conv":
        begin, _, strides, dil = conv_pads(graph, op)
        kernel = list(op.attr("kernel_shape", graph.shape(op.inputs[1])[2:]))
    else:
        kernel = list(op.attr("kernel_shape", ()))
        strides = list(op.attr("strides", (1,) * nsp))
        dil = list(op.attr("dilations", (1,) * nsp))
        auto = op.attr("auto_pad", "NOTSET")
        if auto in ("SAME_UPPER", "SAME_LOWER"):
            begin = []
            for i in range(nsp):
                total = max(0, (y[2 + i] - 1) * strides[i] + (kernel[i] - 1) * dil[i] + 1 - x[2 + i])
                begin.append(total // 2 if auto == "SAME_UPPER" else total - total // 2)
        else:
            begin = list(op.attr("pads", (0,) * (2 * nsp)))[:nsp] if auto != "VALID" else [0] * nsp
    if len(kernel) != nsp:
        return None
    return [(x[2 + i], y[2 + i], int(kernel[i]), int(strides[i]), int(begin[i]), int(dil[i])) for i in range(nsp)]


def _every_window_reads(size: int, out: int, k: int, s: int, pad: int, d: int) -> bool:
    """Whether every output position's window holds at least one input position."""
    return all(any(0 <= o * s - pad + j * d < size for j in range(k)) for o in range(out))


def _every_input_read(size: int, out: int, k: int, s: int, pad: int, d: int) -> bool:
    """Whether every input position lies in some output position's window."""
    read = {o * s - pad + j * d for o in range(out) for j in range(k)}
    return all(i in read for i in range(size))
