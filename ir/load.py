"""ONNX import: read, check, apply user-given input sizes, infer shapes, build a `Graph`."""
from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import numpy as np
import onnx
from onnx import numpy_helper

from cimopt.ir import external_data, opset, regions, validate
from cimopt.ir.errors import ModelError, ShapeError, UnsupportedOperatorError, UsageError
from cimopt.ir.graph import build_graph, CIMOPT_DOMAIN, freeze_attrs, Graph, OpSpec, STANDARD_DOMAINS, TensorSpec
from cimopt.ir.onnx_attrs import attr_value
from cimopt.ir.shapes import infer_shapes
from cimopt.ir.skeleton import skeleton
from cimopt.ir.subgraphs import outer_references
from cimopt.ir.value_info import dims_text, static_dim, tensor_spec

#: What to do with weights whose external data file is absent: stand in seeded random values
#: ("random": enough for shapes, so for inspect and compile) or refuse ("refuse": run needs them).
MISSING_DATA_POLICIES = ("random", "refuse")


def parse_input_shapes(specs: Sequence[str]) -> dict[str, tuple[int, ...]]:
    """Parse ``NAME=1x3x224x224`` items (each may hold several, comma-separated) into a dict.

    A dim may be 0 (an empty tensor, which ONNX allows); in a model's own dims a 0 means "dynamic"
    (`ir.value_info.static_dim`), so an empty input is given here."""
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
                raise UsageError(f"--input-shape {item!r}: dimensions must be integers >= 0 "
                                 "separated by 'x', e.g. input=1x3x224x224") from None
            if any(d < 0 for d in shape):
                raise UsageError(f"--input-shape {item!r}: dimensions must be integers >= 0 (0: an empty dim)")
            out[name] = shape
    return out


def model_name(model: str | os.PathLike[str] | onnx.ModelProto) -> str:
    """A model's one name in programs, summaries and tables: its file's name without ``.onnx``
    (``light_resnet50``); for a proto its graph's name (a proto made from a file, e.g. batched or
    with random weights, carries the file's name there)."""
    if isinstance(model, onnx.ModelProto):
        return model.graph.name or "model"
    return os.path.splitext(os.path.basename(os.fspath(model)))[0]


def read_model(model: str | os.PathLike[str] | onnx.ModelProto, missing_data: str = "random") -> onnx.ModelProto:
    """Read and check an ONNX model; any problem becomes a `ModelError` naming the file.

    External data is read from the model's folder after every reference is checked (see
    `ir.external_data`); a tensor whose file is absent gets seeded random values when
    ``missing_data`` is "random" and raises `ModelError` naming the tensor and the file when it
    is "refuse".  Then the model's structure and weights are checked (`ir.validate`), and a model
    below the opset onnxruntime supports is upgraded (`ir.opset.upgrade`, which marks the copy).
    """
    if missing_data not in MISSING_DATA_POLICIES:
        raise ValueError(f"missing_data must be one of {MISSING_DATA_POLICIES}")
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
            proto = onnx.load(where, load_external_data=False)
        except Exception as e:  # noqa: BLE001 - protobuf raises several unrelated types
            raise ModelError(f"{where}: not a readable ONNX model ({type(e).__name__}); "
                             "is the file complete and really .onnx?") from None
        folder = os.path.dirname(os.path.abspath(where))
        missing = external_data.resolve(proto, folder, where)
        if missing and missing_data == "refuse":
            raise ModelError(f"{where}: {external_data.missing_text(missing)}; the weights are needed to run: put "
                             "the data file beside the model, or compile and run with --random-weights")
        external_data.load_present(proto, folder, missing, where)
        external_data.fill_random(proto, missing)
    if not proto.graph.node and not proto.graph.output:
        raise ModelError(f"{where}: not an ONNX model (it has no graph); is the file complete?")
    validate.check_text(proto, where)
    validate.check_structure(proto, where)
    validate.check_weights(proto, where)
    try:
        onnx.checker.check_model(skeleton(proto))
    except Exception as e:  # noqa: BLE001
        msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ModelError(f"{where}: the ONNX checker rejects the model: {msg[:200]}") from None
    return opset.upgrade(proto, where)


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
                                 f"{len(dims)} ({dims_text(dims)})")
            for d, (old, new) in enumerate(zip(dims, want)):
                if static_dim(old) not in (None, new):
                    raise ShapeError(f"--input-shape {vi.name}: dim {d} is fixed to {old.dim_value} in the "
                                     f"model, not {new}")
            del t.shape.dim[:]
            for v in want:
                t.shape.dim.add().dim_value = int(v)
        elif not t.HasField("shape") or any(static_dim(d) is None for d in dims):
            missing.append(vi)
    if missing:
        parts = [f"{vi.name!r} ({dims_text(vi.type.tensor_type.shape.dim)})" for vi in missing]
        ex = missing[0].name
        raise ShapeError(f"input {' and '.join(parts)} has symbolic or unknown dims; give sizes with "
                         f"--input-shape {ex}=1x... (one per dim, e.g. {ex}=1x3x224x224)")


def from_onnx(proto: onnx.ModelProto, name: str = "model") -> Graph:
    """Build a Graph from a (shape-inferred) ModelProto without any checks."""
    g = proto.graph
    constants = {i.name: numpy_helper.to_array(i) for i in g.initializer}
    tensors: dict[str, TensorSpec] = {}
    for vi in [*g.input, *g.value_info, *g.output]:
        if vi.name not in constants and vi.type.HasField("tensor_type"):
            spec = tensor_spec(vi)
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
        # a subgraph's reads of outer-scope tensors become explicit inputs after the node's own
        # (`ir.subgraphs`), so that dependencies, buffers and the machine see them
        outer = [t for t in outer_references(n) if t not in n.input]
        ops.append(OpSpec(nm, n.op_type, (*n.input, *outer), tuple(n.output), freeze_attrs(attrs), n.domain))
    opsets = {o.domain: o.version for o in proto.opset_import}
    inputs = [i.name for i in g.input if i.name not in constants]
    return build_graph(g.name or name, ops, tensors, constants, inputs, [o.name for o in g.output], opsets)


def load(model: str | os.PathLike[str] | onnx.ModelProto,
         input_shapes: Mapping[str, Sequence[int]] | None = None, missing_data: str = "random") -> Graph:
    """Load an ONNX model into a Graph with static shapes.

    Reads and checks the model (`read_model`, ``missing_data`` as there), gives the graph inputs
    the sizes in ``input_shapes`` (name -> dims), raises `ShapeError` naming any input left with
    symbolic dims or too large, validates the model's semantics (`ir.validate.check_semantics`),
    contracts the ops joined by values that are not tensors into host regions (`ir.regions`)
    and infers every shape.
    """
    proto = read_model(model, missing_data)
    if isinstance(model, onnx.ModelProto):  # the caller's proto: change a copy
        proto_copy = onnx.ModelProto()
        proto_copy.CopyFrom(proto)
    else:
        proto_copy = proto
    _check_domains(proto_copy)
    _apply_input_shapes(proto_copy, input_shapes or {})
    where = "model" if isinstance(model, onnx.ModelProto) else os.fspath(model)
    validate.check_input_sizes(proto_copy, where)
    validate.check_semantics(proto_copy, where)
    proto_copy = regions.contract(proto_copy, where)
    name = model_name(model)
    graph = from_onnx(proto_copy, name)
    graph.name = name
    old = opset.upgraded_from(proto_copy)
    if old is not None:
        graph.notes.append(f"the model's ONNX opset {old} is older than onnxruntime supports: upgraded to opset "
                           f"{opset.default_opset(proto_copy)} with onnx.version_converter")
    for t, dims in (input_shapes or {}).items():  # as given: a 0 in a model's dims means "dynamic", here "empty"
        graph.tensors[t] = TensorSpec(t, tuple(int(d) for d in dims), graph.spec(t).dtype)
    for t in graph.inputs:
        if not graph.spec(t).known:
            raise ShapeError(f"input {t!r} has no static shape; give one with --input-shape {t}=D0xD1x...")
    graph = infer_shapes(graph)
    validate.check_ops(graph, where)
    return graph


__all__ = ["load", "read_model", "model_name", "from_onnx", "parse_input_shapes", "MISSING_DATA_POLICIES", "np"]
