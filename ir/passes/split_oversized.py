"""Split crossbar ops too large for one segment of the chip into parts that fit.

Rules, for Conv (group 1), Gemm (transA 0) and MatMul/Linear with a constant 2-D weight whose
one copy needs more than ``limit`` crossbars (a K x N matrix takes ceil(K / rows) x
ceil(N / wcols) of them):

1. If ceil(K / rows) > limit, the reduction dimension is cut into chunks of at most
   ``limit`` row tiles (input channels for Conv, whole kernel windows per channel); each chunk
   reads a Slice of the input and the chunks' results are added by a Sum (which carries the
   fused activation and, for Gemm, the bias); a Gemm part without bias becomes a MatMul.
2. Each chunk's output columns (Conv output channels, Gemm/MatMul columns) are cut into parts
   of at most ``limit // row_tiles`` column tiles, joined by a Concat.

A grouped (or depthwise) Conv with g groups packs small groups several to a crossbar
(`ir.tiles.tile_count`); when it needs more than ``limit`` crossbars:

3. If one group fits in ``limit`` crossbars, the groups are cut into runs of as many as fit
   (``limit`` x groups-per-crossbar when packed, ``limit // crossbars-per-group`` otherwise);
   each run is a Conv with that many groups on a Slice of the input channels, with its slice of
   the weight, bias and the fused activation, and the runs are joined by a Concat on channels.
4. Otherwise each group becomes a dense (group 1) Conv on its input channels, which rules 1 and
   2 then split further.
5. A ConvTranspose (group 1) with weight (C, M, kh, kw) is a C x (M kh kw) matrix: its input
   channels are cut into chunks of at most ``limit`` row tiles, summed, and each chunk's output
   channels into parts of whole kernel windows that fit, joined on the channel axis.

Every part is an op of the same type on a slice of the weight, so the graph computes the same
function; the parts can then be placed in different segments.  Preconditions: constants
folded, shapes inferred.  An op that cannot be split (transposed Gemm input) and
does not fit raises CapacityError naming it (a grouped ConvTranspose, a kernel window larger
than a segment).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from cimopt.ir.errors import CapacityError
from cimopt.ir.graph import CIMOPT_DOMAIN, Graph, OpSpec, TensorSpec
from cimopt.ir.passes.manager import PassResult, register
from cimopt.ir.tiles import tile_count
from cimopt.ir.workload import Matrix


def _matrix_dims(graph: Graph, op: OpSpec) -> tuple[int, int] | None:
    c = graph.constants
    if len(op.inputs) < 2 or op.inputs[1] not in c or op.inputs[0] in c:
        return None
    w = c[op.inputs[1]]
    if op.op_type == "Conv" and op.domain in ("", "ai.onnx"):
        g = int(op.attr("group", 1))
        return int(np.prod(w.shape[1:])), w.shape[0] // g
    if op.op_type == "ConvTranspose" and op.domain in ("", "ai.onnx"):
        return w.shape[0] // int(op.attr("group", 1)), int(np.prod(w.shape[1:]))
    if op.op_type == "Gemm" and op.domain in ("", "ai.onnx"):
        return (w.shape[1], w.shape[0]) if op.attr("transB", 0) else (w.shape[0], w.shape[1])
    if op.op_type in ("MatMul", "Linear") and w.ndim == 2:
        return w.shape[0], w.shape[1]
    return None


class _Builder:
    def __init__(self, graph: Graph, op: OpSpec) -> None:
        self.g, self.op = graph, op
        self.opset = graph.opsets.get("", 13)

    def const(self, base: str, value: np.ndarray) -> str:
        name = self.g.fresh_name(f"{self.op.name}/{base}")
        self.g.constants[name] = value
        return name

    def tensor(self, base: str, shape: tuple[int, ...], dtype: str) -> str:
        name = self.g.fresh_name(f"{self.op.name}/{base}")
        self.g.tensors[name] = TensorSpec(name, shape, dtype)
        return name

    def add(self, op_type: str, inputs: list[str], outputs: list[str], attrs: dict, domain: str = "",
            activation=None) -> None:  # noqa: ANN001
        name = self.g.fresh_name(f"{self.op.name}/{op_type.lower()}")
        self.g.add_op(OpSpec(name, op_type, tuple(inputs), tuple(outputs), tuple(sorted(attrs.items())), domain,
                             activation), after=self.op.name)

    def slice(self, x: str, axis: int, start: int, end: int) -> str:
        shape = list(self.g.shape(x))
        shape[axis] = end - start
        out = self.tensor("slice", tuple(shape), self.g.spec(x).dtype)
        if self.opset < 10:
            self.add("Slice", [x], [out], {"axes": (axis,), "starts": (start,), "ends": (end,)})
        else:
            self.add("Slice", [x, self.const("starts", np.array([start], np.int64)),
                               self.const("ends", np.array([end], np.int64)),
                               self.const("axes", np.array([axis], np.int64))], [out], {})
        return out


@register
@dataclass(frozen=True)
class SplitOversized:
    """Split every crossbar op needing more than ``limit`` crossbars; see the module docstring."""

    name: ClassVar[str] = "split_oversized"
    rows: int
    cols: int
    slices: int
    limit: int

    def __call__(self, graph: Graph) -> PassResult:
        rows, cols, slices, limit = self.rows, self.cols, self.slices, self.limit
        wcols = cols // slices
        modified = False
        todo = [op.name for op in graph.ops()]
        while todo:
            name = todo.pop(0)
            if name not in graph.dag:
                continue
            op = graph.op(name)
            dims = _matrix_dims(graph, op)
            if dims is None:
                continue
            k, n = dims
            groups = int(op.attr("group", 1)) if op.op_type in ("Conv", "ConvTranspose") else 1
            need = tile_count(Matrix(groups, k, n, 1), rows, cols, slices)
            if need <= limit:
                continue
            if (op.op_type == "Gemm" and op.attr("transA", 0)) or (op.op_type == "ConvTranspose" and groups > 1):
                raise CapacityError(f"op {op.name} ({op.op_type}) needs {need} crossbars for one copy, more than "
                                    f"{limit} a segment can hold, and cimopt cannot split it; choose a larger target")
            before = {o.name for o in graph.ops()}
            if groups > 1:
                _split_groups(graph, op, k, n, groups, rows, cols, slices, limit)
            elif op.op_type == "ConvTranspose":
                _split_transposed(graph, op, rows, wcols, limit)
            else:
                _split(graph, op, k, n, rows, wcols, limit)
            todo.extend(o.name for o in graph.ops() if o.name not in before)
            modified = True
        return PassResult(graph, modified)


def _split_groups(graph: Graph, op: OpSpec, k: int, n: int, groups: int, rows: int, cols: int, slices: int,
                  limit: int) -> None:
    """Rules 3 and 4: runs of whole groups, each a Conv of its own, joined on the channel axis."""
    one = tile_count(Matrix(1, k, n, 1), rows, cols, slices)
    wcols = cols // slices
    if k <= rows and n <= wcols:
        per_run = limit * min(rows // k, wcols // n)
    else:
        per_run = limit // one if one <= limit else 1
    b = _Builder(graph, op)
    w = graph.constants[op.inputs[1]]
    x, y = op.inputs[0], op.outputs[0]
    yshape, dtype = graph.shape(y), graph.spec(y).dtype
    cin = w.shape[1]                                     # input channels per group
    bias = _bias(graph, op, w.shape[0], yshape)
    parts: list[str] = []
    for g0 in range(0, groups, per_run):
        g1 = min(g0 + per_run, groups)
        xin = b.slice(x, 1, g0 * cin, g1 * cin)
        pshape = list(yshape)
        pshape[1] = (g1 - g0) * n
        out = b.tensor(f"groups{g0}", tuple(pshape), dtype)
        inputs = [xin, b.const(f"w_g{g0}", np.ascontiguousarray(w[g0 * n:g1 * n]))]
        if bias is not None:
            inputs.append(b.const(f"b_g{g0}", np.ascontiguousarray(bias[g0 * n:g1 * n])))
        attrs = {key: v for key, v in op.attrs}
        attrs["group"] = g1 - g0
        b.add("Conv", inputs, [out], attrs, activation=op.activation)
        parts.append(out)
    if len(parts) == 1:
        b.add("Identity", parts, [y], {})
    else:
        b.add("Concat", parts, [y], {"axis": 1})
    graph.remove_op(op.name)
    graph.prune_constants()


def _split_transposed(graph: Graph, op: OpSpec, rows: int, wcols: int, limit: int) -> None:
    """Rule 5: a ConvTranspose (group 1), weight (C, M, kh, kw), by input channels (summed) and
    output channels (joined on axis 1); the bias goes with the first input chunk."""
    b = _Builder(graph, op)
    w = graph.constants[op.inputs[1]]
    x, y = op.inputs[0], op.outputs[0]
    yshape, dtype = graph.shape(y), graph.spec(y).dtype
    window = int(np.prod(w.shape[2:]))
    per_k = limit * rows
    k_ranges = [(c0, min(c0 + per_k, w.shape[0])) for c0 in range(0, w.shape[0], per_k)]
    bias = _bias(graph, op, w.shape[1], yshape)
    multi_k = len(k_ranges) > 1
    sums: list[str] = []
    for ci, (k0, k1) in enumerate(k_ranges):
        xin = b.slice(x, 1, k0, k1) if multi_k else x
        width = max(1, limit // math.ceil((k1 - k0) / rows)) * wcols
        per_m = width // window
        if per_m < 1:
            raise CapacityError(f"op {op.name}: one output channel's {window} kernel weights exceed {limit} crossbars")
        parts: list[str] = []
        for m0 in range(0, w.shape[1], per_m):
            m1 = min(m0 + per_m, w.shape[1])
            pshape = list(yshape)
            pshape[1] = m1 - m0
            out = b.tensor(f"part{ci}_{m0}", tuple(pshape), dtype)
            inputs = [xin, b.const(f"w{ci}_{m0}", np.ascontiguousarray(w[k0:k1, m0:m1]))]
            if bias is not None and ci == 0:
                inputs.append(b.const(f"b{ci}_{m0}", np.ascontiguousarray(bias[m0:m1])))
            b.add("ConvTranspose", inputs, [out], {key: v for key, v in op.attrs},
                  activation=None if multi_k else op.activation)
            parts.append(out)
        joined = y if not multi_k else b.tensor(f"chunk{ci}", tuple(yshape), dtype)
        b.add("Concat" if len(parts) > 1 else "Identity", parts, [joined], {"axis": 1} if len(parts) > 1 else {})
        sums.append(joined)
    if multi_k:
        b.add("Sum", sums, [y], {}, activation=op.activation)
    graph.remove_op(op.name)
    graph.prune_constants()


def _split(graph: Graph, op: OpSpec, k: int, n: int, rows: int, wcols: int, limit: int) -> None:
    b = _Builder(graph, op)
    w = graph.constants[op.inputs[1]]
    x = op.inputs[0]
    y = op.outputs[0]
    yshape = graph.shape(y)
    dtype = graph.spec(y).dtype
    conv = op.op_type == "Conv"
    if conv:
        window = int(np.prod(w.shape[2:]))
        if window > limit * rows:
            raise CapacityError(f"op {op.name}: one input channel's {window}-weight window exceeds {limit} crossbars")
        per_chunk = max(1, (limit * rows) // window)          # input channels per reduction chunk
        k_ranges = [(c0, min(c0 + per_chunk, w.shape[1])) for c0 in range(0, w.shape[1], per_chunk)]
        mat = w                                               # (M, C, kh, kw)
        n_axis, x_axis = 1, 1
    else:
        mat = w.T if (op.op_type == "Gemm" and op.attr("transB", 0)) else w     # (K, N)
        if op.op_type == "Gemm":
            mat = mat * np.asarray(op.attr("alpha", 1.0), dtype=mat.dtype)
        per_chunk = limit * rows
        k_ranges = [(k0, min(k0 + per_chunk, k)) for k0 in range(0, k, per_chunk)]
        n_axis = len(yshape) - 1
        x_axis = len(graph.shape(x)) - 1
    bias = _bias(graph, op, n, yshape)
    multi_k = len(k_ranges) > 1
    sums: list[str] = []
    for ci, (k0, k1) in enumerate(k_ranges):
        xin = b.slice(x, x_axis, k0, k1) if multi_k else x
        krows = (k1 - k0) * (int(np.prod(w.shape[2:])) if conv else 1)
        rt = math.ceil(krows / rows)
        width = max(1, limit // rt) * wcols
        parts: list[str] = []
        for n0 in range(0, n, width):
            n1 = min(n0 + width, n)
            pshape = list(yshape)
            pshape[n_axis] = n1 - n0
            out = b.tensor(f"part{ci}_{n0}", tuple(pshape), dtype)
            wpart = np.ascontiguousarray(mat[n0:n1, k0:k1] if conv else mat[k0:k1, n0:n1])
            inputs = [xin, b.const(f"w{ci}_{n0}", wpart)]
            if bias is not None and (ci == 0 or not multi_k) and not (op.op_type == "Gemm" and multi_k):
                inputs.append(b.const(f"b{ci}_{n0}", np.ascontiguousarray(bias[..., n0:n1])))
            act = None if multi_k else op.activation
            if conv:
                attrs = {key: v for key, v in op.attrs}
                b.add("Conv", inputs, [out], attrs, activation=act)
            elif op.op_type == "Gemm" and len(inputs) == 3:
                b.add("Gemm", inputs, [out], {}, activation=act)
            elif len(inputs) == 3:
                b.add("Linear", inputs, [out], {}, CIMOPT_DOMAIN, act)
            else:
                b.add("MatMul", inputs, [out], {}, activation=act)
            parts.append(out)
        joined = parts[0] if len(parts) == 1 else None
        if joined is None:
            joined = y if not multi_k else b.tensor(f"chunk{ci}", tuple(yshape), dtype)
            b.add("Concat", parts, [joined], {"axis": n_axis})
        elif not multi_k:
            b.add("Identity", [joined], [y], {})
        sums.append(joined)
    if multi_k:
        extra = []
        if op.op_type == "Gemm" and bias is not None:
            extra = [b.const("bias", np.ascontiguousarray(bias))]
        b.add("Sum", sums + extra, [y], {}, activation=op.activation)
    graph.remove_op(op.name)
    graph.prune_constants()


def _bias(graph: Graph, op: OpSpec, n: int, yshape: tuple[int, ...]) -> np.ndarray | None:
    """The op's additive term as an array whose last axis is the output column (None if none)."""
    if len(op.inputs) < 3 or not op.inputs[2]:
        return None
    c = graph.constants.get(op.inputs[2])
    if c is None:
        raise CapacityError(f"op {op.name}: its bias is not a constant, so cimopt cannot split it to fit")
    if op.op_type == "Gemm":
        c = c * np.asarray(op.attr("beta", 1.0), dtype=c.dtype)
        return np.ascontiguousarray(np.broadcast_to(c, yshape) if c.ndim == 2 and c.shape[0] != 1 else
                                    np.broadcast_to(c.reshape(-1) if c.size > 1 else c.reshape(1), (n,)))
    return c.reshape(-1)
