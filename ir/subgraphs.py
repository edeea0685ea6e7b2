"""Outer-scope reads of control-flow subgraphs (If, Loop, Scan).

An ONNX subgraph may read any tensor of an enclosing graph by name without listing it as an
input of its node.  cimopt makes those reads explicit: `ir.load` appends them to the node's
inputs (after the node's own), so that the dependency graph, the buffer plan and the machine
treat them as inputs; `node_input_count` says how many inputs the ONNX node itself has, so
that export (`ir.export.op_nodes`) writes the node as ONNX defines it.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import networkx as nx
import onnx

#: Op types whose ONNX inputs are fixed by their body: If has its condition only; Loop and Scan
#: (opset >= 9) as many as their body has inputs.
CONTROL_FLOW = frozenset({"If", "Loop", "Scan"})


def _graph_attrs(attrs: Iterable[onnx.AttributeProto]) -> list[onnx.GraphProto]:
    out: list[onnx.GraphProto] = []
    for a in attrs:
        if a.HasField("g"):
            out.append(a.g)
        out.extend(a.graphs)
    return out


def _free_names(g: onnx.GraphProto) -> list[str]:
    """Names ``g`` (and its nested subgraphs) read that ``g`` does not define, in first-use order."""
    defined = {i.name for i in g.input} | {i.name for i in g.initializer} | \
        {t for n in g.node for t in n.output if t}
    out: list[str] = []
    for n in g.node:
        reads = [t for t in n.input if t]
        for sub in _graph_attrs(n.attribute):
            reads.extend(_free_names(sub))
        for t in reads:
            if t not in defined and t not in out:
                out.append(t)
    return out


def outer_references(node: onnx.NodeProto) -> list[str]:
    """Tensors of the enclosing graph that ``node``'s subgraphs read, in first-use order."""
    out: list[str] = []
    for sub in _graph_attrs(node.attribute):
        for t in _free_names(sub):
            if t not in out:
                out.append(t)
    return out


def node_input_count(op_type: str, attrs: Iterable[tuple[str, Any]], inputs: int) -> int:
    """How many of an op's ``inputs`` its ONNX node has (the rest are outer-scope reads)."""
    if op_type not in CONTROL_FLOW:
        return inputs
    if op_type == "If":
        return min(1, inputs)
    body = dict(attrs).get("body")
    if isinstance(body, onnx.GraphProto):
        return min(inputs, len(body.input))
    return inputs


def topological_order(nodes: list[onnx.NodeProto]) -> list[onnx.NodeProto]:
    """``nodes`` in a topological order (outer-scope reads of subgraphs count as inputs), ties kept
    in list order; a node reading a name no node produces (a graph input, an initialiser) is free."""
    producer = {t: i for i, n in enumerate(nodes) for t in n.output if t}
    dag = nx.DiGraph()
    dag.add_nodes_from(range(len(nodes)))
    dag.add_edges_from((producer[t], i) for i, n in enumerate(nodes)
                       for t in (*n.input, *outer_references(n)) if t in producer and producer[t] != i)
    return [nodes[i] for i in nx.lexicographical_topological_sort(dag)]
