"""Semantic validation of an ONNX model before cimopt builds anything from it.

`check_text`, `check_structure`, `check_weights`, `check_input_sizes` and `check_semantics`
refuse, with a `ModelError` (or `ShapeError` for sizes) naming the node or tensor and the
reason, what would otherwise crash later or compute nonsense:

* a name or string that is not valid UTF-8 (a damaged file);
* a graph with no outputs; an opset newer than the installed onnx knows;
* an initialiser or Constant whose data cannot be read (a size that disagrees with its dims);
* a graph input or initialiser larger than `MAX_ELEMENTS` elements (checked before any shape
  inference, which would otherwise try to materialise it);
* what the full ONNX checker, strict ONNX shape inference and an onnxruntime session reject
  (an axis out of range, inconsistent shapes, ...).

`check_ops` then checks, on the shape-inferred graph, what none of those catch before running:
weights inconsistent with the input of the crossbar ops (Conv channels and groups, Gemm/MatMul
inner dims).

The line between the two sides is the one onnxruntime draws: what the ONNX spec and onnxruntime
accept is accepted.  An empty tensor (a dim of 0: Resize's "no roi", an unused Constant) and a
NaN or Inf constant (``-inf`` as the identity of Max, an attention mask, Clip's open bounds)
are legal ONNX and pass.  What the chip cannot hold is refused where it is used: a NaN or Inf
that would become a crossbar weight (`crossbar_weight_error`, asked by legalisation, which is
where an op is put on the crossbars), naming the tensor, the op and the reason.
"""
from __future__ import annotations

import re
from collections.abc import Iterable

import numpy as np
import onnx
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message
from onnx import numpy_helper

from cimopt.ir.errors import ModelError, ShapeError
from cimopt.ir.graph import CIMOPT_DOMAIN, Graph, OpSpec, TensorSpec
from cimopt.ir.skeleton import skeleton

#: Largest tensor cimopt accepts, in elements (2^31: 8 GiB of float32).
MAX_ELEMENTS = 1 << 31

#: onnxruntime's source location and C++ signature in its messages ("/onnxruntime_src/x.cc:235
#: ns::f(args)::<lambda()> "): where in its code, not what is wrong with the model
_ORT_SOURCE = re.compile(r"/onnxruntime_src/\S+:\d+ (?:[\w:&<>,*~ ]+?\([^)]*\)(?:::<lambda\(\)>)?(?: const)? )?")


def _first_line(e: BaseException, limit: int = 240) -> str:
    text = str(e).strip()
    line = next((ln.strip() for ln in text.splitlines() if ln.strip()), type(e).__name__)
    return line[:limit]


def _elements(dims: Iterable[int]) -> int:
    n = 1
    for d in dims:
        n *= int(d)
    return n


def check_structure(proto: onnx.ModelProto, where: str) -> None:
    """Outputs present, opsets known (raises `ModelError`)."""
    g = proto.graph
    if not g.output:
        raise ModelError(f"{where}: the graph has no outputs; export the model with its output tensors")
    known = onnx.defs.onnx_opset_version()
    for o in proto.opset_import:
        if o.domain in ("", "ai.onnx") and o.version > known:
            raise ModelError(f"{where}: the model imports ONNX opset {o.version}, newer than the {known} the "
                             f"installed onnx knows; export with opset <= {known}")


def _constants(g: onnx.GraphProto) -> Iterable[tuple[str, onnx.TensorProto]]:
    """(who, tensor) for every initialiser and Constant value of ``g`` and its subgraphs."""
    for t in g.initializer:
        yield f"initializer {t.name!r}", t
    for i, n in enumerate(g.node):
        for a in n.attribute:
            if a.HasField("t"):
                yield f"node {n.name or f'#{i}'} ({n.op_type}) attribute {a.name}", a.t
            if a.HasField("g"):
                yield from _constants(a.g)
            for sub in a.graphs:
                yield from _constants(sub)


def check_weights(proto: onnx.ModelProto, where: str) -> None:
    """Every constant is readable (its data agrees with its dims) and has at most `MAX_ELEMENTS`
    elements.  Empty and non-finite constants are legal ONNX and pass (see the module docstring).

    Tensors whose data lives in an external file not loaded are checked for their dims only.
    """
    for who, t in _constants(proto.graph):
        dims = [int(d) for d in t.dims]
        if _elements(dims) > MAX_ELEMENTS:
            readers = [f"{n.name or f'#{i}'} ({n.op_type})" for i, n in enumerate(proto.graph.node)
                       if t.name and t.name in n.input]
            used = f", read by node {', '.join(readers[:3])}," if readers else ""
            raise ShapeError(f"{where}: {who}{used} has {_elements(dims)} elements, more than the {MAX_ELEMENTS} "
                             "cimopt handles")
        if t.HasField("data_location") and t.data_location == onnx.TensorProto.EXTERNAL:
            continue
        if t.data_type in (onnx.TensorProto.STRING, onnx.TensorProto.UNDEFINED):
            continue
        try:  # also what a data size that disagrees with the dims raises
            numpy_helper.to_array(t)
        except Exception as e:  # noqa: BLE001 - onnx raises several types for malformed tensors
            raise ModelError(f"{where}: {who} cannot be read: {_first_line(e)}") from None


def crossbar_weight_error(op: OpSpec, weight: str, value: np.ndarray) -> str | None:
    """Why ``value`` (the constant ``weight`` of ``op``) cannot be programmed into crossbar cells,
    or None when it can: a cell holds a finite conductance, so a NaN or Inf cannot be a weight."""
    if value.dtype.kind not in "fc":
        return None
    bad = ~np.isfinite(value)
    if not bad.any():
        return None
    idx = np.unravel_index(int(np.argmax(bad)), value.shape) if value.ndim else ()
    return (f"{_where(op)}: its weight {weight!r} holds {int(bad.sum())} non-finite value(s) (NaN or Inf, the first "
            f"at index {tuple(int(i) for i in idx)}); a crossbar cell holds a finite conductance, so this op cannot "
            "run on the crossbars: fix or re-export the weights")


def check_input_sizes(proto: onnx.ModelProto, where: str) -> None:
    """Every graph input with static dims has at most `MAX_ELEMENTS` elements (raises `ShapeError`)."""
    for vi in proto.graph.input:
        t = vi.type.tensor_type
        if not vi.type.HasField("tensor_type") or not t.HasField("shape"):
            continue
        dims = [d.dim_value for d in t.shape.dim if d.HasField("dim_value") and d.dim_value > 0]
        n = _elements(dims)
        if n > MAX_ELEMENTS:
            shape = "x".join(str(d) for d in dims)
            raise ShapeError(f"{where}: input {vi.name!r} of shape {shape} has {n} elements, more than the "
                             f"{MAX_ELEMENTS} cimopt handles; give a smaller size with --input-shape")


def check_tensor_sizes(specs: Iterable[TensorSpec], where: str) -> None:
    """Every tensor with a static shape has at most `MAX_ELEMENTS` elements (raises `ShapeError`)."""
    for s in specs:
        if s.shape is not None and _elements(s.shape) > MAX_ELEMENTS:
            raise ShapeError(f"{where}: tensor {s.name!r} of shape {'x'.join(map(str, s.shape))} would have "
                             f"{_elements(s.shape)} elements, more than the {MAX_ELEMENTS} cimopt handles; "
                             "give smaller input sizes")


def check_semantics(proto: onnx.ModelProto, where: str) -> None:
    """What the full ONNX checker (with strict shape inference) and an onnxruntime session reject.

    ``proto`` must hold its inputs' sizes. Both checks run on its `skeleton` (large weights as
    typed inputs): they need types and shapes, not values, which `check_weights` checks.
    """
    proto = skeleton(proto)
    try:
        onnx.checker.check_model(proto, full_check=True)
    except Exception as e:  # noqa: BLE001 - ValidationError, InferenceError and others
        raise ModelError(f"{where}: the ONNX checker rejects the model: {_first_line(e)}") from None
    if any(n.domain == CIMOPT_DOMAIN for n in proto.graph.node):
        return
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.log_severity_level = 4
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    try:
        ort.InferenceSession(proto.SerializeToString(), so, providers=["CPUExecutionProvider"])
    except Exception as e:  # noqa: BLE001 - onnxruntime raises its own types
        msg = _ORT_SOURCE.sub("", _first_line(e, 600))
        for marker in ("failed:", "FAIL : "):
            if marker in msg:
                msg = msg.split(marker)[-1].strip()
        raise ModelError(f"{where}: onnxruntime rejects the model: {msg[:240]}") from None


def _where(op: OpSpec) -> str:
    return f"node {op.name} ({op.op_type})"


def _check_conv(graph: Graph, op: OpSpec) -> None:
    x, w = graph.spec(op.inputs[0]).shape, graph.spec(op.inputs[1]).shape
    if x is None or w is None:
        return
    g = int(op.attr("group", 1))
    if g < 1:
        raise ModelError(f"{_where(op)}: group {g}; expected a positive integer")
    if len(w) != len(x) or len(x) < 3:
        raise ModelError(f"{_where(op)}: weight of rank {len(w)} for an input of rank {len(x)}")
    transposed = op.op_type == "ConvTranspose"
    cin = w[0] if transposed else w[1] * g
    if x[1] != cin:
        raise ModelError(f"{_where(op)}: input has {x[1]} channels, the weight {tuple(w)} with group {g} "
                         f"expects {cin}")
    if (w[0] % g) or (x[1] % g):
        raise ModelError(f"{_where(op)}: group {g} does not divide the channels (input {x[1]}, weight {w[0]})")
    if len(op.inputs) > 2 and op.inputs[2]:
        b = graph.spec(op.inputs[2]).shape
        cout = w[1] * g if transposed else w[0]
        if b is not None and tuple(b) != (cout,):
            raise ModelError(f"{_where(op)}: bias of shape {tuple(b)}, expected ({cout},)")


def _check_matmul(graph: Graph, op: OpSpec) -> None:
    a, b = graph.spec(op.inputs[0]).shape, graph.spec(op.inputs[1]).shape
    if a is None or b is None or not a or not b:
        return
    if op.op_type == "Gemm":
        if len(a) != 2 or len(b) != 2:
            raise ModelError(f"{_where(op)}: inputs of rank {len(a)} and {len(b)}, expected 2 and 2")
        k1 = a[0] if op.attr("transA", 0) else a[1]
        k2 = b[1] if op.attr("transB", 0) else b[0]
    else:
        k1, k2 = a[-1], (b[-2] if len(b) >= 2 else b[0])
    if k1 != k2:
        raise ModelError(f"{_where(op)}: inner dims differ ({tuple(a)} x {tuple(b)}: {k1} vs {k2})")


def check_ops(graph: Graph, where: str) -> None:
    """The weight shapes of the ops cimopt computes on crossbars agree with their inputs:
    Conv/ConvTranspose channels and groups, Gemm/MatMul inner dims (raises `ModelError`
    naming the node and the reason).  Needs inferred shapes."""
    for op in graph.ops():
        if op.domain not in ("", "ai.onnx") or len(op.inputs) < 2:
            continue
        try:
            if op.op_type in ("Conv", "ConvTranspose"):
                _check_conv(graph, op)
            elif op.op_type in ("Gemm", "MatMul"):
                _check_matmul(graph, op)
        except ModelError as e:
            raise ModelError(f"{where}: {e}") from None


def _bad_text(msg: Message, path: str) -> str | None:
    """The path of the first string field of ``msg`` (recursively) that is not valid UTF-8."""
    for fd, value in msg.ListFields():
        if fd.type == FieldDescriptor.TYPE_STRING:
            for s in (value if fd.is_repeated else [value]):
                try:
                    s.decode("utf-8") if isinstance(s, bytes) else s.encode("utf-8")
                except UnicodeError:
                    return f"{path}.{fd.name}"
        elif fd.type == FieldDescriptor.TYPE_MESSAGE:
            for i, sub in enumerate(value if fd.is_repeated else [value]):
                found = _bad_text(sub, f"{path}.{fd.name}" + (f"[{i}]" if fd.is_repeated else ""))
                if found:
                    return found
    return None


def check_text(proto: onnx.ModelProto, where: str) -> None:
    """Every name and string in the model is valid UTF-8 (a damaged file often is not)."""
    found = _bad_text(proto, "model")
    if found:
        raise ModelError(f"{where}: {found} is not valid UTF-8 text; the file is damaged")
