"""Weights kept in external data files: find them safely, or stand in seeded random values.

An ONNX file may keep large initialisers in files beside it (``data_location: EXTERNAL``, key
``location`` relative to the model's folder).  `resolve` checks every such reference before
anything is read: the path must stay inside the model's folder (no absolute path, no ``..``
out, no symlink pointing out) and the file must exist and hold the bytes the reference names.
A reference that escapes the folder raises `ModelError` naming the tensor, the path and the
reason; a missing file is returned, so that a caller that needs only shapes (``inspect``,
``compile``) can go on with `fill_random` and one that needs values (``run``) can refuse.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import onnx
from onnx import external_data_helper, helper, numpy_helper

from cimopt.ir.errors import ModelError


@dataclass(frozen=True)
class MissingData:
    """An initialiser whose external data file is absent (or shorter than the reference says)."""

    tensor: str
    path: str      # the location as written in the model
    reason: str    # "missing" or "too short"


def _graph_tensors(g: onnx.GraphProto) -> list[onnx.TensorProto]:
    """Initialisers and tensor attributes of ``g`` and of every subgraph in it."""
    out = list(g.initializer)
    for n in g.node:
        for a in n.attribute:
            if a.HasField("t"):
                out.append(a.t)
            out.extend(a.tensors)
            if a.HasField("g"):
                out.extend(_graph_tensors(a.g))
            for sub in a.graphs:
                out.extend(_graph_tensors(sub))
    return out


def _external_tensors(proto: onnx.ModelProto) -> list[onnx.TensorProto]:
    return [t for t in _graph_tensors(proto.graph)
            if t.HasField("data_location") and t.data_location == onnx.TensorProto.EXTERNAL]


def _info(t: onnx.TensorProto) -> dict[str, str]:
    return {e.key: e.value for e in t.external_data}


def resolve(proto: onnx.ModelProto, model_dir: str, where: str) -> list[MissingData]:
    """Check every external-data reference of ``proto`` (read from a file in ``model_dir``).

    Returns the tensors whose file is missing or too short; raises `ModelError` for a reference
    with no location, an absolute path, a path outside ``model_dir`` or a symlink out of it.
    """
    base = os.path.realpath(model_dir)
    missing: list[MissingData] = []
    for t in _external_tensors(proto):
        info = _info(t)
        loc = info.get("location", "")
        if not loc:
            raise ModelError(f"{where}: tensor {t.name!r} keeps its data externally but names no file")
        if os.path.isabs(loc):
            raise ModelError(f"{where}: tensor {t.name!r}: external data path {loc!r} is absolute; "
                             "it must be relative to the model's folder")
        joined = os.path.normpath(os.path.join(model_dir, loc))
        lexical = os.path.normpath(os.path.join(base, loc))
        if os.path.commonpath([base, lexical]) != base:
            raise ModelError(f"{where}: tensor {t.name!r}: external data path {loc!r} is outside the model's folder")
        real = os.path.realpath(joined)
        if os.path.lexists(joined) and os.path.commonpath([base, real]) != base:
            raise ModelError(f"{where}: tensor {t.name!r}: external data path {loc!r} is a symlink out of the "
                             f"model's folder (to {real})")
        if not os.path.isfile(real):
            missing.append(MissingData(t.name, loc, "missing"))
            continue
        try:
            offset = int(info.get("offset", "0"))
            length = int(info["length"]) if "length" in info else None
        except ValueError:
            raise ModelError(f"{where}: tensor {t.name!r}: external data offset/length are not integers") from None
        if offset < 0 or (length is not None and length < 0):
            raise ModelError(f"{where}: tensor {t.name!r}: negative external data offset or length")
        size = os.path.getsize(real)
        if offset + (length or 0) > size:
            missing.append(MissingData(t.name, loc, f"too short ({size} B, the reference needs "
                                                    f"{offset + (length or 0)} B)"))
    return missing


def missing_text(missing: list[MissingData]) -> str:
    """One line naming the missing data: the first tensor, its file and why, and how many more."""
    m = missing[0]
    more = f" and {len(missing) - 1} more tensor(s)" if len(missing) > 1 else ""
    return f"external data of tensor {m.tensor!r} ({m.path}): {m.reason}{more}"


def _placeholder(t: onnx.TensorProto, rng: np.random.Generator, positive: bool) -> np.ndarray:
    dtype = np.dtype(helper.tensor_dtype_to_np_dtype(t.data_type))
    shape = tuple(int(d) for d in t.dims)
    if np.issubdtype(dtype, np.floating):
        fan = max(1, int(np.prod(shape[1:], dtype=np.int64))) if len(shape) > 1 else 1
        if positive:
            return rng.uniform(0.5, 1.5, shape).astype(dtype)
        return (rng.standard_normal(shape) / np.sqrt(fan)).astype(dtype)
    if dtype == np.bool_:
        return rng.integers(0, 2, shape).astype(bool)
    return rng.integers(0, 2, shape).astype(dtype)


def fill_random(proto: onnx.ModelProto, missing: list[MissingData], seed: int = 0) -> None:
    """Replace each missing external tensor of ``proto`` by seeded random values in place.

    Floats: standard normal / sqrt(fan-in), except the scales and variances of a
    BatchNormalization, uniform in [0.5, 1.5] (so folding them stays
    finite).  Integers: 0 or 1.  The same model and seed always give the same values.
    """
    names = {m.tensor for m in missing}
    positive = set()
    for n in proto.graph.node:
        if n.op_type == "BatchNormalization":
            positive.update(n.input[1:2])
            positive.update(n.input[4:5])
    by_name = {t.name: t for t in _external_tensors(proto) if t.name in names}
    for i, name in enumerate(sorted(by_name)):
        t = by_name[name]
        rng = np.random.default_rng([seed, i])
        arr = _placeholder(t, rng, name in positive)
        new = numpy_helper.from_array(arr, t.name)
        t.ClearField("external_data")
        t.ClearField("data_location")
        t.CopyFrom(new)


def load_present(proto: onnx.ModelProto, model_dir: str, missing: list[MissingData], where: str) -> None:
    """Read the external data that is present into ``proto`` (after `resolve` accepted every path)."""
    skip = {m.tensor for m in missing}
    for t in _external_tensors(proto):
        if t.name in skip:
            continue
        try:
            external_data_helper.load_external_data_for_tensor(t, model_dir)
        except (OSError, ValueError) as e:
            raise ModelError(f"{where}: tensor {t.name!r}: cannot read its external data "
                             f"({_info(t).get('location', '')}): {e}") from None
        t.data_location = onnx.TensorProto.DEFAULT
        del t.external_data[:]
