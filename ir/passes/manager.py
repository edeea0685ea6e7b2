"""The pass contract: a pass takes a Graph and returns ``PassResult(graph, modified)``."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from cimopt.ir.errors import CimoptError
from cimopt.ir.graph import Graph


@dataclass(frozen=True)
class PassResult:
    graph: Graph
    modified: bool


Pass = Callable[[Graph], PassResult]


class PassError(CimoptError):
    """A pass failed; the message names the pass and those already run."""


def pass_name(p: Pass) -> str:
    return getattr(p, "__name__", type(p).__name__)


class PassManager:
    """Runs passes in order, repeating the whole sequence until nothing changes (at most ``max_rounds``)."""

    def __init__(self, passes: Sequence[Pass], *, fixpoint: bool = True, max_rounds: int = 8) -> None:
        self.passes = list(passes)
        self.fixpoint = fixpoint
        self.max_rounds = max_rounds

    def __call__(self, graph: Graph) -> PassResult:
        done: list[str] = []
        any_change = False
        for _ in range(self.max_rounds if self.fixpoint else 1):
            changed = False
            for p in self.passes:
                try:
                    r = p(graph)
                except CimoptError:
                    raise
                except Exception as e:  # noqa: BLE001 - a bug in a pass: say where it happened
                    raise PassError(f"pass {pass_name(p)} failed ({type(e).__name__}: {e}); passes already run: "
                                    f"{', '.join(done) or 'none'}") from e
                graph = r.graph
                changed |= r.modified
                done.append(pass_name(p))
            any_change |= changed
            if not changed:
                break
        return PassResult(graph, any_change)
