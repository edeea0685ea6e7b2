"""Epilogue fusion pass: which vector ops become a crossbar op's epilogue, and that the fused graph
still computes the model's function (exported back to ONNX, run in onnxruntime)."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import helper

from cimopt.frontend import prepare
from cimopt.inputs import random_inputs
from cimopt.ir.export import to_onnx
from cimopt.ir.graph import OpClass
from cimopt.ir.load import load
from cimopt.ir.passes.epilogue_fusion import EpilogueFusion, FUSABLE
from cimopt.ir.passes.legalize import Legalize
from cimopt.ir.passes.manager import PassResult
from cimopt.ir.passes.optimize import optimize
from cimopt.targets.load import load_target

from pass_helpers import make_model, randomized_light

RNG = np.random.default_rng(5)
ALL = sorted(FUSABLE)


def _rand(*shape: int) -> np.ndarray:
    return (RNG.standard_normal(shape) * 0.3).astype(np.float32)


def _fused(nodes: list[onnx.NodeProto], inputs: dict[str, tuple[int, ...]], outputs: list[str],
           inits: dict[str, np.ndarray], allowed: Sequence[str] = tuple(ALL)) -> PassResult:
    g = optimize(load(make_model(nodes, inputs, outputs, inits))).graph
    g = Legalize(vector_matmul=False, has_host=True)(g).graph
    r = EpilogueFusion(frozenset(allowed))(g)
    return r


def _conv(x: str, y: str, name: str, **kw: object) -> onnx.NodeProto:
    return helper.make_node("Conv", [x, f"{name}_w"], [y], name=name, pads=[1, 1, 1, 1], **kw)


def test_not_fused_cases() -> None:
    w = {"c1_w": _rand(4, 3, 3, 3), "c2_w": _rand(4, 4, 3, 3)}
    # two readers of the conv output
    r = _fused([_conv("x", "c", "c1"), helper.make_node("Sigmoid", ["c"], ["s"]),
                helper.make_node("Mul", ["c", "s"], ["y"])], {"x": (1, 3, 8, 8)}, ["y"], w)
    assert not r.modified
    # the conv output is a graph output
    r = _fused([_conv("x", "c", "c1"), helper.make_node("Exp", ["c"], ["y"])], {"x": (1, 3, 8, 8)}, ["c", "y"], w)
    assert not r.modified
    # a residual broadcast along the chunk axis, and a pool with auto_pad
    r = _fused([_conv("x", "c", "c1"), helper.make_node("Add", ["c", "z"], ["y"])],
               {"x": (1, 3, 8, 8), "z": (1, 4, 1, 8)}, ["y"], w)
    assert not r.modified
    r = _fused([_conv("x", "c", "c1"), helper.make_node("MaxPool", ["c"], ["y"], kernel_shape=[3, 3],
                                                        auto_pad="SAME_UPPER", strides=[2, 2])],
               {"x": (1, 3, 8, 8)}, ["y"], w)
    assert not r.modified
    # allowed elsewhere, not on this target
    r = _fused([_conv("x", "c", "c1"), helper.make_node("Exp", ["c"], ["y"])], {"x": (1, 3, 8, 8)}, ["y"], w,
               allowed=["MaxPool"])
    assert not r.modified


def test_chain_and_residual() -> None:
    w = {"c1_w": _rand(4, 3, 3, 3), "c2_w": _rand(4, 4, 3, 3), "s": _rand(4, 1, 1)}
    nodes = [_conv("x", "c", "c1"), helper.make_node("Relu", ["c"], ["r"]), _conv("r", "d", "c2"),
             helper.make_node("Add", ["d", "r"], ["a"]), helper.make_node("Mul", ["a", "s"], ["y"])]
    r = _fused(nodes, {"x": (1, 3, 8, 8)}, ["y"], w)
    conv2 = r.graph.op("c2")
    assert r.modified and conv2.epilogue is not None
    assert [e.op_type for e in conv2.epilogue.ops] == ["Add", "Mul"] and conv2.outputs == ("y",)
    assert conv2.epilogue.tensor == "d" and "r" in conv2.epilogue.inputs() and "s" in conv2.epilogue.inputs()
    assert [o.op_class for o in r.graph.ops()] == [OpClass.CROSSBAR, OpClass.CROSSBAR]


def test_pool_split_into_width_and_height_parts() -> None:
    w = {"c1_w": _rand(4, 3, 3, 3)}
    r = _fused([_conv("x", "c", "c1"), helper.make_node("MaxPool", ["c"], ["y"], kernel_shape=[2, 2], strides=[2, 2])],
               {"x": (1, 3, 8, 8)}, ["y"], w)
    conv, pool = r.graph.ops()
    assert conv.epilogue is not None and conv.epilogue.ops[0].attr("kernel_shape") == (1, 2)
    assert pool.attr("kernel_shape") == (2, 1) and pool.attr("strides") == (2, 1) and pool.outputs == ("y",)
    assert r.graph.shape(conv.outputs[0]) == (1, 4, 8, 4)


@pytest.mark.parametrize("name,preset", [("resnet50", "puma"), ("bvlc_alexnet", "puma"), ("inception_v1", "isaac")])
def test_light_graphs_keep_their_function(name: str, preset: str) -> None:
    model = randomized_light(name)
    fe = prepare(model, load_target(preset))
    assert any(o.epilogue for o in fe.graph.ops())
    x = random_inputs(fe.graph, 0)
    out = fe.graph.outputs[0]
    mine = ort.InferenceSession(to_onnx(fe.graph).SerializeToString()).run([out], x)[0]
    ref = ort.InferenceSession(model.SerializeToString()).run([out], x)[0]
    assert np.abs(mine - ref).max() <= 1e-4 * np.abs(ref).max()
