"""The pass contract and the one pass manager.

A pass is a small object (a frozen dataclass): its ``name`` (a class attribute, the name it is
registered under and that errors print), its options as fields, and ``__call__(graph) ->
PassResult(graph, modified)``.  Every pass class registers itself with `register`, so
`REGISTRY` (filled by importing `cimopt.ir.passes.catalog`) lists them all.  `Fixpoint` is a group
of passes repeated until none changes the graph; `PassManager` runs a sequence of passes (and
groups) once, in order, naming the failing pass in a `PassError`.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields, is_dataclass
from typing import ClassVar, Protocol, TypeVar

from cimopt.ir.errors import CimoptError
from cimopt.ir.graph import Graph


@dataclass(frozen=True)
class PassResult:
    graph: Graph
    modified: bool


class Pass(Protocol):
    """A graph pass: a name and ``__call__(graph) -> PassResult``."""

    name: ClassVar[str]

    def __call__(self, graph: Graph) -> PassResult: ...


class PassError(CimoptError):
    """A pass failed; the message names the pass and those already run."""


#: pass name -> pass class, filled by `register` (import `cimopt.ir.passes.catalog` for all of them)
REGISTRY: dict[str, type] = {}

P = TypeVar("P", bound=type)


def register(cls: P) -> P:
    """Class decorator: record the pass class under its ``name`` (each name once)."""
    name = getattr(cls, "name", None)
    if not isinstance(name, str) or not name:
        raise TypeError(f"pass class {cls.__qualname__} has no name")
    if name in REGISTRY and REGISTRY[name] is not cls:
        raise TypeError(f"pass name {name!r} registered twice ({REGISTRY[name].__qualname__}, {cls.__qualname__})")
    REGISTRY[name] = cls
    return cls


def _option(value: object) -> str:
    """One option's value for `describe`: a set sorted, a callable by its type's name."""
    if isinstance(value, (set, frozenset)):
        return "{" + ", ".join(sorted(map(str, value))) + "}"
    if callable(value):
        return type(value).__name__
    return repr(value)


def describe(p: Pass) -> str:
    """``name(option=value, ...)``; a `Fixpoint` lists its passes."""
    if isinstance(p, Fixpoint):
        return f"{p.name}({', '.join(describe(q) for q in p.passes)}; max_rounds={p.max_rounds})"
    opts = [f"{f.name}={_option(getattr(p, f.name))}" for f in fields(p)] if is_dataclass(p) else []
    return f"{p.name}({', '.join(opts)})"


def _run(p: Pass, graph: Graph, done: list[str]) -> PassResult:
    """``p(graph)``, a bug in it re-raised as a PassError naming it; its name appended to ``done``."""
    if isinstance(p, Fixpoint):
        return p.run(graph, done)
    try:
        r = p(graph)
    except CimoptError:
        raise
    except Exception as e:  # noqa: BLE001 - a bug in a pass: say where it happened
        raise PassError(f"pass {p.name} failed ({type(e).__name__}: {e}); passes already run: "
                        f"{', '.join(done) or 'none'}") from e
    done.append(p.name)
    return r


@dataclass(frozen=True)
class Fixpoint:
    """A group of passes run in order, the whole group repeated until no pass changes the graph
    (at most ``max_rounds`` rounds)."""

    name: ClassVar[str] = "fixpoint"
    passes: tuple[Pass, ...]
    max_rounds: int = 8

    def run(self, graph: Graph, done: list[str]) -> PassResult:
        """The group on ``graph``; the names of the passes run are appended to ``done``."""
        any_change = False
        for _ in range(self.max_rounds):
            changed = False
            for p in self.passes:
                r = _run(p, graph, done)
                graph = r.graph
                changed |= r.modified
            any_change |= changed
            if not changed:
                break
        return PassResult(graph, any_change)

    def __call__(self, graph: Graph) -> PassResult:
        return self.run(graph, [])


class PassManager:
    """Runs a sequence of passes (or `Fixpoint` groups) once, in order."""

    def __init__(self, passes: Sequence[Pass]) -> None:
        self.passes = list(passes)

    def __call__(self, graph: Graph) -> PassResult:
        done: list[str] = []
        any_change = False
        for p in self.passes:
            r = _run(p, graph, done)
            graph = r.graph
            any_change |= r.modified
        return PassResult(graph, any_change)
