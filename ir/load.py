"""ONNX import: read, check, apply user-given input sizes, infer shapes, build a `Graph`."""
from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import numpy as np
import onnx
from onnx import numpy_helper

from .errors import ModelError, ShapeError, UnsupportedOperatorError, UsageError
from .graph import CIMOPT_DOMAIN, STANDARD_DOMAINS, Graph, OpSpec, TensorSpec, build_graph, freeze_attrs
from .onnx_attrs import attr_value, np_dtype
from .shapes import infer_shapes


def parse_input_shapes(specs: Sequence[str]) -> dict[str, tuple[int, ...]]:
    """Parse ``NAME=1x3x224x224`` items (each may hold several, comma-separated) into a dict."""
    out: dict[str, tuple[int, ...]] = {}
    for spec in specs:
        for item in spec.split(","):
            item = item.strip()
            if not item:
                continue
            name, sep, dims = item.rpartition("=")
            if not sep or not name:
                raise UsageError(f"--input-shape {item!r}: expected NAME=D0xD1x..., e.g. input=1x3x224x224")
            try:
                shape = tuple(int(d) for d in dims.lower().split("x"))
            except ValueError:
                raise UsageError(f"--input-shape {item!r}: dimensions must be positive integers "
                                 "separated by 'x', e.g. input=1x3x224x224") from None
            if any(d <= 0 for d in shape):
                raise UsageError(f"--input-shape {item!r}: dimensions must be positive integers")
            out[name] = shape
    return out


def read_model(model: str | os.PathLike[str] | onnx.ModelProto) -> onnx.ModelProto:
    """Read and check an ONNX model; any problem becomes a `ModelError` naming the file."""
    if isinstance(model, onnx.ModelProto):
        proto, where = model, "model"
    else:
        where = os.fspath(model)
        if not os.path.exists(where):
            raise ModelError(f"{where}: no such file")
        if os.path.isdir(where):
            raise ModelError(f"{where}: is a folder, expected an .onnx file")
        if os.path.getsize(where) == 0:
            raise ModelError(f"{where}: the file is empty, expected an ONNX model")
        try:
            proto = onnx.load(where)
        except Exception as e:  # noqa: BLE001 - protobuf raises several unrelated types
            raise ModelError(f"{where}: not a readable ONNX model ({type(e).__name__}); "
                             "is the file complete and really .onnx?") from None
    if not proto.graph.node and not proto.graph.output:
        raise ModelError(f"{where}: not an ONNX model (it has no graph); is the file complete?")
    try:
        # by path for files: the checker reads it in C++ instead of re-serialising a large proto
        onnx.checker.check_model(proto if isinstance(model, onnx.ModelProto) else where)
    except Exception as e:  # noqa: BLE001
        msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ModelError(f"{where}: the ONNX checker rejects the model: {msg[:200]}") from None
    return proto


def _check_domains(proto: onnx.ModelProto) -> None:
    bad = [(n.name or f"#{i}", n.domain, n.op_type) for i, n in enumerate(proto.graph.node)
           if n.domain not in STANDARD_DOMAINS and n.domain != CIMOPT_DOMAIN]
    if bad:
        listed = ", ".join(f"{name} ({dom}::{op})" for name, dom, op in bad[:20])
        more = f" and {len(bad) - 20} more" if len(bad) > 20 else ""
        raise UnsupportedOperatorError(
            f"{len(bad)} op(s) outside the standard ONNX domains, which no CIM target can run: {listed}{more}; "
            "export the model with standard ONNX operators")


def _apply_input_shapes(proto: onnx.ModelProto, shapes: Mapping[str, Sequence[int]]) -> None:
    inits = {i.name for i in proto.graph.initializer}
    real = [i for i in proto.graph.input if i.name not in inits]
    names = [i.name for i in real]
    unknown = [k for k in shapes if k not in names]
    if unknown:
        raise UsageError(f"--input-shape names {', '.join(map(repr, unknown))}, but the model's inputs are "
                         f"{', '.join(map(repr, names))}")
    missing = []
    for vi in real:
        t = vi.type.tensor_type
        dims = t.shape.dim
        if vi.name in shapes:
            want = list(shapes[vi.name])
            if t.HasField("shape") and len(dims) != len(want):
                raise ShapeError(f"--input-shape {vi.name}: gives {len(want)} dims, but the input has rank "
                                 f"{len(dims)} ({_dims_text(dims)})")
            for d, (old, new) in enumerate(zip(dims, want)):
                if old.HasField("dim_value") and old.dim_value not in (0, new):
                    raise ShapeError(f"--input-shape {vi.name}: dim {d} is fixed to {old.dim_value} in the "
                                     f"model, not {new}")
            del t.shape.dim[:]
            for v in want:
                t.shape.dim.add().dim_value = int(v)
        elif not t.HasField("shape") or any(not d.HasField("dim_value") or d.dim_value <= 0 for d in dims):
            missing.append(vi)
    if missing:
        parts = [f"{vi.name!r} ({_dims_text(vi.type.tensor_type.shape.dim)})" for vi in missing]
        ex = missing[0].name
        raise ShapeError(f"input {' and '.join(parts)} has symbolic or unknown dims; give sizes with "
                         f"--input-shape {ex}=1x... (one per dim, e.g. {ex}=1x3x224x224)")


def _dims_text(dims: Sequence[onnx.TensorShapeProto.Dimension]) -> str:
    if not dims:
        return "shape unknown"
    return "x".join(d.dim_param if d.dim_param else (str(d.dim_value) if d.HasField("dim_value") else "?")
                    for d in dims)


def _tensor_spec(vi: onnx.ValueInfoProto) -> TensorSpec:
    t = vi.type.tensor_type
    shape: tuple[int, ...] | None = None
    if t.HasField("shape") and all(d.HasField("dim_value") and d.dim_value >= 0 for d in t.shape.dim):
        shape = tuple(int(d.dim_value) for d in t.shape.dim)
    return TensorSpec(vi.name, shape, np_dtype(t.elem_type))


def from_onnx(proto: onnx.ModelProto, name: str = "model") -> Graph:
    """Build a Graph from a (shape-inferred) ModelProto without any checks."""
    g = proto.graph
    constants = {i.name: numpy_helper.to_array(i) for i in g.initializer}
    tensors: dict[str, TensorSpec] = {}
    for vi in [*g.input, *g.value_info, *g.output]:
        if vi.name not in constants and vi.type.HasField("tensor_type"):
            spec = _tensor_spec(vi)
            old = tensors.get(vi.name)
            if old is None or (spec.shape is not None and old.shape is None):
                tensors[vi.name] = spec
    ops: list[OpSpec] = []
    used: set[str] = set()
    for i, n in enumerate(g.node):
        base = n.name or f"{n.op_type}_{i}"
        nm, k = base, 0
        while nm in used:
            k += 1
            nm = f"{base}_{k}"
        used.add(nm)
        attrs = {a.name: attr_value(a) for a in n.attribute}
        ops.append(OpSpec(nm, n.op_type, tuple(n.input), tuple(n.output), freeze_attrs(attrs), n.domain))
    opsets = {o.domain: o.version for o in proto.opset_import}
    inputs = [i.name for i in g.input if i.name not in constants]
    return build_graph(g.name or name, ops, tensors, constants, inputs, [o.name for o in g.output], opsets)


def load(model: str | os.PathLike[str] | onnx.ModelProto,
         input_shapes: Mapping[str, Sequence[int]] | None = None) -> Graph:
    """Load an ONNX model into a Graph with static shapes.

    Checks the model, gives the graph inputs the sizes in ``input_shapes`` (name -> dims),
    raises `ShapeError` naming any input left with symbolic dims, and infers every shape.
    """
    proto = read_model(model)
    if isinstance(model, onnx.ModelProto):  # the caller's proto: change a copy
        proto_copy = onnx.ModelProto()
        proto_copy.CopyFrom(proto)
    else:
        proto_copy = proto
    _check_domains(proto_copy)
    _apply_input_shapes(proto_copy, input_shapes or {})
    name = os.path.splitext(os.path.basename(os.fspath(model)))[0] if not isinstance(model, onnx.ModelProto) \
        else (proto.graph.name or "model")
    graph = from_onnx(proto_copy, name)
    graph.name = name
    for t in graph.inputs:
        if not graph.spec(t).known:
            raise ShapeError(f"input {t!r} has no static shape; give one with --input-shape {t}=D0xD1x...")
    return infer_shapes(graph)


__all__ = ["load", "read_model", "from_onnx", "parse_input_shapes", "np"]
