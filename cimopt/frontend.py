"""ONNX model to a legalised Graph and its Workload on a target: load, then one pass sequence
(`frontend_passes`) through one `PassManager`, then lowering."""
from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import onnx

from cimopt.batching import batched_model
from cimopt.cost.matmul_units import MatMulDecision, MatMulUnitChoice
from cimopt.ir import load as ir_load
from cimopt.ir.graph import Graph, OpClass
from cimopt.ir.passes.assign_units import AssignUnits
from cimopt.ir.passes.epilogue_fusion import EpilogueFusion
from cimopt.ir.passes.legalize import Legalize
from cimopt.ir.passes.manager import Pass, PassManager
from cimopt.ir.passes.optimize import optimize_passes
from cimopt.ir.passes.split_oversized import SplitOversized
from cimopt.ir.workload import lower, Workload
from cimopt.targets.spec import Target


@dataclass
class Frontend:
    """What the front end produced: the optimised, legalised graph and its workload, and where
    each MatMul of two activations runs (`cimopt.cost.matmul_units`)."""

    graph: Graph
    workload: Workload
    matmuls: list[MatMulDecision] = field(default_factory=list)
    #: inferences per program run the graph was built for (`cimopt.batching`)
    batch: int = 1


def frontend_passes(target: Target, units: Callable[[Graph], Mapping[str, OpClass]]) -> list[Pass]:
    """The front end's pass sequence for ``target``: optimise (fold, fuse, eliminate; shapes
    re-inferred), split ops larger than half the chip, legalise, fuse the vector ops the crossbar
    output stage applies in line (``core.output_stage_ops``), then put each op ``units`` names
    (given the legalised graph) on the unit it says."""
    c = target.core
    # a part must leave room for others in its segment and for placement's fragmentation
    limit = max(1, target.total_crossbars // 2)
    return [*optimize_passes(),
            SplitOversized(rows=c.crossbar_rows, cols=c.crossbar_cols, slices=target.weight_slices, limit=limit),
            Legalize(vector_matmul=c.vector_matmul, has_host=target.host is not None,
                     runtime_writes=c.runtime_weight_writes),
            EpilogueFusion(frozenset(c.output_stage_ops)),
            AssignUnits(units)]


def prepare(model: str | os.PathLike[str] | onnx.ModelProto, target: Target,
            input_shapes: Mapping[str, Sequence[int]] | None = None, batch: int = 1) -> Frontend:
    """Load ``model`` (with ``batch`` > 1: `cimopt.batching.batched_model`, dim 0 of every given
    input shape set to ``batch``), run `frontend_passes` once, each MatMul of two activations on
    the unit the cost model picks (`cimopt.cost.matmul_units.MatMulUnitChoice`), and lower.

    The compiler and `cimopt run`/`validate` both build a program's graph with this function."""
    if batch > 1:
        model = batched_model(model, batch)
        input_shapes = {k: (batch, *v[1:]) for k, v in (input_shapes or {}).items()}
    graph = ir_load.load(model, input_shapes)
    choice = MatMulUnitChoice(target)
    graph = PassManager(frontend_passes(target, choice))(graph).graph
    return Frontend(graph, lower(graph), list(choice.decisions), batch)
