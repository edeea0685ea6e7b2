"""Identity elimination: Identity and inference Dropout go, graph outputs keep their names."""
from __future__ import annotations

import numpy as np
from onnx import helper

from cimopt.ir.load import from_onnx, load
from cimopt.ir.passes.identity_elimination import IdentityElimination

from pass_helpers import apply_and_compare, make_model, op_types, random_feeds, run, run_graph


def test_chain_of_identities_in_the_middle() -> None:
    nodes = [helper.make_node("Relu", ["x"], ["a"]), helper.make_node("Identity", ["a"], ["b"]),
             helper.make_node("Identity", ["b"], ["c"]), helper.make_node("Add", ["c", "b"], ["y"])]
    model = make_model(nodes, {"x": (2, 3)}, ["y"])
    r = apply_and_compare(model, IdentityElimination())
    assert r.modified and op_types(r.graph) == ["Relu", "Add"]
    assert r.graph.ops()[1].inputs == ("a", "a")
    assert "b" not in r.graph.tensors and "c" not in r.graph.tensors


def test_identity_writing_a_graph_output_renames_the_producer() -> None:
    nodes = [helper.make_node("Relu", ["x"], ["a"]), helper.make_node("Identity", ["a"], ["y"]),
             helper.make_node("Neg", ["a"], ["z"])]
    model = make_model(nodes, {"x": (2, 3)}, ["y", "z"])
    r = apply_and_compare(model, IdentityElimination())
    relu, neg = r.graph.ops()
    assert relu.outputs == ("y",) and neg.inputs == ("y",) and r.graph.outputs == ["y", "z"]


def test_identities_that_must_stay() -> None:
    nodes = [helper.make_node("Identity", ["x"], ["y1"]),            # graph input -> graph output
             helper.make_node("Relu", ["x"], ["r"]),
             helper.make_node("Identity", ["r"], ["y2"]),            # r is itself a graph output
             helper.make_node("Identity", ["k"], ["y3"])]            # constant -> graph output
    model = make_model(nodes, {"x": (2, 3)}, ["y1", "r", "y2", "y3"], {"k": np.ones((2, 3), np.float32)})
    g = load(model)
    assert not IdentityElimination()(g).modified
    assert op_types(g) == ["Identity", "Relu", "Identity", "Identity"]


def test_dropout_with_unused_mask_goes() -> None:
    nodes = [helper.make_node("Relu", ["x"], ["a"]),
             helper.make_node("Dropout", ["a", "ratio", "train"], ["d", "mask"]),
             helper.make_node("Dropout", ["d"], ["e"]),
             helper.make_node("Neg", ["e"], ["y"])]
    inits = {"ratio": np.array([0.5], np.float32).reshape(()), "train": np.array(False)}
    model = make_model(nodes, {"x": (2, 3)}, ["y"], inits, opset=13)
    # from_onnx: ir.export writes 0-d initializers (ratio) as shape (1,), which trips load's check
    g = from_onnx(model)
    r = IdentityElimination()(g)
    assert r.modified and op_types(g) == ["Relu", "Neg"]
    assert g.ops()[1].inputs == ("a",)
    feeds = random_feeds(model)
    np.testing.assert_array_equal(run_graph(g, feeds)["y"], run(model, feeds)["y"])


def test_dropout_in_old_opset_goes() -> None:
    nodes = [helper.make_node("Relu", ["x"], ["a"]), helper.make_node("Dropout", ["a"], ["y"], ratio=0.5)]
    model = make_model(nodes, {"x": (2, 3)}, ["y"], opset=9)
    r = apply_and_compare(model, IdentityElimination())
    assert op_types(r.graph) == ["Relu"] and r.graph.ops()[0].outputs == ("y",)


def test_dropout_whose_mask_is_read_or_training_stays() -> None:
    nodes = [helper.make_node("Dropout", ["x"], ["d", "mask"]),
             helper.make_node("Not", ["mask"], ["y2"]),
             helper.make_node("Dropout", ["x", "", "train"], ["y3"])]
    model = make_model(nodes, {"x": (2, 3), "train": ()}, ["d", "y2", "y3"],
                       input_types={"train": 9})
    g = load(model)
    assert not IdentityElimination()(g).modified
    assert op_types(g).count("Dropout") == 2
