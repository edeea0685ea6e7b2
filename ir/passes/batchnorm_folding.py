"""BatchNorm folding: a per-channel affine map after a weighted op is merged into its weights.

Rules
  * A *producer* is Conv, ConvTranspose, Gemm (either ``transB``), MatMul with a constant 2-D
    weight, ``ai.cimopt::Linear`` (constant weight and bias), or BatchNormalization (inference
    form), with no fused activation, whose first output has exactly one reader (the affine op
    below) and is not a graph output.  Its weight, scale and bias inputs must be constants.
  * An *affine op* is one that computes ``y * a + b`` with ``a``, ``b`` constant per output
    channel (axis 1 of Conv/ConvTranspose/BatchNormalization outputs, the last axis of
    Gemm/MatMul/Linear outputs):
      - BatchNormalization (inference: ``training_mode`` 0, only its first output read, 1-D
        constant scale/bias/mean/var): ``a = scale / sqrt(var + eps)``, ``b = bias - mean * a``;
      - Mul, Add (constant either side), Sub and Div (constant second operand, no zero divisor)
        with a constant that broadcasts over the channel axis only and does not grow the output.
  * The producer absorbs ``(a, b)``: weights scaled per output channel, bias ``b_old * a + b``
    (created when missing; MatMul becomes Linear with that bias; Gemm's ``C`` becomes
    ``beta*C*a + b`` with ``beta = 1``; a BatchNormalization producer gets ``scale*a`` and
    ``bias*a + b``).  It takes over the affine op's output name and fused activation, and the
    affine op is removed.  Training-mode Dropout-like side outputs are never dropped.
  * Arithmetic is done in float64 and cast back to the weight's dtype; new constants get
    fresh names (constant arrays that other ops read are never changed).

Preconditions: weights are in `Graph.constants` (run constant folding first) and the shapes of
the producer outputs are known (`ir.load` infers them).
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import ClassVar

import numpy as np

from cimopt.ir.graph import CIMOPT_DOMAIN, Graph, OpSpec
from cimopt.ir.passes.manager import PassResult, register

#: Producers whose weights can absorb a per-channel affine map.
PRODUCERS = frozenset({"Conv", "ConvTranspose", "Gemm", "MatMul", "Linear", "BatchNormalization"})
#: Ops that apply a per-channel affine map to their (first) input.
AFFINE_OPS = frozenset({"BatchNormalization", "Mul", "Add", "Sub", "Div"})


def _const(graph: Graph, name: str) -> np.ndarray | None:
    return graph.constants.get(name) if name else None


def _is_float(a: np.ndarray) -> bool:
    return a.dtype.kind == "f"


def _channel_axis(graph: Graph, op: OpSpec) -> int | None:
    """The axis of ``op``'s first output that holds its output channels (None if unusable)."""
    spec = graph.spec(op.outputs[0])
    if not spec.known:
        return None
    assert spec.shape is not None
    rank = len(spec.shape)
    if op.op_type in ("Conv", "ConvTranspose", "BatchNormalization"):
        return 1 if rank >= 2 else None
    return rank - 1 if rank >= 1 else None


def _producer_ok(graph: Graph, op: OpSpec) -> bool:
    """Whether ``op`` is a producer whose weights are constants and can absorb an affine map."""
    if op.op_type not in PRODUCERS or op.activation is not None:
        return False
    expected_domains = (CIMOPT_DOMAIN,) if op.op_type == "Linear" else ("", "ai.onnx")
    if op.domain not in expected_domains:
        return False
    ins = op.inputs
    if op.op_type in ("Conv", "ConvTranspose"):
        w = _const(graph, ins[1])
        if w is None or not _is_float(w) or w.ndim < 3:
            return False
        return len(ins) < 3 or not ins[2] or _const(graph, ins[2]) is not None
    if op.op_type == "Gemm":
        w = _const(graph, ins[1])
        if w is None or not _is_float(w) or w.ndim != 2:
            return False
        return len(ins) < 3 or not ins[2] or _const(graph, ins[2]) is not None
    if op.op_type in ("MatMul", "Linear"):
        w = _const(graph, ins[1])
        if w is None or not _is_float(w) or w.ndim != 2:
            return False
        spec = graph.spec(op.outputs[0])
        if not spec.known or not spec.shape:
            return False
        return op.op_type == "MatMul" or len(ins) < 3 or not ins[2] or _const(graph, ins[2]) is not None
    return _bn_params(graph, op) is not None


def _bn_params(graph: Graph, op: OpSpec) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
    """(scale, bias, mean, var) of an inference-form BatchNormalization, or None."""
    if op.op_type != "BatchNormalization" or op.attr("training_mode", 0) or len(op.inputs) != 5:
        return None
    if op.attr("spatial", 1) != 1:
        return None
    if any(t and (t in graph.outputs or graph.consumers(t)) for t in op.outputs[1:]):
        return None
    params = [_const(graph, t) for t in op.inputs[1:]]
    if any(p is None or p.ndim != 1 or not _is_float(p) for p in params):
        return None
    scale, bias, mean, var = params  # type: ignore[misc]
    if len({p.shape for p in params if p is not None}) != 1:
        return None
    return scale, bias, mean, var  # type: ignore[return-value]


def _per_channel(c: np.ndarray, out_shape: tuple[int, ...], axis: int) -> np.ndarray | None:
    """``c`` as a vector over the channel axis when it broadcasts over that axis only, else None."""
    rank = len(out_shape)
    if c.ndim > rank:
        return None
    full = (1,) * (rank - c.ndim) + tuple(c.shape)
    channels = out_shape[axis]
    for i, d in enumerate(full):
        if d != 1 and not (i == axis and d == channels):
            return None
    return np.broadcast_to(c.astype(np.float64).reshape(-1), (channels,)) if c.size == 1 else \
        c.astype(np.float64).reshape(-1)


def _affine(graph: Graph, producer: OpSpec, op: OpSpec) -> tuple[np.ndarray, np.ndarray] | None:
    """``(a, b)`` per channel such that ``op`` computes ``y * a + b`` of the producer's output y."""
    y = producer.outputs[0]
    axis = _channel_axis(graph, producer)
    if axis is None or op.domain not in ("", "ai.onnx"):
        return None
    if any(t and t != op.outputs[0] and (t in graph.outputs or graph.consumers(t)) for t in op.outputs[1:]):
        return None
    shape = graph.spec(y).shape
    assert shape is not None
    channels = shape[axis]
    dtype = graph.spec(y).dtype
    if op.op_type == "BatchNormalization":
        if op.inputs[0] != y or axis != 1:
            return None
        p = _bn_params(graph, op)
        if p is None or p[0].shape != (channels,):
            return None
        scale, bias, mean, var = (v.astype(np.float64) for v in p)
        a = scale / np.sqrt(var + float(op.attr("epsilon", 1e-5)))
        return a, bias - mean * a
    if len(op.inputs) != 2 or (graph.opsets.get("", 17) < 7 and op.attr("broadcast", 0)):
        return None
    other_i = 1 if op.inputs[0] == y else 0
    if op.inputs[1 - other_i] != y or op.inputs[other_i] == y:
        return None
    c = _const(graph, op.inputs[other_i])
    if c is None or c.dtype.name != dtype:
        return None
    v = _per_channel(c, shape, axis)
    if v is None:
        return None
    ones, zeros = np.ones(channels), np.zeros(channels)
    if op.op_type == "Mul":
        return v, zeros
    if op.op_type == "Add":
        return ones, v
    if other_i != 1:
        return None
    if op.op_type == "Sub":
        return ones, -v
    if op.op_type == "Div" and np.all(v != 0):
        return 1.0 / v, zeros
    return None


def _new_const(graph: Graph, base: str, value: np.ndarray, dtype: np.dtype) -> str:
    name = graph.fresh_name(base)
    graph.constants[name] = np.ascontiguousarray(value.astype(dtype))
    return name


def _absorb(graph: Graph, p: OpSpec, a: np.ndarray, b: np.ndarray) -> OpSpec:
    """``p`` changed so that it computes ``p(x) * a + b`` per output channel."""
    ins = list(p.inputs)
    if p.op_type == "BatchNormalization":
        scale, bias = graph.constants[ins[1]], graph.constants[ins[2]]
        ins[1] = _new_const(graph, f"{p.name}_scale", scale.astype(np.float64) * a, scale.dtype)
        ins[2] = _new_const(graph, f"{p.name}_bias", bias.astype(np.float64) * a + b, bias.dtype)
        return replace(p, inputs=tuple(ins))
    w = graph.constants[ins[1]]
    w64 = w.astype(np.float64)
    old_b = _const(graph, ins[2]) if len(ins) > 2 else None
    if p.op_type == "Conv":
        w_new = w64 * a.reshape((-1,) + (1,) * (w.ndim - 1))
    elif p.op_type == "ConvTranspose":
        g = int(p.attr("group", 1))
        m = w.shape[1]
        w_new = (w64.reshape((g, w.shape[0] // g, m) + w.shape[2:])
                 * a.reshape((g, 1, m) + (1,) * (w.ndim - 2))).reshape(w.shape)
    elif p.op_type == "Gemm" and p.attr("transB", 0):
        w_new = w64 * a[:, None]
    else:
        w_new = w64 * a[None, :]
    ins[1] = _new_const(graph, f"{p.name}_weight", w_new, w.dtype)
    attrs = p.attrs
    if p.op_type == "Gemm":
        c = 0.0 if old_b is None else float(p.attr("beta", 1.0)) * old_b.astype(np.float64)
        b_new = np.asarray(c * a + b)
        if p.attr("beta", 1.0) != 1.0:
            attrs = p.with_attrs(beta=1.0).attrs
    else:
        b_new = b if old_b is None else old_b.astype(np.float64) * a + b
    bias = _new_const(graph, f"{p.name}_bias", b_new, w.dtype)
    if len(ins) > 2:
        ins[2] = bias
    else:
        ins.append(bias)
    if p.op_type == "MatMul":
        return replace(p, op_type="Linear", domain=CIMOPT_DOMAIN, inputs=tuple(ins), attrs=())
    return replace(p, inputs=tuple(ins), attrs=attrs)


@register
@dataclass(frozen=True)
class BatchNormFolding:
    """Merge every foldable per-channel affine op into the weights of the op before it.

    Returns the same graph, changed in place; ``modified`` is True when some op was folded.
    """

    name: ClassVar[str] = "batchnorm_folding"

    def __call__(self, graph: Graph) -> PassResult:
        modified = False
        for op in graph.ops():
            if op.op_type not in AFFINE_OPS or op.name not in graph.dag:
                continue
            op = graph.op(op.name)
            for t in op.inputs[:2]:
                producer = graph.producer(t) if t else None
                if producer is None or not _producer_ok(graph, producer):
                    continue
                y = producer.outputs[0]
                if y != t or y in graph.outputs or len(graph.consumers(y)) != 1:
                    continue
                ab = _affine(graph, producer, op)
                if ab is None:
                    continue
                new = _absorb(graph, producer, *ab)
                graph.remove_op(op.name)
                graph.replace_op(replace(new, outputs=(op.outputs[0], *new.outputs[1:]), activation=op.activation))
                graph.tensors.pop(y, None)
                modified = True
                break
        if modified:
            graph.prune_constants()
        return PassResult(graph, modified)
