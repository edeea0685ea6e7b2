"""Stage solutions as data: written by ``cimopt solve -o``, checked by ``cimopt check``, so a
solution from any solver can be verified against our instances and its objective recomputed.

A file holds ``{"format": FORMAT, "stage": NAME, "instance_sha256": ..., "method": ...,
"objective": ..., "solution": {...}}``; its JSON Schema, version 1 (``FORMAT``), is the envelope
in ``solution.schema.json`` (package data) with each registered stage's solution schema
(`cimopt.solver.interface.SolutionFormat`) added by `schema`.  ``objective`` is what the writer
claims and is never used: `check` recomputes it from the instance (the stage's
``verify_solution``; its ``objective`` says how in words).  ``instance_sha256`` (optional) ties
the solution to its instance.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Callable
from functools import lru_cache
from importlib import resources
from typing import Any

import fastjsonschema

from cimopt.solver.harness import instances
from cimopt.solver.interface import Stage
from cimopt.solver.registry import STAGES
from cimopt.solver.solution_verdict import SolutionError, Verdict

FORMAT = "cimopt.solution/1"


@lru_cache(maxsize=1)
def schema() -> dict[str, Any]:
    """The JSON Schema of solution files, every stage with a solution format: the envelope of
    ``solution.schema.json`` with the stage names, one ``definitions`` entry per stage and the
    rule that picks it."""
    full = json.loads(resources.files("cimopt.solver.harness").joinpath("solution.schema.json").read_text())
    formats = {s.name: s.solution_format for s in STAGES if s.solution_format is not None}
    full["properties"]["stage"] = {"enum": list(formats)}
    full["allOf"] = [{"if": {"properties": {"stage": {"const": name}}},
                      "then": {"properties": {"solution": {"$ref": f"#/definitions/{name}"}}}} for name in formats]
    full["definitions"] = {name: f.SCHEMA for name, f in formats.items()}
    return full


def stage_schema(stage: str) -> dict[str, Any]:
    """The solution schema of one stage, standalone, its ``description`` defining the objective."""
    full = schema()
    if stage not in full["definitions"]:
        raise SolutionError(f"no solution schema for stage {stage!r}; stages: {', '.join(full['definitions'])}")
    unit, text = next(s.objective for s in STAGES if s.name == stage)
    props = dict(full["properties"], stage={"const": stage}, solution={"$ref": f"#/definitions/{stage}"})
    return {"$schema": full["$schema"], "$id": f"{full['$id']}/{stage}", "title": f"cimopt {stage} solution, "
            f"schema version 1 ({FORMAT})", "description": f"Objective ({unit}): {text}", "type": "object",
            "required": full["required"], "properties": props, "definitions": {stage: full["definitions"][stage]}}


@lru_cache(maxsize=1)
def _validator() -> Callable[[Any], Any]:
    return fastjsonschema.compile(schema())


def digest(problem: Any) -> str:
    """sha256 (hex) of ``problem`` as canonical JSON (`instances.encode`, keys sorted, no spaces)."""
    text = json.dumps(instances.encode(problem), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def document(stage: Stage[Any, Any], problem: Any, solution: Any, method: str, claimed: float) -> dict[str, Any]:
    """The solution file's content for ``solution`` of ``problem``, found by ``method``
    (`SolutionError` for a stage without a solution format)."""
    body = stage.solution_body(problem, solution)
    return {"format": FORMAT, "stage": stage.name, "instance_sha256": digest(problem), "method": method,
            "objective": claimed if math.isfinite(claimed) else None, "solution": body}


def save(doc: dict[str, Any], path: str | os.PathLike[str]) -> None:
    """Write a solution document (``OSError`` when the file cannot be written)."""
    with open(path, "w") as f:
        json.dump(doc, f, separators=(",", ":"))


def load(path: str | os.PathLike[str]) -> dict[str, Any]:
    """A solution document read from ``path`` and checked against the schema (`SolutionError`)."""
    doc = instances.read_document(path, "solution", FORMAT, SolutionError)
    try:
        _validator()(doc)
    except fastjsonschema.JsonSchemaValueException as e:
        raise SolutionError(f"{path}: does not match the solution schema ({FORMAT}): {e.message[:300]}") from None
    return doc


def check(stage: Stage[Any, Any], problem: Any, doc: dict[str, Any]) -> Verdict:
    """The objective of ``doc``'s solution recomputed from ``problem``, and every violation.

    `SolutionError` when the document is for another stage or instance, or does not fit the
    instance's shape."""
    if doc["stage"] != stage.name:
        raise SolutionError(f"the solution is for stage {doc['stage']}, the instance for {stage.name}")
    sha = doc.get("instance_sha256")
    if sha is not None and sha != digest(problem):
        raise SolutionError("the solution was written for another instance (instance_sha256 differs); "
                            "remove the field to check it against this one anyway")
    return stage.verify_solution(problem, doc["solution"])
