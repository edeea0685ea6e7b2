"""ONNX export: any Graph back to a ModelProto that onnxruntime can run.

cimopt-only constructs are expanded into standard ONNX: a fused activation becomes its own
node after the producing op, a crossbar op's epilogue its fused ops after it, and
``ai.cimopt::Linear`` (X, W[, B]) becomes MatMul (+ Add), and an ``ai.cimopt::HostRegion``
(`ir.regions`) its member nodes.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

import numpy as np
import onnx
from onnx import helper, numpy_helper

from cimopt.ir.graph import CIMOPT_DOMAIN, Graph, OpSpec, TensorSpec
from cimopt.ir.onnx_attrs import make_attr, onnx_elem_type
from cimopt.ir.regions import REGION_OP
from cimopt.ir.subgraphs import node_input_count


def value_info(spec: TensorSpec) -> onnx.ValueInfoProto:
    shape = list(spec.shape) if spec.shape is not None else None
    return helper.make_tensor_value_info(spec.name, onnx_elem_type(spec.dtype), shape)


def op_nodes(op: OpSpec) -> list[onnx.NodeProto]:
    """The standard ONNX nodes that compute ``op``, fused activation, epilogue and Linear expanded."""
    if op.epilogue is not None:
        own = replace(op, outputs=(op.epilogue.tensor, *op.outputs[1:]), epilogue=None)
        return [n for o in (own, *op.epilogue.ops) for n in op_nodes(o)]
    outputs = list(op.outputs)
    act = op.activation
    pre = f"{op.outputs[0]}__preact" if act is not None else op.outputs[0]
    if act is not None:
        outputs[0] = pre
    nodes: list[onnx.NodeProto] = []
    if op.domain == CIMOPT_DOMAIN and op.op_type == REGION_OP:  # `ir.regions`: its member nodes
        return list(op.attr("body").node)
    if op.domain == CIMOPT_DOMAIN and op.op_type == "Linear":
        x, w = op.inputs[0], op.inputs[1]
        b = op.inputs[2] if len(op.inputs) > 2 and op.inputs[2] else ""
        mm_out = f"{op.name}__mm" if b else outputs[0]
        nodes.append(helper.make_node("MatMul", [x, w], [mm_out], name=f"{op.name}__matmul"))
        if b:
            nodes.append(helper.make_node("Add", [mm_out, b], [outputs[0]], name=f"{op.name}__bias"))
    else:
        own = node_input_count(op.op_type, op.attrs, len(op.inputs))   # outer-scope reads are not node inputs
        node = helper.make_node(op.op_type, list(op.inputs[:own]), outputs, name=op.name, domain=op.domain or None)
        node.attribute.extend(make_attr(k, v) for k, v in op.attrs)
        nodes.append(node)
    if act is not None:
        node = helper.make_node(act.op_type, [pre, *act.inputs], [op.outputs[0]], name=f"{op.name}__{act.op_type}")
        node.attribute.extend(make_attr(k, v) for k, v in act.attrs)
        nodes.append(node)
    return nodes


def _opset_imports(graph: Graph) -> list[onnx.OperatorSetIdProto]:
    opsets = {d: v for d, v in graph.opsets.items() if d != CIMOPT_DOMAIN}
    opsets.setdefault("", 17)
    return [helper.make_opsetid(d, v) for d, v in sorted(opsets.items())]


def to_onnx(graph: Graph, ops: Iterable[OpSpec] | None = None, *, weights_as_inputs_over: int | None = None,
            value_infos: bool = True) -> onnx.ModelProto:
    """Export ``graph`` (or the sub-list ``ops`` of it) as a runnable ModelProto.

    ``weights_as_inputs_over``: constants with more elements than this become typed graph
    inputs instead of initialisers (used for shape inference, where only small shape
    tensors need values).
    """
    op_list = graph.ops() if ops is None else list(ops)
    nodes = [n for op in op_list for n in op_nodes(op)]
    read = {t for n in nodes for t in n.input if t} | {t for op in op_list for t in op.inputs if t}
    inits, extra_inputs = [], []
    for t in sorted(read):
        a = graph.constants.get(t)
        if a is None:
            continue
        if weights_as_inputs_over is not None and a.size > weights_as_inputs_over:
            extra_inputs.append(helper.make_tensor_value_info(t, onnx_elem_type(a.dtype.name), list(a.shape)))
        else:
            inits.append(numpy_helper.from_array(np.require(a, requirements="C"), t))
    produced = {t for n in nodes for t in n.output}
    if ops is None:
        inputs = [value_info(graph.spec(t)) for t in graph.inputs]
        outputs = [value_info(graph.spec(t)) for t in graph.outputs]
    else:
        inputs = [value_info(graph.spec(t)) for t in sorted(read - produced - set(graph.constants))]
        outputs = [value_info(graph.spec(t)) for op in op_list for t in op.outputs if t]
    vis = []
    if value_infos:
        out_names = {o.name for o in outputs}
        vis = [value_info(graph.tensors[t]) for t in sorted(produced)
               if t in graph.tensors and graph.tensors[t].shape is not None and t not in out_names]
    g = helper.make_graph(nodes, graph.name or "cimopt", inputs + extra_inputs, outputs, inits, value_info=vis)
    opsets = _opset_imports(graph)
    model = helper.make_model(g, opset_imports=opsets, producer_name="cimopt")
    model.ir_version = max(7, helper.find_min_ir_version_for(opsets, True))
    return model
