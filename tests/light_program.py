"""A compiled light SqueezeNet on pimcomp (heuristic, latency), shared by the trace and plot tests."""
from __future__ import annotations

import functools
import os

import onnx

from cimopt.compiler import compile_model, CompileResult
from cimopt.demo import light_graph
from cimopt.ir.random_weights import randomise_light_graph
from cimopt.options import CompileOptions
from cimopt.targets.load import load_target

TARGET = "pimcomp"


@functools.lru_cache(maxsize=1)
def squeezenet() -> tuple[onnx.ModelProto, CompileResult]:
    """(the model with random weights, its compile result)."""
    model = randomise_light_graph(onnx.load(light_graph("light_squeezenet")), 0)
    return model, compile_model(model, load_target(TARGET), CompileOptions())


def save_model(directory: str) -> str:
    path = os.path.join(directory, "squeezenet.onnx")
    onnx.save(squeezenet()[0], path)
    return path
