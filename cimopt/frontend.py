"""ONNX model to a legalised Graph and its Workload on a target."""
from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import onnx

from cimopt.ir import load as ir_load
from cimopt.ir.graph import Graph
from cimopt.ir.passes.epilogue_fusion import epilogue_fusion
from cimopt.ir.passes.legalize import legalize
from cimopt.ir.passes.pipeline import optimize
from cimopt.ir.passes.split_oversized import split_oversized
from cimopt.ir.workload import Workload, lower
from cimopt.targets.spec import Target


@dataclass
class Frontend:
    """What the front end produced: the optimised, legalised graph and its workload."""

    graph: Graph
    workload: Workload


def prepare(model: str | os.PathLike[str] | onnx.ModelProto, target: Target,
            input_shapes: Mapping[str, Sequence[int]] | None = None) -> Frontend:
    """Load, optimise (fold, fuse, eliminate), split ops larger than half the chip, legalise for
    ``target``, fuse the vector ops its crossbar output stage applies in line (``core.output_stage_ops``)
    and lower a model."""
    graph = ir_load.load(model, input_shapes)
    graph = optimize(graph).graph
    c = target.core
    # a part must leave room for others in its segment and for placement's fragmentation
    limit = max(1, target.total_crossbars // 2)
    graph = split_oversized(graph, rows=c.crossbar_rows, cols=c.crossbar_cols, slices=target.weight_slices,
                            limit=limit).graph
    graph = legalize(graph, vector_matmul=target.core.vector_matmul, has_host=target.host is not None).graph
    graph = epilogue_fusion(graph, target.core.output_stage_ops).graph
    return Frontend(graph, lower(graph))
