"""Legalisation: decide which unit of the chip runs each op (crossbar, vector unit or host).

Rules, in order:
1. An op outside the standard ONNX domains (and not cimopt's own) is an error that lists
   every such op and type.
2. VECTOR: a matrix op with an empty weight or no output element (nothing to program into
   a crossbar: its output is its bias, zeros or empty).
3. CROSSBAR: Conv and ConvTranspose with a constant weight; Gemm with a constant B and a
   dynamic A; MatMul with a constant 2-D right operand; cimopt's Linear; in each case any bias
   (third input) constant too.
4. VECTOR: elementwise ops, pooling, softmax, normalisations, resize, concat/split,
   reshape-like ops, reductions, embedding Gather; a MatMul of two activations (attention's
   Q.K^T) when the target's vector unit can run it (``vector_matmul``).
5. HOST: every other standard op, when the target has a host;
6. A crossbar op's constant weight must be finite: a NaN or Inf is a `ModelError` naming the
   tensor and the op (no crossbar cell holds it; elsewhere non-finite constants are legal).
7. CROSSBAR: a MatMul of two activations neither the vector unit nor a host can run, when the
   target may write run-time operands into crossbars (``runtime_writes``) and its shapes allow
   it (`ir.written`); otherwise an `UnsupportedOperatorError` listing every op no unit can run.

Where a MatMul of two activations finally runs (crossbars, vector units or host) is the cost
model's choice after legalisation (`cimopt.cost.matmul_units`), applied by the `assign_units`
pass; these rules give every op a unit.

Precondition: constants folded (weights are in ``graph.constants``).
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import ClassVar

from cimopt.ir.errors import ModelError, UnsupportedOperatorError
from cimopt.ir.graph import CIMOPT_DOMAIN, Graph, OpClass, OpSpec, STANDARD_DOMAINS
from cimopt.ir.passes.manager import PassResult, register
from cimopt.ir.validate import crossbar_weight_error
from cimopt.ir.written import written_geometry

#: Ops a CIM core's vector unit runs (elementwise, pooling, normalisation, data movement).
VECTOR_OPS = frozenset({
    # elementwise
    "Add", "Sub", "Mul", "Div", "Pow", "Sqrt", "Reciprocal", "Neg", "Abs", "Exp", "Log", "Erf", "Tanh",
    "Sigmoid", "HardSigmoid", "HardSwish", "Relu", "LeakyRelu", "PRelu", "Clip", "Elu", "Selu", "Celu",
    "Gelu", "Softplus", "Softsign", "Mish", "Max", "Min", "Sum", "Mean", "Floor", "Ceil", "Round", "Sign",
    "Where", "Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual", "Not", "And", "Or", "Cast",
    "ThresholdedRelu", "Sin", "Cos",
    # pooling, normalisation, softmax
    "MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool", "LpPool", "Softmax", "LogSoftmax",
    "LayerNormalization", "BatchNormalization", "InstanceNormalization", "GroupNormalization", "LRN",
    "ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL2", "ReduceSumSquare",
    "ArgMax", "ArgMin",
    # data movement
    "Resize", "Upsample", "Concat", "Split", "Slice", "Reshape", "Flatten", "Squeeze", "Unsqueeze",
    "Transpose", "Identity", "Dropout", "Pad", "Expand", "Tile", "Gather", "DepthToSpace", "SpaceToDepth",
    "Shape", "Size",
})


def _crossbar(graph: Graph, op: OpSpec) -> bool:
    c = graph.constants
    t = op.op_type
    if len(op.inputs) > 2 and op.inputs[2] and op.inputs[2] not in c:
        return False  # a bias computed at run time: not an MVM of constant weights plus a constant
    if op.domain == CIMOPT_DOMAIN and t == "Linear":
        return True
    if op.domain not in ("", "ai.onnx"):
        return False
    if t in ("Conv", "ConvTranspose"):
        return len(op.inputs) > 1 and op.inputs[1] in c and op.inputs[0] not in c
    if t == "Gemm":
        return op.inputs[1] in c and op.inputs[0] not in c
    if t == "MatMul":
        return op.inputs[1] in c and op.inputs[0] not in c and c[op.inputs[1]].ndim == 2
    return False


def _empty_product(graph: Graph, op: OpSpec) -> bool:
    """A matrix op with nothing to multiply: an empty constant weight, or no output element
    (legal ONNX: its output is its bias broadcast, zeros, or empty, as the vector unit writes it)."""
    if op.op_type not in ("Conv", "ConvTranspose", "Gemm", "MatMul", "Linear") or len(op.inputs) < 2:
        return False
    w = graph.constants.get(op.inputs[1])
    outs = [graph.spec(t) for t in op.outputs if t]
    return (w is not None and w.size == 0) or any(s.known and s.elements == 0 for s in outs)


def classify(graph: Graph, op: OpSpec, *, vector_matmul: bool, has_host: bool,
             runtime_writes: bool = False) -> OpClass | None:
    """The unit that runs ``op``; None when no unit can (custom domain, or host op without a host)."""
    if op.domain not in STANDARD_DOMAINS and op.domain != CIMOPT_DOMAIN:
        return None
    if _empty_product(graph, op):
        return OpClass.VECTOR
    if _crossbar(graph, op):
        return OpClass.CROSSBAR
    if op.domain in ("", "ai.onnx") and op.op_type in VECTOR_OPS:
        return OpClass.VECTOR
    if op.domain in ("", "ai.onnx") and op.op_type == "MatMul" and vector_matmul:
        return OpClass.VECTOR
    if has_host:
        return OpClass.HOST
    return OpClass.CROSSBAR if runtime_writes and written_geometry(graph, op) is not None else None


@register
@dataclass(frozen=True)
class Legalize:
    """Set ``op_class`` on every op; raise UnsupportedOperatorError listing all ops nothing can run,
    and ModelError for a crossbar op whose constant weight no crossbar cell can hold (NaN or Inf)."""

    name: ClassVar[str] = "legalize"
    vector_matmul: bool
    has_host: bool
    runtime_writes: bool = False

    def __call__(self, graph: Graph) -> PassResult:
        vector_matmul, has_host, runtime_writes = self.vector_matmul, self.has_host, self.runtime_writes
        bad: list[OpSpec] = []
        modified = False
        for op in graph.ops():
            cls = classify(graph, op, vector_matmul=vector_matmul, has_host=has_host, runtime_writes=runtime_writes)
            if cls is OpClass.CROSSBAR and op.inputs[1] in graph.constants:
                why = crossbar_weight_error(op, op.inputs[1], graph.constants[op.inputs[1]])
                if why:
                    raise ModelError(why)
            if cls is None:
                bad.append(op)
            elif cls is not op.op_class:
                graph.replace_op(replace(op, op_class=cls))
                modified = True
        if bad:
            custom = [op for op in bad if op.domain not in STANDARD_DOMAINS]
            listed = ", ".join(f"{op.name} ({op.domain + '::' if op.domain else ''}{op.op_type})" for op in bad[:20])
            more = f" and {len(bad) - 20} more" if len(bad) > 20 else ""
            why = ("outside the standard ONNX domains" if custom else
                   "which neither the crossbars nor the vector unit run, and the target has no host")
            raise UnsupportedOperatorError(f"{len(bad)} op(s) {why}: {listed}{more}; "
                                           "use a target with a [host] or export the model without them")
        return PassResult(graph, modified)
