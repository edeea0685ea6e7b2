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

from cimopt.cli import compile_cmd as cli_compile
from cimopt.cli.args import Parser


def light_graph(name: str) -> str:
    """Path of one of the onnx package's real network graphs (``light_resnet50`` ...)."""
    path = os.path.join(os.path.dirname(onnx.__file__), "backend/test/data/light", name + ".onnx")
    if not os.path.exists(path):
        raise CimoptError(f"the onnx package has no {path}; reinstall onnx")
    return path


def randomised(model: onnx.ModelProto, seed: int = 0) -> onnx.ModelProto:
    """The model with its ConstantOfShape weights replaced by seeded random ones (He-scaled for
    weights, uniform in [0.5, 1.5] for 1-D parameters) and a final Softmax turned into Identity,
    so its logits expose arithmetic errors."""
    rng = np.random.default_rng(seed)
    inits = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    outputs = {o.name for o in model.graph.output}
    keep = []
    for n in model.graph.node:
        if n.op_type == "Softmax" and n.output[0] in outputs:
            n.op_type = "Identity"
            del n.attribute[:]
        if n.op_type == "ConstantOfShape" and n.input[0] in inits:
            shape = [int(d) for d in inits[n.input[0]]]
            fan_in = int(np.prod(shape[1:])) if len(shape) > 1 else 0
            w = rng.normal(0, np.sqrt(2 / fan_in), shape) if fan_in else rng.uniform(0.5, 1.5, shape)
            model.graph.initializer.append(numpy_helper.from_array(w.astype(np.float32), n.output[0]))
            continue
        keep.append(n)
    del model.graph.node[:]
    model.graph.node.extend(keep)
    model.ir_version = max(model.ir_version, 7)
    return model


def bundled_model(seed: int = 0) -> onnx.ModelProto:
    """SqueezeNet from the onnx package's test data, with random weights and logits out."""
    return randomised(onnx.load(light_graph("light_squeezenet")), seed)


def _command(argv: list[str]) -> int:
    """Run one of the compile commands (``compile``, ``run``) as the command line would."""
    p = Parser(prog="cimopt")
    cli_compile.register(p.add_subparsers(dest="command", required=True, parser_class=Parser))
    args = p.parse_args(argv)
    return int(args.func(args))


def demo(target: str = "isaac", mode: str = "latency") -> int:
    """Compile the bundled SqueezeNet onto ``target``, run it, compare with onnxruntime; the exit code."""
    d = tempfile.mkdtemp(prefix="cimopt-demo-")
    model = os.path.join(d, "squeezenet.onnx")
    onnx.save(bundled_model(), model)
    prog = os.path.join(d, "squeezenet.program.json")
    print(f"$ cimopt compile {model} --target {target} --mode {mode} -o {prog}")
    rc = _command(["compile", model, "--target", target, "--mode", mode, "-o", prog, "--quiet"])
    if rc:
        return rc
    print(f"\n$ cimopt run {prog} {model}")
    return _command(["run", prog, model])
