"""Constant folding: values known before the graph runs become constants, the function stays."""
from __future__ import annotations


import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from cimopt.ir.load import from_onnx, load
from cimopt.ir.passes import constant_folding as cf
from cimopt.ir.passes.constant_folding import ConstantFolding

from pass_helpers import apply_and_compare, light_path, make_model, op_types

I64 = np.int64


def test_pytorch_flatten_chain_folds_to_a_constant_reshape() -> None:
    nodes = [
        helper.make_node("Shape", ["x"], ["s"]),
        helper.make_node("Constant", [], ["i0"], value=numpy_helper.from_array(np.array(0, I64))),
        helper.make_node("Gather", ["s", "i0"], ["d0"], axis=0),
        helper.make_node("Constant", [], ["ax"], value_ints=[0]),
        helper.make_node("Unsqueeze", ["d0", "ax"], ["d0u"]),
        helper.make_node("Constant", [], ["m1"], value=numpy_helper.from_array(np.array([-1], I64))),
        helper.make_node("Concat", ["d0u", "m1"], ["shape"], axis=0),
        helper.make_node("Reshape", ["x", "shape"], ["y"]),
    ]
    model = make_model(nodes, {"x": (2, 3, 4, 5)}, ["y"], opset=13)
    r = apply_and_compare(model, ConstantFolding())
    assert r.modified
    assert op_types(r.graph) == ["Reshape"]
    reshape = r.graph.ops()[0]
    np.testing.assert_array_equal(r.graph.constants[reshape.inputs[1]], [2, -1])
    assert set(r.graph.constants) == {reshape.inputs[1]}  # intermediate shape values pruned


def test_constant_of_shape_weight_folds_into_an_initializer() -> None:
    nodes = [helper.make_node("ConstantOfShape", ["wshape"], ["w"],
                              value=helper.make_tensor("v", TensorProto.FLOAT, [1], [0.25])),
             helper.make_node("Conv", ["x", "w"], ["y"])]
    model = make_model(nodes, {"x": (1, 2, 5, 5)}, ["y"], {"wshape": np.array([4, 2, 3, 3], I64)}, opset=9)
    r = apply_and_compare(model, ConstantFolding())
    assert op_types(r.graph) == ["Conv"]
    w = r.graph.constants["w"]
    assert w.shape == (4, 2, 3, 3) and w.dtype == np.float32 and np.all(w == np.float32(0.25))
    assert "wshape" not in r.graph.constants and "w" not in r.graph.tensors


@pytest.mark.parametrize("attr, value, dtype", [
    ("value_float", 1.5, np.float32), ("value_floats", [1.0, 2.0], np.float32),
    ("value_int", 3, np.int64), ("value_ints", [1, 2], np.int64),
    ("value", numpy_helper.from_array(np.array([[1.0, 2.0]], np.float32)), np.float32)])
def test_constant_attribute_forms(attr: str, value: object, dtype: type) -> None:
    nodes = [helper.make_node("Constant", [], ["c"], **{attr: value}),
             helper.make_node("Cast", ["c"], ["cf"], to=TensorProto.FLOAT),
             helper.make_node("Add", ["x", "cf"], ["y"])]
    model = make_model(nodes, {"x": (2, 2)}, ["y"])
    r = apply_and_compare(model, ConstantFolding())
    assert op_types(r.graph) == ["Add"]
    const = r.graph.constants[r.graph.ops()[0].inputs[1]]
    assert const.dtype == np.float32


def _no_onnxruntime(graph: object, op: object) -> None:
    raise AssertionError(f"numpy evaluator missing for {op}")


def _fold_all(nodes: list[onnx.NodeProto], initializers: dict[str, np.ndarray], opset: int = 17,
              monkeypatch: pytest.MonkeyPatch | None = None) -> None:
    """Nodes computing ``c`` from constants only; ``y = x + Cast(c)`` keeps the graph input live.

    With ``monkeypatch``, every op must be evaluated in numpy (the onnxruntime fallback fails).
    """
    if monkeypatch is not None:
        monkeypatch.setattr(cf, "_run_onnxruntime", _no_onnxruntime)
    nodes = [*nodes, helper.make_node("Cast", ["c"], ["cf"], to=TensorProto.FLOAT),
             helper.make_node("Add", ["x", "cf"], ["y"])]
    model = make_model(nodes, {"x": (2, 3, 4)}, ["y"], initializers, opset=opset)
    r = apply_and_compare(model, ConstantFolding())
    assert op_types(r.graph) == ["Add"], op_types(r.graph)


def test_numpy_evaluators_match_onnxruntime(monkeypatch: pytest.MonkeyPatch) -> None:
    a = np.arange(24, dtype=np.float32).reshape(2, 3, 4) - 7.5
    inits = {"a": a, "z": np.array([0, 0, -1], I64), "st": np.array([1], I64), "en": np.array([100], I64),
             "axs": np.array([2], I64), "sp": np.array([-1], I64), "neg": np.array([-100], I64), "perm_src": np.array([4, 3, 2], I64)}
    _fold_all([helper.make_node("Reshape", ["a", "z"], ["r"]),           # 0 copies, -1 infers
               helper.make_node("Transpose", ["r"], ["t"], perm=[0, 2, 1]),
               helper.make_node("Slice", ["t", "en", "neg", "axs", "sp"], ["s"]),  # reversed
               helper.make_node("Flatten", ["s"], ["f"], axis=0),
               helper.make_node("Reshape", ["f", "perm_src"], ["rr"]),
               helper.make_node("Transpose", ["rr"], ["c0"]),
               helper.make_node("Neg", ["c0"], ["c1"]),
               helper.make_node("Abs", ["c1"], ["c2"]),
               helper.make_node("Shape", ["c2"], ["sh"]),
               helper.make_node("ConstantOfShape", ["sh"], ["ones"],
                                value=helper.make_tensor("v", TensorProto.FLOAT, [1], [2.0])),
               helper.make_node("Div", ["c2", "ones"], ["c3"]),
               helper.make_node("Max", ["c3", "ones"], ["c"])], inits, monkeypatch=monkeypatch)


def test_integer_arithmetic_truncates_like_onnx(monkeypatch: pytest.MonkeyPatch) -> None:
    inits = {"n": np.array([-7, 7, -8, 9], I64), "d": np.array([2, -2, 3, 4], I64),
             "b": np.array([1, 1, 1, 1], I64)}
    _fold_all([helper.make_node("Div", ["n", "d"], ["q"]),
               helper.make_node("Mul", ["q", "d"], ["m"]),
               helper.make_node("Sub", ["m", "b"], ["s"]),
               helper.make_node("Add", ["s", "n"], ["c4"]),
               helper.make_node("Slice", ["c4", "st", "en"], ["c"])],
              {**inits, "st": np.array([0], I64), "en": np.array([4], I64)}, monkeypatch=monkeypatch)


def test_range_squeeze_unsqueeze_gather_expand_where(monkeypatch: pytest.MonkeyPatch) -> None:
    inits = {"idx": np.array([[3, 1], [0, -1]], I64), "eshape": np.array([3, 1, 1], I64)}
    # 0-d values come from Constant ops: ir.export writes 0-d initializers as shape (1,)
    scalars = [helper.make_node("Constant", [], [n], value=numpy_helper.from_array(np.array(v, I64)))
               for n, v in (("r0", 0), ("r1", 4), ("r2", 1), ("two", 2))]
    _fold_all([*scalars,
               helper.make_node("Range", ["r0", "r1", "r2"], ["rg"]),
               helper.make_node("Gather", ["rg", "idx"], ["g"], axis=0),          # (2, 2), negative index
               helper.make_node("Unsqueeze", ["g"], ["u"], axes=[0]),             # opset 11: axes attribute
               helper.make_node("Squeeze", ["u"], ["sq"], axes=[0]),
               helper.make_node("Equal", ["sq", "two"], ["eq"]),
               helper.make_node("Where", ["eq", "sq", "two"], ["w"]),
               helper.make_node("Size", ["w"], ["size"]),
               helper.make_node("Expand", ["w", "eshape"], ["ex"]),              # (3, 2, 2)
               helper.make_node("Reshape", ["ex", "flat"], ["ex1"]),              # (12,)
               helper.make_node("Slice", ["ex1", "st", "en"], ["ex2"]),         # (4,)
               helper.make_node("Add", ["ex2", "size"], ["c"])],
              {**inits, "flat": np.array([-1], I64), "st": np.array([0], I64), "en": np.array([4], I64)},
              opset=11, monkeypatch=monkeypatch)


def test_reshape_allowzero_and_shape_start_end() -> None:
    inits = {"a": np.arange(12, dtype=np.float32).reshape(3, 4), "s0": np.array([0, 2, 2], I64)}
    nodes = [helper.make_node("Reshape", ["a", "s0"], ["r"], allowzero=0),   # (3, 2, 2)
             helper.make_node("Shape", ["r"], ["sh"], start=1, end=3),
             helper.make_node("Cast", ["sh"], ["shf"], to=TensorProto.FLOAT),
             helper.make_node("Concat", ["shf", "shf"], ["cf0"], axis=0),
             helper.make_node("Slice", ["cf0", "st", "en"], ["cf1"]),
             helper.make_node("Add", ["x", "cf1"], ["y"])]
    inits.update({"st": np.array([0], I64), "en": np.array([4], I64)})
    model = make_model(nodes, {"x": (3, 4)}, ["y"], inits, opset=15)
    r = apply_and_compare(model, ConstantFolding())
    assert op_types(r.graph) == ["Add"]


def test_ops_without_numpy_evaluator_fold_through_onnxruntime() -> None:
    w = np.random.default_rng(1).standard_normal((2, 1, 3, 3)).astype(np.float32)
    nodes = [helper.make_node("Sqrt", ["p"], ["sp"]),
             helper.make_node("Conv", ["cx", "w"], ["cv"]),
             helper.make_node("Mul", ["cv", "sp"], ["k"]),
             helper.make_node("Add", ["x", "k"], ["y"])]
    inits = {"p": np.array([4.0], np.float32), "cx": np.ones((1, 1, 5, 5), np.float32), "w": w}
    model = make_model(nodes, {"x": (1, 2, 3, 3)}, ["y"], inits)
    r = apply_and_compare(model, ConstantFolding())
    assert op_types(r.graph) == ["Add"]


def test_shape_of_a_non_constant_tensor_with_static_shape_folds() -> None:
    nodes = [helper.make_node("Relu", ["x"], ["r"]),
             helper.make_node("Shape", ["r"], ["s"]),
             helper.make_node("Size", ["x"], ["n"]),
             helper.make_node("Unsqueeze", ["n", "ax"], ["nu"]),
             helper.make_node("Concat", ["s", "nu"], ["cat"], axis=0),
             helper.make_node("Cast", ["cat"], ["catf"], to=TensorProto.FLOAT),
             helper.make_node("Add", ["r", "catf"], ["y"])]
    model = make_model(nodes, {"x": (2, 3, 4)}, ["y"], {"ax": np.array([0], I64)})
    r = apply_and_compare(model, ConstantFolding())
    assert op_types(r.graph) == ["Relu", "Add"]
    np.testing.assert_array_equal(r.graph.constants[r.graph.ops()[1].inputs[1]], [2, 3, 4, 24])


def test_graph_output_that_becomes_constant_keeps_its_name() -> None:
    nodes = [helper.make_node("Add", ["a", "b"], ["c"]),
             helper.make_node("Mul", ["c", "c"], ["k"]),
             helper.make_node("Add", ["x", "k"], ["y"])]
    inits = {"a": np.array([1.0, 2.0], np.float32), "b": np.array([3.0, 4.0], np.float32)}
    model = make_model(nodes, {"x": (2,)}, ["y", "c"], inits)
    r = apply_and_compare(model, ConstantFolding())
    g = r.graph
    assert g.outputs == ["y", "c"]
    assert sorted(op_types(g)) == ["Add", "Identity"]
    keep = g.producer("c")
    assert keep is not None and keep.op_type == "Identity"
    np.testing.assert_array_equal(g.constants[keep.inputs[0]], [4.0, 6.0])
    assert not ConstantFolding()(g).modified  # the Identity that keeps the output is left alone


def test_random_ops_are_not_folded() -> None:
    nodes = [helper.make_node("RandomNormal", [], ["rn"], shape=[2]),
             helper.make_node("Add", ["x", "rn"], ["y"])]
    g = load(make_model(nodes, {"x": (2,)}, ["y"]))
    r = ConstantFolding()(g)
    assert not r.modified and op_types(g) == ["RandomNormal", "Add"]


def test_training_mode_dropout_is_not_folded() -> None:
    nodes = [helper.make_node("Dropout", ["a", "ratio", "train"], ["d"]),
             helper.make_node("Add", ["x", "d"], ["y"])]
    inits = {"a": np.ones(4, np.float32), "ratio": np.array(0.5, np.float32), "train": np.array(True)}
    g = from_onnx(make_model(nodes, {"x": (4,)}, ["y"], inits))  # load's shape check trips on ratio
    assert not ConstantFolding()(g).modified and "Dropout" in op_types(g)


def test_inference_dropout_of_a_constant_folds() -> None:
    nodes = [helper.make_node("Dropout", ["a"], ["d"], ratio=0.3),
             helper.make_node("Add", ["x", "d"], ["y"])]
    model = make_model(nodes, {"x": (4,)}, ["y"], {"a": np.arange(4, dtype=np.float32)}, opset=9)
    r = apply_and_compare(model, ConstantFolding())
    assert op_types(r.graph) == ["Add"]


def test_nothing_to_fold_reports_unmodified() -> None:
    model = make_model([helper.make_node("Relu", ["x"], ["y"])], {"x": (2,)}, ["y"])
    g = load(model)
    assert not ConstantFolding()(g).modified


def test_densenet_folds() -> None:
    """(Its speed is measured by experiments/frontend_bench.py, not asserted here.)"""
    g = load(light_path("densenet121"))
    r = ConstantFolding()(g)
    assert r.modified
    types = op_types(g)
    assert "ConstantOfShape" not in types and "Unsqueeze" not in types
    assert types.count("Conv") == 121
