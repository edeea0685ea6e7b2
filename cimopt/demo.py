"""`make demo`: compile a bundled model, run it on the reference machine, compare with onnxruntime.

The bundled model is SqueezeNet 1.0 as the onnx package ships it (its real graph), given
seeded random He-scaled weights and logits as output, so that arithmetic errors show.
"""
from __future__ import annotations

import os
import tempfile

import numpy as np
import onnx
from onnx import numpy_helper

from cimopt.ir.errors import CimoptError


def bundled_model(seed: int = 0) -> onnx.ModelProto:
    """SqueezeNet from the onnx package's test data, with random weights and logits out."""
    path = os.path.join(os.path.dirname(onnx.__file__), "backend/test/data/light/light_squeezenet.onnx")
    if not os.path.exists(path):
        raise CimoptError(f"the onnx package has no {path}; reinstall onnx")
    m = onnx.load(path)
    rng = np.random.default_rng(seed)
    inits = {i.name: numpy_helper.to_array(i) for i in m.graph.initializer}
    users = {i: (n.op_type, k) for n in m.graph.node for k, i in enumerate(n.input)}
    outputs = {o.name for o in m.graph.output}
    keep = []
    for n in m.graph.node:
        if n.op_type == "Softmax" and n.output[0] in outputs:
            n.op_type = "Identity"
            del n.attribute[:]
        if n.op_type == "ConstantOfShape" and n.input[0] in inits:
            shape = [int(d) for d in inits[n.input[0]]]
            op, k = users.get(n.output[0], ("", -1))
            fan_in = int(np.prod(shape[1:])) if op == "Conv" and k == 1 else 0
            w = rng.normal(0, np.sqrt(2 / fan_in), shape) if fan_in else rng.normal(0, 0.1, shape)
            m.graph.initializer.append(numpy_helper.from_array(w.astype(np.float32), n.output[0]))
            continue
        keep.append(n)
    del m.graph.node[:]
    m.graph.node.extend(keep)
    m.ir_version = max(m.ir_version, 7)
    return m


def demo(target: str = "isaac", mode: str = "latency") -> int:
    from . import cli

    d = tempfile.mkdtemp(prefix="cimopt-demo-")
    model = os.path.join(d, "squeezenet.onnx")
    onnx.save(bundled_model(), model)
    prog = os.path.join(d, "squeezenet.program.json")
    print(f"$ cimopt compile {model} --target {target} --mode {mode} -o {prog}")
    rc = cli.main(["compile", model, "--target", target, "--mode", mode, "-o", prog, "--quiet"])
    if rc:
        return rc
    print(f"\n$ cimopt run {prog} {model}")
    return cli.main(["run", prog, model])
