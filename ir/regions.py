"""Values that are not tensors (sequences, optionals, maps) stay inside host regions.

cimopt's buffers, chunks and machine hold tensors.  ONNX also has sequence, optional and map
values (``SequenceConstruct``, ``SplitToSequence``, ``Optional``, ``ZipMap`` ...), which a model
may pass between its ops as long as what it finally returns is a tensor.  Each maximal set of
nodes joined by such values is contracted into one ``ai.cimopt::HostRegion`` node whose ``body``
attribute holds the member nodes in order: the region reads and writes tensors only, runs on
the host through onnxruntime (`ir.export.op_nodes` expands it back into its nodes), and the
rest of the compiler sees an ordinary host op.

A region is made convex: every node on a path from one member to another joins it, so that
contracting it cannot make a cycle.  A graph input or output that is not a tensor cannot be
contracted and raises `ModelError` naming it.
"""
from __future__ import annotations

from functools import lru_cache

import networkx as nx
import onnx
from onnx import helper

from cimopt.ir.errors import ModelError
from cimopt.ir.graph import CIMOPT_DOMAIN
from cimopt.ir.skeleton import skeleton
from cimopt.ir.subgraphs import outer_references, topological_order

#: op type of a contracted region (domain `ir.graph.CIMOPT_DOMAIN`); its ``body`` attribute is a GraphProto
REGION_OP = "HostRegion"
_NON_TENSOR = ("seq(", "optional(", "map(", "sparse_tensor(")


@lru_cache(maxsize=None)
def _makes_non_tensor(op_type: str, domain: str, opset: int) -> bool:
    """Whether the op has an output that is never a tensor (SequenceConstruct, Optional, ZipMap ...):
    only such ops, and graph inputs, bring non-tensor values into a graph (Identity, If and Loop
    pass on what they are given or what their bodies make)."""
    try:
        schema = onnx.defs.get_schema(op_type, opset, domain)
    except Exception:  # noqa: BLE001 - unknown op: the checker has already judged it
        return False
    return any(p.types and all(t.startswith(_NON_TENSOR) for t in p.types) for p in schema.outputs)


def _any_maker(g: onnx.GraphProto, opsets: dict[str, int]) -> bool:
    for n in g.node:
        if _makes_non_tensor(n.op_type, n.domain, opsets.get(n.domain, opsets.get("", 1))):
            return True
        subs = [sub for a in n.attribute for sub in ([a.g] if a.HasField("g") else []) + list(a.graphs)]
        if any(_any_maker(sub, opsets) for sub in subs):
            return True
    return False


def _kind(vi: onnx.ValueInfoProto) -> str:
    return vi.type.WhichOneof("value") or ""


def non_tensor_values(proto: onnx.ModelProto) -> set[str]:
    """Names of the main graph's values whose type is not a tensor (inferred by ONNX shape inference)."""
    opsets = {o.domain: o.version for o in proto.opset_import}
    g = proto.graph
    if not any(_kind(v) not in ("", "tensor_type") for v in g.input) and not _any_maker(g, opsets):
        return set()
    try:
        inferred = onnx.shape_inference.infer_shapes(skeleton(proto), check_type=False, strict_mode=False)
    except Exception:  # noqa: BLE001 - the strict checks before this one have reported real errors
        inferred = proto
    ig = inferred.graph
    return {v.name for v in (*ig.input, *ig.value_info, *ig.output) if _kind(v) not in ("", "tensor_type")}


def _regions(nodes: list[onnx.NodeProto], values: set[str]) -> list[list[int]]:
    """Node indices of each region, sorted, regions ordered by their first node."""
    producer = {t: i for i, n in enumerate(nodes) for t in n.output if t}
    reads = [[t for t in (*n.input, *outer_references(n)) if t] for n in nodes]
    dag = nx.DiGraph()
    dag.add_nodes_from(range(len(nodes)))
    dag.add_edges_from((producer[t], i) for i, ts in enumerate(reads) for t in ts if t in producer)
    links = nx.Graph()
    for i, ts in enumerate(reads):
        for t in ts:
            if t in values and t in producer:
                links.add_edge(producer[t], i)
        if any(t in values for t in nodes[i].output):
            links.add_node(i)
    out: list[list[int]] = []
    for comp in nx.connected_components(links):
        members = set(comp)
        while True:  # convex closure: whatever lies between two members joins
            down = set().union(*(nx.descendants(dag, m) for m in members))
            up = set().union(*(nx.ancestors(dag, m) for m in members))
            between = (down & up) - members
            if not between:
                break
            members |= between
        out.append(sorted(members))
    # closures may overlap: merge overlapping regions
    merged: list[set[int]] = []
    for r in sorted(map(set, out), key=min):
        hit = [m for m in merged if m & r]
        for m in hit:
            merged.remove(m)
            r |= m
        merged.append(r)
    return sorted((sorted(r) for r in merged), key=lambda r: r[0])


def _region_node(nodes: list[onnx.NodeProto], members: list[int], used_outside: set[str], k: int) -> onnx.NodeProto:
    inside = [nodes[i] for i in members]
    produced = {t for n in inside for t in n.output if t}
    ins: list[str] = []
    for n in inside:
        for t in (*n.input, *outer_references(n)):
            if t and t not in produced and t not in ins:
                ins.append(t)
    outs = [t for n in inside for t in n.output if t and t in used_outside]
    body = helper.make_graph(inside, f"host_region_{k}", [helper.make_empty_tensor_value_info(t) for t in ins],
                             [helper.make_empty_tensor_value_info(t) for t in outs])
    return helper.make_node(REGION_OP, ins, outs, name=f"host_region_{k}", domain=CIMOPT_DOMAIN, body=body)


def contract(proto: onnx.ModelProto, where: str) -> onnx.ModelProto:
    """``proto`` itself when every value of its main graph is a tensor; otherwise a copy whose
    regions of non-tensor values are each one `REGION_OP` node.  Raises `ModelError` for a graph
    input or output that is not a tensor."""
    values = non_tensor_values(proto)
    if not values:
        return proto
    g = proto.graph
    for v in (*g.input, *g.output):
        if v.name in values:
            raise ModelError(f"{where}: graph {'input' if v in g.input else 'output'} {v.name!r} is a "
                             f"{_kind(v).replace('_type', '')}, not a tensor; cimopt's machine takes and returns "
                             "tensors: export the model with tensor inputs and outputs")
    nodes = list(g.node)
    regions = _regions(nodes, values)
    member = {i: k for k, r in enumerate(regions) for i in r}
    graph_outputs = {o.name for o in g.output}
    new_nodes: list[onnx.NodeProto] = []
    for i, n in enumerate(nodes):
        k = member.get(i)
        if k is None:
            new_nodes.append(n)
            continue
        if i != regions[k][0]:
            continue
        inside = set(regions[k])
        used_outside = set(graph_outputs)
        for j, m in enumerate(nodes):
            if j not in inside:
                used_outside.update(t for t in (*m.input, *outer_references(m)) if t)
        new_nodes.append(_region_node(nodes, regions[k], used_outside, k))
    out = onnx.ModelProto()
    out.CopyFrom(proto)
    del out.graph.node[:]
    out.graph.node.extend(topological_order(new_nodes))
    keep = {t for n in new_nodes for t in n.output}
    kept_vi = [v for v in out.graph.value_info if v.name in keep]
    del out.graph.value_info[:]
    out.graph.value_info.extend(kept_vi)
    return out


__all__ = ["REGION_OP", "contract", "non_tensor_values"]
