"""A weight-free copy of an ONNX model for the checks that only need types and shapes.

The ONNX checker and an onnxruntime session serialise the whole model, weights included: a
ResNet-50 costs about 0.2 s per serialisation. `skeleton` keeps every node, input, output and
small constant, and turns each large initialiser into a typed graph input of the same shape,
so those checks see the same structure and shapes at a fraction of the cost. The weights'
own values are checked separately (`ir.validate.check_weights`).
"""
from __future__ import annotations

import math

import onnx
from google.protobuf.message import Message

#: Initialisers with more elements than this become typed graph inputs in a skeleton; smaller
#: ones (shape tensors, axes, scales that shape inference reads by value) stay.
SMALL_ELEMENTS = 4096


def _copy_fields(dst: Message, src: Message, skip: str) -> None:
    """Copy every set field of ``src`` into ``dst`` except the one named ``skip``."""
    for fd, value in src.ListFields():
        if fd.name == skip:
            continue
        if fd.is_repeated:
            getattr(dst, fd.name).extend(value)
        elif fd.type == fd.TYPE_MESSAGE:
            getattr(dst, fd.name).CopyFrom(value)
        else:
            setattr(dst, fd.name, value)


def skeleton(proto: onnx.ModelProto, over: int = SMALL_ELEMENTS) -> onnx.ModelProto:
    """``proto`` with initialisers of more than ``over`` elements replaced by typed graph inputs.

    ``proto`` is not changed. An initialiser already listed as a graph input (IR < 4 models)
    keeps its input entry; others get one with the initialiser's element type and dims.
    """
    graph = onnx.GraphProto()
    _copy_fields(graph, proto.graph, "initializer")
    listed = {vi.name for vi in proto.graph.input}
    for t in proto.graph.initializer:
        if math.prod(int(d) for d in t.dims) <= over:
            graph.initializer.append(t)
        elif t.name not in listed:
            graph.input.append(onnx.helper.make_tensor_value_info(t.name, t.data_type, [int(d) for d in t.dims]))
    model = onnx.ModelProto()
    _copy_fields(model, proto, "graph")
    model.graph.CopyFrom(graph)
    return model


__all__ = ["skeleton", "SMALL_ELEMENTS"]
