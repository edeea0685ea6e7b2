"""Constant folding: ops whose result does not depend on the graph inputs become constants.

Rules
  * An op in a standard ONNX domain (or ``ai.cimopt::Linear``) whose inputs, including the
    inputs of a fused activation, are all in `Graph.constants` is evaluated; its outputs go to
    `Graph.constants` and the op is removed.  Ops with no inputs (``Constant``) count too.
  * ``Shape`` and ``Size`` of any tensor with a known static shape fold, constant or not.
  * Common shape-arithmetic ops (the Shape/Gather/Unsqueeze/Concat/Reshape chains PyTorch
    exports, ConstantOfShape weights, Cast, Slice, Range, elementwise arithmetic, ...) are
    evaluated in numpy; any other op is run as a one-node model in onnxruntime.
  * Never folded: random ops (RandomNormal, RandomUniform, *Like, Multinomial, Bernoulli),
    Dropout in training mode, ops with graph attributes (If, Loop, Scan), sequence and
    optional ops, ops of other domains, and ops onnxruntime cannot run on their own (they are
    left as they are).
  * An output that is also a graph output keeps its name: the value becomes a constant under
    a fresh name, read by an ``Identity`` that produces the graph output (an ``Identity`` of a
    constant that produces a graph output is therefore itself never folded).

Preconditions: the graph's op order is topological (as `Graph.ops` gives it).  Constants that
nothing reads any more are dropped (`Graph.prune_constants`) when the pass changed the graph.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from collections.abc import Sequence

import numpy as np
import onnx
from onnx import helper, numpy_helper

from cimopt.ir.export import op_nodes
from cimopt.ir.graph import CIMOPT_DOMAIN, Graph, OpSpec, STANDARD_DOMAINS, TensorSpec
from cimopt.ir.passes.fold_eval import Arrays, evaluate_linear, EVALUATORS, shape_value
from cimopt.ir.passes.manager import PassResult, register

#: Op types whose result is random: never folded.
NONDETERMINISTIC = frozenset({"RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike",
                              "Multinomial", "Bernoulli"})
#: Op types with subgraphs, or with sequence/optional values, that the pass does not evaluate.
NOT_FOLDED = frozenset({"If", "Loop", "Scan", "SplitToSequence"})
NOT_FOLDED_PREFIXES = ("Sequence", "Optional")

# ---- onnxruntime fallback --------------------------------------------------------------------

def _run_onnxruntime(graph: Graph, op: OpSpec) -> list[np.ndarray] | None:
    """Outputs of ``op`` (with its fused activation) on constant inputs, from onnxruntime.

    Returns None when onnxruntime cannot run the op on its own; the op then stays unfolded.
    """
    import onnxruntime as ort

    nodes = op_nodes(op)
    read = [t for n in nodes for t in n.input if t and t in graph.constants]
    # np.require keeps 0-d arrays 0-d (np.ascontiguousarray would make them 1-d)
    inits = [numpy_helper.from_array(np.require(graph.constants[t], requirements="C"), t) for t in dict.fromkeys(read)]
    outs = [t for t in op.outputs if t]
    g = helper.make_graph(nodes, "fold", [], [helper.make_empty_tensor_value_info(t) for t in outs], inits)
    opsets = [helper.make_opsetid(d, v) for d, v in sorted(graph.opsets.items()) if d != CIMOPT_DOMAIN]
    if not any(o.domain in ("", "ai.onnx") for o in opsets):
        opsets.append(helper.make_opsetid("", 17))
    model = helper.make_model(g, opset_imports=opsets, producer_name="cimopt")
    model.ir_version = max(7, helper.find_min_ir_version_for(opsets, True))
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    options.log_severity_level = 4
    try:
        sess = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
        values = sess.run(outs, {})
    except Exception:  # noqa: BLE001 - onnxruntime raises its own unrelated types; the op stays as it is
        return None
    got = iter(values)
    return [np.asarray(next(got)) if t else np.empty(0) for t in op.outputs]


# ---- the pass --------------------------------------------------------------------------------

def _foldable(graph: Graph, op: OpSpec) -> bool:
    """Whether ``op`` is deterministic and of a kind the pass evaluates (inputs not checked)."""
    if op.op_type in NONDETERMINISTIC or op.op_type in NOT_FOLDED or op.op_type.startswith(NOT_FOLDED_PREFIXES):
        return False
    if op.op_type == "Dropout" and len(op.inputs) > 2 and op.inputs[2]:
        training = graph.constants.get(op.inputs[2])
        if training is None or bool(training.reshape(-1)[0]):
            return False
    if op.domain == CIMOPT_DOMAIN:
        return op.op_type == "Linear"
    if op.domain not in STANDARD_DOMAINS:
        return False
    return not any(isinstance(v, onnx.GraphProto) or (isinstance(v, tuple) and v and isinstance(v[0], onnx.GraphProto))
                   for _, v in op.attrs)


def _apply_activation(op: OpSpec, outs: list[np.ndarray]) -> list[np.ndarray] | None:
    """``outs`` with the op's fused activation applied to the first output (only Relu in numpy)."""
    act = op.activation
    if act is None:
        return outs
    if act.op_type == "Relu" and outs[0].dtype.kind == "f":
        return [np.maximum(outs[0], 0).astype(outs[0].dtype), *outs[1:]]
    return None


def _evaluate(graph: Graph, op: OpSpec, opset: int) -> list[np.ndarray] | None:
    """The output values of ``op`` when its inputs are constants, or None if it cannot be folded."""
    xs: Arrays = [graph.constants[t] if t else None for t in op.inputs]
    ev = EVALUATORS.get(op.op_type) if op.domain in ("", "ai.onnx") else \
        (evaluate_linear if op.domain == CIMOPT_DOMAIN and op.op_type == "Linear" else None)
    if ev is not None:
        outs = ev(op, xs, opset)
        if outs is not None:
            with_act = _apply_activation(op, outs)
            if with_act is not None:
                return with_act
    return _run_onnxruntime(graph, op)


def _static_shape_value(graph: Graph, op: OpSpec) -> np.ndarray | None:
    """The value of a Shape/Size op whose input has a known static shape, or of a CastLike of a
    constant (it needs only the dtype of its second input, which is known)."""
    if op.domain not in ("", "ai.onnx") or op.activation is not None:
        return None
    if op.op_type == "CastLike" and op.inputs[0] in graph.constants:
        like = graph.spec(op.inputs[1])
        if like.shape is None and op.inputs[1] not in graph.constants and op.inputs[1] not in graph.tensors:
            return None
        return np.asarray(graph.constants[op.inputs[0]]).astype(like.dtype)
    if op.op_type not in ("Shape", "Size"):
        return None
    spec = graph.spec(op.inputs[0])
    if not spec.known:
        return None
    assert spec.shape is not None
    if op.op_type == "Size":
        return np.array(int(np.prod(spec.shape, dtype=np.int64)), dtype=np.int64)
    return shape_value(spec.shape, op)


def _store(graph: Graph, op: OpSpec, values: Sequence[np.ndarray]) -> None:
    """Replace ``op`` by constants; graph outputs are kept by an Identity of a fresh constant."""
    graph.remove_op(op.name)
    outputs = set(graph.outputs)
    for t, v in zip(op.outputs, values):
        if not t:
            continue
        v = np.asarray(v)
        if t in outputs:
            c = graph.fresh_name(f"{t}__const")
            graph.constants[c] = v
            graph.tensors.pop(t, None)
            kept = list(graph.outputs)
            graph.replace_uses(t, c)  # readers get the constant; the graph output keeps its name
            graph.outputs = kept
            graph.add_op(OpSpec(graph.fresh_name(f"{op.name}__keep"), "Identity", (c,), (t,)))
            graph.tensors[t] = TensorSpec(t, tuple(int(d) for d in v.shape), v.dtype.name)
        else:
            graph.tensors.pop(t, None)
            graph.constants[t] = v


@register
@dataclass(frozen=True)
class ConstantFolding:
    """Fold every deterministic op whose value is known before the graph runs (see the module rules).

    Returns the same graph, changed in place; ``modified`` is True when some op was folded.
    """

    name: ClassVar[str] = "constant_folding"

    def __call__(self, graph: Graph) -> PassResult:
        opset = graph.opsets.get("", graph.opsets.get("ai.onnx", 17))
        outputs = set(graph.outputs)
        modified = False
        for op in graph.ops():
            op = graph.op(op.name)  # readers of a folded graph output were rewired to its constant
            if op.op_type == "Identity" and op.inputs[0] in graph.constants and any(t in outputs for t in op.outputs):
                continue
            value = _static_shape_value(graph, op)
            if value is not None:
                _store(graph, op, [value])
                modified = True
                continue
            if not _foldable(graph, op):
                continue
            act_inputs = op.activation.inputs if op.activation is not None else ()
            if not all(not t or t in graph.constants for t in (*op.inputs, *act_inputs)):
                continue
            values = _evaluate(graph, op, opset)
            if values is None:
                continue
            _store(graph, op, values)
            modified = True
        if modified:
            graph.prune_constants()
        return PassResult(graph, modified)
