"""Batched segments: a model that needs several segments runs B inferences through each segment
before the crossbars are reprogrammed, so the writes are paid once per B inferences.

The B inferences are the batch dimension of the model: `batched_model` sets dim 0 of every graph
input and output to B (and a Reshape's constant target shape whose first entry is the model's
batch of 1), so every op processes B independent inputs and a crossbar op's rows carry B images;
`reference_outputs` runs the original model once per inference and stacks the results.

`choose_batch`: the smallest B (a power of two, at most `MAX_BATCH`) whose reprogramming time
per inference (every tile's write over all crossbars writing in parallel, divided by B) is at
most a tenth of its crossbar time per inference (every MVM's crossbar-ns over all crossbars).
Memory: the memory plan puts what the local and global buffers cannot hold in DRAM; the targets
give no DRAM capacity, so B is capped only by `MAX_BATCH`, and ``--batch`` overrides it.
"""
from __future__ import annotations

import os

import onnx
from onnx import numpy_helper

from cimopt.cost.model import CostModel
from cimopt.ir.errors import ShapeError
from cimopt.ir.graph import OpClass
from cimopt.ir.load import model_name, read_model
from cimopt.ir.workload import Workload
from cimopt.targets.physics import timing

MAX_BATCH = 64


def needs_segments(workload: Workload, cm: CostModel) -> bool:
    """Whether one copy of every crossbar op's weights exceeds the chip (the mapping then segments)."""
    return sum(cm.crossbars(op) for op in workload.ops) > cm.target.total_crossbars


def choose_batch(workload: Workload, cm: CostModel) -> int:
    """Inferences per reprogramming for a segmented model (see the module docstring)."""
    t = cm.target
    xb = [op for op in workload.ops if op.op_class is OpClass.CROSSBAR and op.matrix is not None]
    writes = sum(timing.write_task(t, x.rows_used, x.cols_used).latency_ns for op in xb if not op.written
                 for x in cm.tiles(op))
    work = sum(cm.crossbars(op) * op.matrix.vectors * cm.op(op, 1).interval_ns for op in xb if op.matrix)
    want = 1
    while want < MAX_BATCH and writes / want > 0.1 * work:
        want *= 2
    return want


def batched_model(model: str | os.PathLike[str] | onnx.ModelProto, batch: int) -> onnx.ModelProto:
    """The model with batch ``batch``: dim 0 of inputs and outputs, and constant Reshape shapes
    that start with the batch of 1; raises ShapeError when the model's batch is not 1."""
    proto = onnx.ModelProto()
    proto.CopyFrom(read_model(model))
    proto.graph.name = model_name(model)   # the model's one name, batched or not
    g = proto.graph
    inits = {i.name: i for i in g.initializer}
    for vi in (*[i for i in g.input if i.name not in inits], *g.output):
        dims = vi.type.tensor_type.shape.dim
        if not dims or (dims[0].HasField("dim_value") and dims[0].dim_value not in (0, 1)):
            raise ShapeError(f"{vi.name}: a batch of {batch} needs a leading batch dimension of 1; "
                             f"the model's is {dims[0].dim_value if dims else 'absent'}; use --batch 1")
        dims[0].ClearField("dim_param")
        dims[0].dim_value = batch
    shapes = {n.input[1] for n in g.node if n.op_type == "Reshape" and len(n.input) > 1}
    for name in shapes & set(inits):
        arr = numpy_helper.to_array(inits[name]).copy()
        if arr.ndim == 1 and arr.size and arr[0] == 1:
            arr[0] = batch
            inits[name].CopyFrom(numpy_helper.from_array(arr, name))
    for n in g.node:
        if n.op_type == "Constant" and n.output[0] in shapes:
            for a in n.attribute:
                if a.name == "value":
                    arr = numpy_helper.to_array(a.t).copy()
                    if arr.ndim == 1 and arr.size and arr[0] == 1:
                        arr[0] = batch
                        a.t.CopyFrom(numpy_helper.from_array(arr, a.t.name))
    del g.value_info[:]
    return proto

