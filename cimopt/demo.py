"""`make demo`: compile a bundled model, run it on the reference machine, compare with onnxruntime
(`cimopt.compiler.compile_model`, then `cimopt.checked_run.checked_run` on the compile's front end).

The bundled model is SqueezeNet 1.0 as the onnx package ships it (its real graph), given
seeded random He-scaled weights and logits as output, so that arithmetic errors show.
"""
from __future__ import annotations

import os
import tempfile
from dataclasses import replace

import onnx

from cimopt.checked_run import checked_run
from cimopt.compiler import compile_model
from cimopt.inputs import random_inputs
from cimopt.ir import program
from cimopt.ir.errors import CimoptError
from cimopt.ir.load import read_model
from cimopt.ir.random_weights import randomise_light_graph
from cimopt.options import CompileOptions
from cimopt.report.machine_run import run_lines
from cimopt.report.summary import compile_summary
from cimopt.targets.load import load_target


def light_graph(name: str) -> str:
    """Path of one of the onnx package's real network graphs (``light_resnet50`` ...)."""
    path = os.path.join(os.path.dirname(onnx.__file__), "backend/test/data/light", name + ".onnx")
    if not os.path.exists(path):
        raise CimoptError(f"the onnx package has no {path}; reinstall onnx")
    return path


def bundled_model(seed: int = 0) -> onnx.ModelProto:
    """SqueezeNet from the onnx package's test data, with random weights and logits out."""
    return randomise_light_graph(onnx.load(light_graph("light_squeezenet")), seed)


def demo(target: str = "isaac", mode: str = "latency") -> int:
    """Compile the bundled SqueezeNet onto ``target``, run it, compare with onnxruntime; the exit code
    (`cimopt run`'s).  Prints what ``cimopt compile`` and ``cimopt run`` would, with the commands."""
    d = tempfile.mkdtemp(prefix="cimopt-demo-")
    model = os.path.join(d, "squeezenet.onnx")
    onnx.save(bundled_model(), model)
    prog_path = os.path.join(d, "squeezenet.program.json")
    print(f"$ cimopt compile {model} --target {target} --mode {mode} -o {prog_path}")
    tgt = load_target(target)
    res = compile_model(model, tgt, CompileOptions(mode=mode))
    p = replace(res.program, extra=res.program.extra + (("target_ref", target),))
    program.save(p, prog_path)
    print(compile_summary(res))
    print(f"program written to {prog_path}")
    print(f"\n$ cimopt run {prog_path} {model}")
    run = checked_run(p, res.frontend.graph, tgt, read_model(model, "refuse"), random_inputs(res.frontend.graph, 0))
    for line in run_lines(run, p):
        print(line)
    return 0 if run.ok else 1
