"""Activation fusion: an activation becomes the `Activation` of the op that produces its input.

Rules
  * Activations fused (standard ONNX domain): Relu, Clip, LeakyRelu, Sigmoid, HardSigmoid,
    HardSwish, Tanh.  Clip from opset 11 on needs constant ``min``/``max`` inputs (an omitted
    ``min`` before a given ``max`` becomes a ``-inf`` constant); before opset 11 its ``min``/``max``
    attributes are kept as the activation's attributes.  Only float tensors are fused.
  * Producers (the explicit list `PRODUCERS`): Conv, ConvTranspose, Gemm, MatMul,
    ``ai.cimopt::Linear``, BatchNormalization and the elementwise arithmetic ops.  The producer
    has no activation yet, the activation reads the producer's first output, and that output
    has exactly one reader (the activation) and is not a graph output.
  * The producer takes over the activation's output name, so readers of the activation are
    untouched; the activation op and the producer's old output tensor disappear.

Preconditions: none beyond a well-formed graph; constants (Clip bounds) are in `Graph.constants`.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import ClassVar

import numpy as np

from cimopt.ir.graph import Activation, CIMOPT_DOMAIN, Graph, OpSpec
from cimopt.ir.passes.manager import PassResult, register

#: Activation op types that can be fused into their producer.
ACTIVATIONS = frozenset({"Relu", "Clip", "LeakyRelu", "Sigmoid", "HardSigmoid", "HardSwish", "Tanh"})
#: Standard-domain op types that can carry a fused activation.
PRODUCERS = frozenset({"Conv", "ConvTranspose", "Gemm", "MatMul", "BatchNormalization",
                       "Add", "Sub", "Mul", "Div", "Sum", "Max", "Min", "Mean", "Neg", "Abs"})


def _is_producer(op: OpSpec) -> bool:
    if op.domain == CIMOPT_DOMAIN:
        return op.op_type == "Linear"
    return op.domain in ("", "ai.onnx") and op.op_type in PRODUCERS


def _activation(graph: Graph, act: OpSpec) -> Activation | None:
    """The `Activation` equivalent to op ``act``, or None if it cannot be fused."""
    if act.op_type not in ACTIVATIONS or act.domain not in ("", "ai.onnx") or act.activation is not None:
        return None
    dtype = graph.spec(act.inputs[0]).dtype
    if np.dtype(dtype).kind != "f":
        return None
    if act.op_type != "Clip":
        return Activation(act.op_type, act.attrs, ())
    bounds = [t for t in act.inputs[1:3]]
    if not any(bounds):
        return Activation("Clip", act.attrs, ())
    if any(t and t not in graph.constants for t in bounds):
        return None
    while bounds and not bounds[-1]:
        bounds.pop()
    if not bounds[0]:
        low = graph.fresh_name(f"{act.name}_min")
        graph.constants[low] = np.array(-np.inf, dtype=dtype)
        bounds[0] = low
    return Activation("Clip", act.attrs, tuple(bounds))


@register
@dataclass(frozen=True)
class ActivationFusion:
    """Fuse every fusable activation into the op that produces its input (see the module rules).

    Returns the same graph, changed in place; ``modified`` is True when some activation was fused.
    """

    name: ClassVar[str] = "activation_fusion"

    def __call__(self, graph: Graph) -> PassResult:
        modified = False
        outputs = set(graph.outputs)
        for act in graph.ops():
            if act.op_type not in ACTIVATIONS or not act.inputs:
                continue
            x = act.inputs[0]
            producer = graph.producer(x)
            if producer is None or not _is_producer(producer) or producer.activation is not None:
                continue
            if producer.outputs[0] != x or x in outputs or len(graph.consumers(x)) != 1:
                continue
            fused = _activation(graph, act)
            if fused is None:
                continue
            graph.remove_op(act.name)
            graph.replace_op(replace(producer, outputs=(act.outputs[0], *producer.outputs[1:]), activation=fused))
            graph.tensors.pop(x, None)
            modified = True
        if modified:
            graph.prune_constants()
        return PassResult(graph, modified)
