"""ONNX model to a legalised Graph and its Workload on a target."""
from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import onnx

from cimopt.cost.matmul_units import MatMulDecision, decide
from cimopt.ir import load as ir_load
from cimopt.ir.graph import Graph, OpClass
from cimopt.ir.passes.epilogue_fusion import epilogue_fusion
from cimopt.ir.passes.legalize import legalize
from cimopt.ir.passes.optimize import optimize
from cimopt.ir.passes.split_oversized import split_oversized
from cimopt.ir.workload import Workload, lower
from cimopt.targets.spec import Target


@dataclass
class Frontend:
    """What the front end produced: the optimised, legalised graph and its workload, and where
    each MatMul of two activations runs (`cimopt.cost.matmul_units`)."""

    graph: Graph
    workload: Workload
    matmuls: list[MatMulDecision] = field(default_factory=list)


def prepare(model: str | os.PathLike[str] | onnx.ModelProto, target: Target,
            input_shapes: Mapping[str, Sequence[int]] | None = None) -> Frontend:
    """Load, optimise (fold, fuse, eliminate), split ops larger than half the chip, legalise for
    ``target``, fuse the vector ops its crossbar output stage applies in line (``core.output_stage_ops``),
    put each MatMul of two activations on the unit the cost model picks, and lower."""
    graph = ir_load.load(model, input_shapes)
    graph = optimize(graph).graph
    c = target.core
    # a part must leave room for others in its segment and for placement's fragmentation
    limit = max(1, target.total_crossbars // 2)
    graph = split_oversized(graph, rows=c.crossbar_rows, cols=c.crossbar_cols, slices=target.weight_slices,
                            limit=limit).graph
    graph = legalize(graph, vector_matmul=target.core.vector_matmul, has_host=target.host is not None,
                     runtime_writes=target.core.runtime_weight_writes).graph
    graph = epilogue_fusion(graph, target.core.output_stage_ops).graph
    workload = lower(graph)
    matmuls = decide(graph, workload, target)
    units = {"crossbar-written": OpClass.CROSSBAR, "vector": OpClass.VECTOR, "host": OpClass.HOST}
    changed = False
    for d in matmuls:
        op = graph.op(d.op)
        if op.op_class is not units[d.unit]:
            graph.replace_op(replace(op, op_class=units[d.unit]))
            changed = True
    return Frontend(graph, lower(graph) if changed else workload, matmuls)
