"""Functional kernels of the reference machine (float32 storage, float64 accumulation).

* `tile_block`: the matrix one crossbar holds for one `TileWrite` (float32 weights; the bit-true
  cells of ``--numerics int|analog`` are built by `targets.machine.numerics_engine`).
* `mvm_chunk`: a crossbar op's output rows ``row0:row1`` along its chunk axis
  (`cimopt.ir.chunks.chunk_axis`), computed only from crossbar blocks; bias, Gemm's ``C``,
  ``alpha``/``beta`` and the fused activation come from the graph (the epilogue, vector ops fused
  into the output stage, is `targets.machine.epilogue`'s).
* where a chunk's rows sit in a tensor: `cimopt.targets.machine.rows`.
* `run_op`: a vector or host op through onnxruntime on a one-op model (`ir.export.to_onnx`);
  its inputs are the op's `dynamic_inputs`.

Tensors are stored as float32 (their dtype); products and partial sums accumulate in float64 and
are rounded once, when a chunk is written, so the machine adds no rounding of its own beyond
what storing a float32 activation does.  Shapes are the graph's static shapes.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Mapping, MutableMapping, Sequence

import numpy as np
from numpy.lib.stride_tricks import as_strided

from cimopt.ir.chunks import chunk_axis, conv_pads, FLAT, vector_count, VEC, WHOLE
from cimopt.ir.graph import Activation, Graph, OpSpec
from cimopt.ir.program import TileWrite
from cimopt.ir.workload import matrix_of
from cimopt.ir.written import is_written, operand_group
from cimopt.targets.machine.rows import vector_pieces


#: ``acc(inputs V x groups*K, K, out V x groups x N, blocks)`` adds every tile's partial products to ``out``
Accumulate = Callable[[np.ndarray, int, np.ndarray, Sequence[tuple[TileWrite, np.ndarray]]], None]


# ---- weights ------------------------------------------------------------------------------
def group_matrix(op: OpSpec, constants: Mapping[str, np.ndarray], group: int) -> np.ndarray:
    """The K x N float32 weight matrix of ``group`` of a crossbar op (see `ir.workload.matrix_of`).

    ``constants`` maps the op's weight input to its value: the graph's constants, or for a
    crossbar-written MatMul (`ir.written`) the run-time operand its write instruction read."""
    w = np.asarray(constants[op.inputs[1]], dtype=np.float32)
    t = op.op_type
    if t == "MatMul" and w.ndim > 2:
        return operand_group(w, w.shape[-2], w.shape[-1], group)
    if t == "Conv":
        g = int(op.attr("group", 1))
        n = w.shape[0] // g
        return w[group * n:(group + 1) * n].reshape(n, -1).T
    if t == "ConvTranspose":
        g = int(op.attr("group", 1))
        k = w.shape[0] // g
        return w[group * k:(group + 1) * k].reshape(k, -1)
    if t == "Gemm" and op.attr("transB", 0):
        return w.T
    return w


def tile_block(op: OpSpec, constants: Mapping[str, np.ndarray], tw: TileWrite) -> np.ndarray:
    """The float32 matrix crossbar ``(tw.core, tw.crossbar)`` holds for tile ``tw`` of ``op``.

    For each packed group ``g`` in ``tw.group0 : tw.group0 + tw.ngroups`` the per-group weight
    matrix restricted to rows ``row0:row1`` and columns ``col0:col1``, placed block-diagonally;
    shape ``(ngroups * (row1 - row0), ngroups * (col1 - col0))``: float32 weights, one per weight
    column (the float mode's crossbar state).
    """
    r, c = tw.row1 - tw.row0, tw.col1 - tw.col0
    block = np.zeros((tw.ngroups * r, tw.ngroups * c), dtype=np.float32)
    for i in range(tw.ngroups):
        m = group_matrix(op, constants, tw.group0 + i)
        block[i * r:(i + 1) * r, i * c:(i + 1) * c] = m[tw.row0:tw.row1, tw.col0:tw.col1]
    return block


def _accumulate(patches: np.ndarray, k: int, out: np.ndarray,
                blocks: Sequence[tuple[TileWrite, np.ndarray]]) -> None:
    """Add every tile's partial products into ``out`` (V, groups, N).

    ``patches`` is (V, groups * K): each vector's per-group inputs side by side.  Tiles that read
    the same input rows (same groups, rows ``row0:row1``) are multiplied in one matrix product of
    their blocks side by side; each output column still comes from exactly one block.
    """
    same: dict[tuple[int, int, int, int], list[tuple[TileWrite, np.ndarray]]] = {}
    for tw, block in blocks:
        same.setdefault((tw.group0, tw.ngroups, tw.row0, tw.row1), []).append((tw, block))
    for (g0, ng, r0, r1), tiles in same.items():
        if r0 == 0 and r1 == k:
            xin = patches[:, g0 * k:(g0 + ng) * k]
        else:
            xin = np.concatenate([patches[:, (g0 + i) * k + r0:(g0 + i) * k + r1] for i in range(ng)], axis=1)
        tiles.sort(key=lambda tb: tb[0].col0)
        wide = tiles[0][1] if len(tiles) == 1 else np.concatenate([b for _, b in tiles], axis=1)
        prod = np.asarray(xin, dtype=np.float64) @ np.asarray(wide, dtype=np.float64)
        c0, c1 = tiles[0][0].col0, tiles[-1][0].col1
        if ng == 1 and all(a[0].col1 == b[0].col0 for a, b in zip(tiles, tiles[1:])):
            out[:, g0, c0:c1] += prod
            continue
        c = 0
        for tw, block in tiles:
            part = prod[:, c:c + block.shape[1]]
            c += block.shape[1]
            out[:, g0:g0 + ng, tw.col0:tw.col1] += part.reshape(len(part), ng, tw.col1 - tw.col0)


# ---- activations --------------------------------------------------------------------------
def _clip(x: np.ndarray, act: Activation, constants: Mapping[str, np.ndarray]) -> np.ndarray:
    attrs = dict(act.attrs)
    lo = float(constants[act.inputs[0]]) if len(act.inputs) > 0 and act.inputs[0] else attrs.get("min", -np.inf)
    hi = float(constants[act.inputs[1]]) if len(act.inputs) > 1 and act.inputs[1] else attrs.get("max", np.inf)
    return np.clip(x, np.float32(lo), np.float32(hi))


def _hard_sigmoid(x: np.ndarray, alpha: float, beta: float) -> np.ndarray:
    return np.clip(np.float32(alpha) * x + np.float32(beta), 0.0, 1.0).astype(np.float32)


#: Fused activations: op type -> f(x, attrs) (Clip is handled apart, its bounds may be inputs).
ACTIVATIONS: dict[str, Callable[[np.ndarray, dict[str, float]], np.ndarray]] = {
    "Relu": lambda x, a: np.maximum(x, np.float32(0)),
    "LeakyRelu": lambda x, a: np.where(x >= 0, x, np.float32(a.get("alpha", 0.01)) * x),
    "Sigmoid": lambda x, a: (1.0 / (1.0 + np.exp(-x))).astype(np.float32),
    "HardSigmoid": lambda x, a: _hard_sigmoid(x, a.get("alpha", 0.2), a.get("beta", 0.5)),
    "HardSwish": lambda x, a: x * _hard_sigmoid(x, 1.0 / 6.0, 0.5),
    "Tanh": lambda x, a: np.tanh(x),
}


def apply_activation(x: np.ndarray, act: Activation | None, constants: Mapping[str, np.ndarray]) -> np.ndarray:
    """``x`` through the fused activation ``act`` (None: unchanged)."""
    if act is None:
        return x
    if act.op_type == "Clip":
        return _clip(x, act, constants)
    f = ACTIVATIONS.get(act.op_type)
    if f is None:
        raise ValueError(f"fused activation {act.op_type} has no kernel; known: Clip, {', '.join(ACTIVATIONS)}")
    return f(x, dict(act.attrs)).astype(np.float32, copy=False)


# ---- Conv ----------------------------------------------------------------------------------
def _conv_windows(graph: Graph, op: OpSpec, x: np.ndarray, row0: int, row1: int) -> tuple[np.ndarray, int]:
    """(windows, k): the receptive fields of output rows ``row0:row1`` (axis 2) of ``op`` over
    input ``x`` (N, C, spatial...), as a read-only strided view of shape (N, row1 - row0,
    *other output spatial dims, C, *kernel), and K, the inputs per group of one window."""
    w = graph.shape(op.inputs[1])
    y = graph.shape(op.mvm_output)
    groups = int(op.attr("group", 1))
    kernel = tuple(op.attr("kernel_shape", w[2:]))
    begin, end, strides, dil = conv_pads(graph, op)
    nsp = len(kernel)
    h = x.shape[2]
    lo = row0 * strides[0] - begin[0]
    hi = (row1 - 1) * strides[0] - begin[0] + (kernel[0] - 1) * dil[0] + 1
    part = x[:, :, max(0, lo):min(h, hi)]
    pad = [(0, 0), (0, 0), (max(0, -lo), max(0, hi - h))] + [(begin[i], end[i]) for i in range(1, nsp)]
    xp = np.ascontiguousarray(np.pad(part, pad) if any(p != (0, 0) for p in pad) else part, dtype=np.float32)
    out_sp = (row1 - row0, *y[3:])
    sn, sc, *ssp = xp.strides
    shape = (xp.shape[0], *out_sp, xp.shape[1], *kernel)
    st = (sn, *(ssp[i] * strides[i] for i in range(nsp)), sc, *(ssp[i] * dil[i] for i in range(nsp)))
    return as_strided(xp, shape=shape, strides=st, writeable=False), (xp.shape[1] // groups) * math.prod(kernel)


def _conv_vectors(graph: Graph, op: OpSpec, x: np.ndarray, v0: int, v1: int,
                  blocks: Sequence[tuple[TileWrite, np.ndarray]], acc: Accumulate) -> np.ndarray:
    """Output vectors ``v0:v1`` (`VEC`) of a Conv, (v1 - v0, M): each from its own window only."""
    y = graph.shape(op.mvm_output)
    groups = int(op.attr("group", 1))
    per_row = vector_count(y) // max(1, y[0] * y[2])
    pieces, k = [], 1
    for n, p, e, _ in vector_pieces(tuple(y), v0, v1):
        h0, h1 = p // per_row, (e - 1) // per_row + 1
        windows, k = _conv_windows(graph, op, x[n:n + 1], h0, h1)
        at = np.unravel_index(np.arange(p - h0 * per_row, e - h0 * per_row), (h1 - h0, *y[3:]))
        pieces.append(windows[(0, *at)].reshape(e - p, groups * k))
    patches = pieces[0] if len(pieces) == 1 else np.concatenate(pieces)
    out = np.zeros((v1 - v0, groups, y[1] // groups), dtype=np.float64)
    acc(patches, k, out, blocks)
    res = out.reshape(v1 - v0, y[1])
    if len(op.inputs) > 2 and op.inputs[2]:
        res = res + np.asarray(graph.constants[op.inputs[2]], dtype=np.float32).reshape(1, -1)
    return np.ascontiguousarray(apply_activation(res, op.activation, graph.constants),
                                dtype=np.float32)


# ---- ConvTranspose -------------------------------------------------------------------------
def _convtranspose_pads(graph: Graph, op: OpSpec, x: tuple[int, ...], y: tuple[int, ...],
                        kernel: tuple[int, ...], strides: list[int], dil: list[int],
                        opad: list[int]) -> list[int]:
    """Leading pad of each spatial axis: explicit pads, or the ONNX rule for output_shape / auto_pad."""
    nsp = len(kernel)
    auto = op.attr("auto_pad", "NOTSET")
    given = op.attr("output_shape", None)
    heads = []
    for i in range(nsp):
        full = strides[i] * (x[2 + i] - 1) + opad[i] + (kernel[i] - 1) * dil[i] + 1
        if given is not None:
            total = max(0, full - y[2 + i])
            heads.append(total // 2 if auto == "SAME_UPPER" else total - total // 2)
        elif auto in ("SAME_UPPER", "SAME_LOWER"):
            total = max(0, full - x[2 + i] * strides[i])
            heads.append(total // 2 if auto == "SAME_UPPER" else total - total // 2)
        elif auto == "VALID":
            heads.append(0)
        else:
            heads.append(int(op.attr("pads", (0,) * (2 * nsp))[i]))
    return heads


def _convtranspose(graph: Graph, op: OpSpec, x: np.ndarray,
                   blocks: Sequence[tuple[TileWrite, np.ndarray]], acc: Accumulate) -> np.ndarray:
    w = graph.shape(op.inputs[1])
    y = graph.shape(op.mvm_output)
    groups = int(op.attr("group", 1))
    kernel = tuple(op.attr("kernel_shape", w[2:]))
    nsp = len(kernel)
    strides = list(op.attr("strides", (1,) * nsp))
    dil = list(op.attr("dilations", (1,) * nsp))
    opad = list(op.attr("output_padding", (0,) * nsp))
    heads = _convtranspose_pads(graph, op, x.shape, y, kernel, strides, dil, opad)
    nb, c = x.shape[:2]
    in_sp = x.shape[2:]
    v = nb * math.prod(in_sp)
    k = c // groups
    m = y[1]
    vecs = np.ascontiguousarray(np.moveaxis(x, 1, -1), dtype=np.float32).reshape(v, c)
    n = (m // groups) * math.prod(kernel)
    out = np.zeros((v, groups, n), dtype=np.float64)
    acc(vecs, k, out, blocks)
    contrib = out.reshape(nb, *in_sp, m, *kernel)
    full = [max(strides[i] * (in_sp[i] - 1) + opad[i] + (kernel[i] - 1) * dil[i] + 1, heads[i] + y[2 + i])
            for i in range(nsp)]
    buf = np.zeros((nb, m, *full), dtype=np.float64)
    for off in np.ndindex(*kernel):
        sl = tuple(slice(off[i] * dil[i], off[i] * dil[i] + strides[i] * (in_sp[i] - 1) + 1, strides[i])
                   for i in range(nsp))
        piece = contrib[(slice(None),) * (1 + nsp) + (slice(None),) + off]   # (nb, *in_sp, m)
        buf[(slice(None), slice(None)) + sl] += np.moveaxis(piece, -1, 1)
    res = buf[(slice(None), slice(None)) + tuple(slice(heads[i], heads[i] + y[2 + i]) for i in range(nsp))]
    if len(op.inputs) > 2 and op.inputs[2]:
        b = np.asarray(graph.constants[op.inputs[2]], dtype=np.float32)
        res = res + b.reshape((1, -1) + (1,) * nsp)
    return np.ascontiguousarray(apply_activation(res, op.activation, graph.constants), dtype=np.float32)


# ---- Gemm / MatMul / Linear ----------------------------------------------------------------
def _gemm_rows(graph: Graph, op: OpSpec, x: np.ndarray, row0: int, row1: int,
               blocks: Sequence[tuple[TileWrite, np.ndarray]], c: np.ndarray | None, acc: Accumulate) -> np.ndarray:
    a = np.asarray(x, dtype=np.float32)
    rows = a[:, row0:row1].T if op.attr("transA", 0) else a[row0:row1]
    mat = matrix_of(graph, op)
    out = np.zeros((rows.shape[0], 1, mat.n), dtype=np.float64)
    acc(np.ascontiguousarray(rows), mat.k, out, blocks)
    res = np.float32(op.attr("alpha", 1.0)) * out[:, 0, :]
    if len(op.inputs) > 2 and op.inputs[2]:
        cval = c if c is not None else graph.constants[op.inputs[2]]
        y = graph.shape(op.mvm_output)
        cfull = np.broadcast_to(np.asarray(cval, dtype=np.float32), y)
        res = res + np.float32(op.attr("beta", 1.0)) * cfull[row0:row1]
    return np.ascontiguousarray(apply_activation(res, op.activation, graph.constants), dtype=np.float32)


def _matmul_rows(graph: Graph, op: OpSpec, x: np.ndarray, row0: int, row1: int,
                 blocks: Sequence[tuple[TileWrite, np.ndarray]], acc: Accumulate) -> np.ndarray:
    mat = matrix_of(graph, op)
    a = np.asarray(x, dtype=np.float32).reshape(-1, mat.k)
    out = np.zeros((row1 - row0, 1, mat.n), dtype=np.float64)
    acc(np.ascontiguousarray(a[row0:row1]), mat.k, out, blocks)
    res = out[:, 0, :]
    if op.op_type == "Linear" and len(op.inputs) > 2 and op.inputs[2]:
        res = res + np.asarray(graph.constants[op.inputs[2]], dtype=np.float32).reshape(1, -1)
    return np.ascontiguousarray(apply_activation(res, op.activation, graph.constants), dtype=np.float32)


def _written_rows(graph: Graph, op: OpSpec, x: np.ndarray, row0: int, row1: int,
                  blocks: Sequence[tuple[TileWrite, np.ndarray]], acc: Accumulate) -> np.ndarray:
    """Rows ``row0:row1`` (axis ndim - 2) of a crossbar-written MatMul of grouped operands
    (`ir.written`): input vector m holds row m of every group's left operand side by side."""
    mat = matrix_of(graph, op)
    y = graph.shape(op.outputs[0])
    a = np.asarray(x, dtype=np.float32).reshape(mat.groups, -1, mat.k)[:, row0:row1]
    patches = np.ascontiguousarray(a.transpose(1, 0, 2).reshape(row1 - row0, mat.groups * mat.k))
    out = np.zeros((row1 - row0, mat.groups, mat.n), dtype=np.float64)
    acc(patches, mat.k, out, blocks)
    res = out.transpose(1, 0, 2).reshape(*y[:-2], row1 - row0, mat.n)
    return np.ascontiguousarray(apply_activation(res, op.activation, graph.constants), dtype=np.float32)


def mvm_chunk(graph: Graph, op: OpSpec, x: np.ndarray, row0: int, row1: int,
              blocks: Sequence[tuple[TileWrite, np.ndarray]], *, c: np.ndarray | None = None,
              acc: Accumulate | None = None) -> np.ndarray:
    """Output rows ``row0:row1`` along the op's chunk axis, computed from crossbar ``blocks`` only.

    ``x`` is the op's whole first input (the kernel slices the rows it needs); ``blocks`` pairs
    each crossbar's `TileWrite` with the matrix it holds (`tile_block`); ``c`` is Gemm's C when it
    is not a constant.  Returns, by chunk axis: Conv (`VEC`) ``(row1-row0, M)``, output vectors
    ``row0:row1`` in (image, spatial...) order (`put_rows` stores them); Gemm
    ``(row1-row0, N)``; MatMul/Linear (FLAT) ``(row1-row0, N)`` rows of the output viewed as
    (prod(leading dims), N); a crossbar-written MatMul of grouped operands (axis ndim - 2)
    ``(*leading dims, row1-row0, N)``; ConvTranspose (WHOLE) the whole output (rows ignored).
    Weight tiles missing from ``blocks`` contribute nothing.  ``acc`` replaces the float
    accumulation of partial products (`_accumulate`'s signature; the bit-true modes of
    `targets.machine.numerics_engine` pass theirs).
    """
    ax = chunk_axis(graph, op)
    t = op.op_type
    a = acc or _accumulate
    if t == "Conv" and ax.axis == VEC:
        return _conv_vectors(graph, op, x, row0, row1, blocks, a)
    if t == "ConvTranspose":
        return _convtranspose(graph, op, x, blocks, a)
    if t == "Gemm":
        return _gemm_rows(graph, op, x, row0, row1, blocks, c, a)
    if t in ("MatMul", "Linear") and ax.axis == FLAT:
        return _matmul_rows(graph, op, x, row0, row1, blocks, a)
    if t == "MatMul" and is_written(graph, op) and ax.axis == len(graph.shape(op.outputs[0])) - 2:
        return _written_rows(graph, op, x, row0, row1, blocks, a)
    raise ValueError(f"op {op.name}: {t} with chunk axis {ax.axis} has no crossbar kernel")


# ---- vector and host ops -------------------------------------------------------------------
def dynamic_inputs(graph: Graph, op: OpSpec) -> list[str]:
    """The op's non-constant inputs (its epilogue's after its own), each once, in input order: what
    `run_op` takes."""
    out: list[str] = []
    for t in (*op.inputs, *op.extra_inputs()):
        if t and t not in graph.constants and t not in out:
            out.append(t)
    return out


def run_op(graph: Graph, op: OpSpec, inputs: Sequence[np.ndarray],
           sessions: MutableMapping[str, object] | None = None) -> list[np.ndarray]:
    """Run a vector or host op in onnxruntime; ``inputs`` follow `dynamic_inputs`.

    Returns one array per non-empty output, in output order.  ``sessions`` (owned by the caller)
    caches one inference session per op name.
    """
    import onnxruntime as ort

    from cimopt.ir.export import to_onnx

    sess = sessions.get(op.name) if sessions is not None else None
    if sess is None:
        opts = ort.SessionOptions()
        opts.log_severity_level = 3
        model = to_onnx(graph, ops=[op])
        sess = ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
        if sessions is not None:
            sessions[op.name] = sess
    names = dynamic_inputs(graph, op)
    feed = {n: np.asarray(a, dtype=graph.spec(n).dtype) for n, a in zip(names, inputs)}
    wanted = [t for t in op.outputs if t]
    return [np.asarray(r) for r in sess.run(wanted, feed)]  # type: ignore[attr-defined]
