"""Stage instances as data: any stage's problem as JSON and back, with a JSON Schema derived from
the problem's type hints, so that others can run their own solvers on exactly our instances.

A file holds ``{"format": FORMAT, "stage": NAME, "problem": {...}}`` where ``problem`` mirrors
the stage's problem dataclass field by field: dataclasses are objects, tuples are arrays,
mappings are objects, numbers stay numbers (an infinite float is the string "inf").  A field
whose metadata says ``"data": False`` (a compile-time companion such as the scheduling
instance's task graph) is left out: not written, not read, not in the schema.  The
schema of each stage is `schema(stage)`; `cimopt solve --schema STAGE` prints it.
"""
from __future__ import annotations

import dataclasses
import json
import math
import os
import types
import typing
from collections.abc import Mapping
from typing import Any

from cimopt.ir.errors import CimoptError
from cimopt.solver.interface import Stage
from cimopt.solver.memory.problem import FrozenMap

FORMAT = "cimopt.instance/1"


class InstanceError(CimoptError):
    """A stage instance file that cannot be read: says which file and which field."""


def _is_data(f: dataclasses.Field[Any]) -> bool:
    """Whether field ``f`` is part of an instance's data (its metadata does not say ``"data": False``)."""
    return bool(f.metadata.get("data", True))


def encode(value: Any) -> Any:
    """``value`` (dataclass, tuple, mapping, number, string) as plain JSON data."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: encode(getattr(value, f.name)) for f in dataclasses.fields(value) if _is_data(f)}
    if isinstance(value, Mapping):
        return {str(k): encode(v) for k, v in value.items()}
    if isinstance(value, (tuple, list)):
        return [encode(v) for v in value]
    if isinstance(value, float) and math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return value


def decode(tp: Any, data: Any, where: str = "problem") -> Any:
    """``data`` as an instance of type ``tp`` (the inverse of `encode`); `InstanceError` naming
    the field (``where``) when it does not fit."""
    origin = typing.get_origin(tp)
    if tp is typing.Any:
        return data
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(tp)
        if data is None and type(None) in options:
            return None
        errors = []
        for o in options:
            if o is type(None):
                continue
            try:
                return decode(o, data, where)
            except InstanceError as e:
                errors.append(str(e))
        raise InstanceError(errors[0] if errors else f"{where}: {data!r} does not fit {tp}")
    if dataclasses.is_dataclass(tp):
        if not isinstance(data, dict):
            raise InstanceError(f"{where}: expected an object for {tp.__name__}, got {type(data).__name__}")
        hints = typing.get_type_hints(tp)
        fields = {f.name: f for f in dataclasses.fields(tp) if f.init and _is_data(f)}
        unknown = sorted(set(data) - set(fields))
        if unknown:
            raise InstanceError(f"{where}: unknown field(s) {', '.join(unknown)} for {tp.__name__}")
        kwargs = {}
        for name, f in fields.items():
            if name not in data:
                if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                    raise InstanceError(f"{where}.{name}: missing")
                continue
            kwargs[name] = decode(hints[name], data[name], f"{where}.{name}")
        try:
            return tp(**kwargs)
        except (ValueError, TypeError) as e:
            raise InstanceError(f"{where}: {e}") from None
    if origin is tuple:
        args = typing.get_args(tp)
        if not isinstance(data, list):
            raise InstanceError(f"{where}: expected an array, got {type(data).__name__}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(decode(args[0], v, f"{where}[{i}]") for i, v in enumerate(data))
        if len(args) != len(data):
            raise InstanceError(f"{where}: expected {len(args)} items, got {len(data)}")
        return tuple(decode(a, v, f"{where}[{i}]") for i, (a, v) in enumerate(zip(args, data)))
    if origin in (Mapping, dict) or tp is FrozenMap:
        if not isinstance(data, dict):
            raise InstanceError(f"{where}: expected an object, got {type(data).__name__}")
        vt = typing.get_args(tp)[1] if typing.get_args(tp) else typing.Any
        return FrozenMap({k: decode(vt, v, f"{where}.{k}") for k, v in data.items()})
    if tp is float:
        if data in ("inf", "-inf"):
            return float(data)
        if isinstance(data, (int, float)) and not isinstance(data, bool):
            return float(data)
        raise InstanceError(f"{where}: expected a number, got {data!r}")
    if tp is int:
        if isinstance(data, int) and not isinstance(data, bool):
            return data
        raise InstanceError(f"{where}: expected an integer, got {data!r}")
    if tp is str:
        if isinstance(data, str):
            return data
        raise InstanceError(f"{where}: expected a string, got {data!r}")
    if tp is bool:
        if isinstance(data, bool):
            return data
        raise InstanceError(f"{where}: expected true or false, got {data!r}")
    raise InstanceError(f"{where}: cannot read a value of type {tp}")


def json_schema(tp: Any) -> dict[str, Any]:
    """A JSON Schema (draft 2020-12 subset) of how `encode` writes a value of type ``tp``."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        return {"anyOf": [json_schema(a) for a in typing.get_args(tp)]}
    if tp is type(None):
        return {"type": "null"}
    if dataclasses.is_dataclass(tp):
        hints = typing.get_type_hints(tp)
        fields = [f for f in dataclasses.fields(tp) if f.init and _is_data(f)]
        required = [f.name for f in fields if f.default is dataclasses.MISSING
                    and f.default_factory is dataclasses.MISSING]
        return {"type": "object", "title": tp.__name__, "description": (tp.__doc__ or "").strip().split("\n")[0],
                "properties": {f.name: json_schema(hints[f.name]) for f in fields},
                "required": required, "additionalProperties": False}
    if origin is tuple:
        args = typing.get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return {"type": "array", "items": json_schema(args[0])}
        return {"type": "array", "prefixItems": [json_schema(a) for a in args], "minItems": len(args),
                "maxItems": len(args)}
    if origin in (Mapping, dict) or tp is FrozenMap:
        args = typing.get_args(tp)
        return {"type": "object", "additionalProperties": json_schema(args[1]) if args else {}}
    simple = {float: {"anyOf": [{"type": "number"}, {"enum": ["inf", "-inf"]}]}, int: {"type": "integer"},
              str: {"type": "string"}, bool: {"type": "boolean"}}
    return simple.get(tp, {})


def schema(stage: Stage[Any, Any]) -> dict[str, Any]:
    """The JSON Schema of a stage's instance file; its ``description`` defines the objective."""
    unit, text = stage.objective
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "title": f"cimopt {stage.name} instance",
            "description": f"Objective ({unit}): {text}" if text else "",
            "type": "object", "required": ["format", "stage", "problem"],
            "properties": {"format": {"const": FORMAT}, "stage": {"const": stage.name},
                           "problem": json_schema(stage.problem_type)}}


def save(stage: Stage[Any, Any], problem: Any, path: str | os.PathLike[str], meta: Mapping[str, Any] = {}) -> None:
    """Write ``problem`` of ``stage`` to ``path``; ``meta`` (model, target, method, stats) goes beside it."""
    doc = {"format": FORMAT, "stage": stage.name, "meta": encode(dict(meta)), "problem": encode(problem)}
    with open(path, "w") as f:
        json.dump(doc, f, separators=(",", ":"))


def read_document(path: str | os.PathLike[str], what: str, fmt: str, error: type[Exception]) -> dict[str, Any]:
    """The JSON object in ``path`` whose ``format`` is ``fmt``; ``error`` (naming the file and ``what``
    it should hold) when it is absent, unreadable, not JSON or of another format."""
    try:
        with open(path) as f:
            doc = json.load(f)
    except FileNotFoundError:
        raise error(f"{path}: no such {what} file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise error(f"{path}: not a readable JSON {what} ({e})") from None
    if not isinstance(doc, dict) or doc.get("format") != fmt:
        raise error(f"{path}: not a cimopt {what} (expected \"format\": \"{fmt}\")")
    return doc


def load(path: str | os.PathLike[str], stages: tuple[Stage[Any, Any], ...]) -> tuple[Stage[Any, Any], Any, dict[str, Any]]:
    """(stage, problem, meta) read from an instance file."""
    doc = read_document(path, "instance", FORMAT, InstanceError)
    by_name = {s.name: s for s in stages}
    st = by_name.get(doc.get("stage"))
    if st is None:
        raise InstanceError(f"{path}: unknown stage {doc.get('stage')!r}; the stages are {', '.join(by_name)}")
    try:
        problem = decode(st.problem_type, doc.get("problem"))
    except InstanceError as e:
        raise InstanceError(f"{path}: {e}") from None
    return st, problem, dict(doc.get("meta") or {})
