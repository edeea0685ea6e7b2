"""Dead node elimination: ops whose outputs cannot reach a graph output are removed.

Rules
  * A tensor is live when it is a graph output or an input (including a fused activation's
    input) of a live op; an op is live when one of its outputs is live.  Every other op is
    removed, whatever its type (the graph has no side-effecting ops).
  * Then constants and tensor specs that nothing reads or writes any more are dropped
    (`Graph.prune_constants`).

Preconditions: none beyond a well-formed graph.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from cimopt.ir.graph import Graph
from cimopt.ir.passes.manager import PassResult, register


@register
@dataclass(frozen=True)
class DeadNodeElimination:
    """Remove every op that does not contribute to a graph output, then unused constants.

    Returns the same graph, changed in place; ``modified`` is True when an op or a constant went.
    """

    name: ClassVar[str] = "dead_node_elimination"

    def __call__(self, graph: Graph) -> PassResult:
        live = set(graph.outputs)
        dead = []
        for op in reversed(graph.ops()):
            if any(t and t in live for t in op.outputs):
                live.update(t for t in op.inputs if t)
                if op.activation is not None:
                    live.update(op.activation.inputs)
            else:
                dead.append(op.name)
        for name in dead:
            for t in graph.remove_op(name).outputs:
                graph.tensors.pop(t, None)
        before = len(graph.constants) + len(graph.tensors)
        graph.prune_constants()
        return PassResult(graph, bool(dead) or len(graph.constants) + len(graph.tensors) != before)
