"""Unit assignment: set the op class (crossbar, vector unit, host) of named ops to a unit chosen
outside the IR, e.g. where each MatMul of two activations runs, which the cost model prices
(`cimopt.cost.matmul_units.MatMulUnitChoice`; the IR does not price anything).

Rules
  * ``choice``: a mapping op name -> OpClass, or a callable given the graph (as this pass finds
    it, legalised) that returns that mapping; the callable runs once per pass run.
  * Every named op gets that class; ops not named keep theirs.  ``modified`` is True when some
    op's class changed.
  * A name that is no op of the graph raises UsageError naming it (the choice was made for
    another graph).

Preconditions: the graph is legalised (`legalize.Legalize`), so every op has a class.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import ClassVar

from cimopt.ir.errors import UsageError
from cimopt.ir.graph import Graph, OpClass
from cimopt.ir.passes.manager import PassResult, register

#: op name -> the class it runs as
Units = Mapping[str, OpClass]


@register
@dataclass(frozen=True)
class AssignUnits:
    """Give each op ``choice`` names the class it says (see the module rules)."""

    name: ClassVar[str] = "assign_units"
    choice: Units | Callable[[Graph], Units]

    def __call__(self, graph: Graph) -> PassResult:
        units = self.choice(graph) if callable(self.choice) else self.choice
        missing = sorted(n for n in units if n not in graph.dag)
        if missing:
            raise UsageError(f"pass {self.name}: no op named {', '.join(missing[:5])} in the graph; "
                             "the unit choice was made for another graph")
        modified = False
        for name, cls in units.items():
            op = graph.op(name)
            if op.op_class is not cls:
                graph.replace_op(replace(op, op_class=cls))
                modified = True
        return PassResult(graph, modified)
