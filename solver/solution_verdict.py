"""What checking a stage's solution against its instance returns (`Verdict`) and the error of a
solution that does not fit its instance (`SolutionError`); each stage's `verify_solution`
(`cimopt.solver.interface.Stage`) makes them."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cimopt.ir.errors import CimoptError


class SolutionError(CimoptError):
    """A solution file that cannot be read or does not fit its instance: says where."""


@dataclass(frozen=True)
class Verdict:
    """The objective recomputed from the instance (in the stage's objective unit) and every violation."""

    objective: float
    violations: tuple[str, ...] = ()

    @property
    def feasible(self) -> bool:
        """No constraint is violated."""
        return not self.violations


def require_length(name: str, values: list[Any], n: int, what: str) -> None:
    """`SolutionError` unless ``solution.<name>`` has ``n`` entries (one per ``what`` of the instance)."""
    if len(values) != n:
        raise SolutionError(f"solution.{name}: {len(values)} entries for the instance's {n} {what}")


def array_schema(items: dict[str, Any], description: str) -> dict[str, Any]:
    """JSON Schema of an array of ``items``, described."""
    return {"type": "array", "items": items, "description": description}


def object_schema(properties: dict[str, Any], required: list[str], description: str = "") -> dict[str, Any]:
    """JSON Schema of a solution body: an object with ``properties`` and no others, ``required``
    among them."""
    out: dict[str, Any] = {"type": "object", "required": required, "additionalProperties": False}
    if description:
        out["description"] = description
    out["properties"] = properties
    return out
