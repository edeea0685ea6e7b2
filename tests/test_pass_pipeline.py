"""The optimisation pipeline on every light graph with random weights: same outputs, fewer ops."""
from __future__ import annotations


import pytest

from cimopt.ir.graph import CIMOPT_DOMAIN
from cimopt.ir.load import load
from cimopt.ir.passes.activation_fusion import PRODUCERS as ACTIVATION_PRODUCERS
from cimopt.ir.passes.optimize import optimize

from pass_helpers import LIGHT_NAMES, assert_graphs_agree, light_path, op_types, randomized_light_graph

#: Op types no light graph keeps after the pipeline (DenseNet keeps the BatchNorms that follow a
#: Concat or MaxPool: no weighted op to fold them into).
GONE = ("ConstantOfShape", "Dropout", "Unsqueeze", "Mul", "Add")
#: VGG-19 (140M weights, 20 GFLOP twice in onnxruntime) alone takes 5-8 s: it runs with -m slow.
CASES = [pytest.param(n, marks=pytest.mark.slow) if n == "vgg19" else n for n in LIGHT_NAMES]


@pytest.mark.parametrize("name", CASES)
def test_optimize_light_graph_keeps_function(name: str) -> None:
    graph = randomized_light_graph(name)
    before = graph.copy()
    result = optimize(graph)
    assert result.modified and result.graph is graph
    types = op_types(graph)
    assert len(types) < len(before)
    assert not set(GONE) & set(types), (name, set(GONE) & set(types))
    if name != "densenet121":
        assert "BatchNormalization" not in types
    for op in graph.ops():
        if op.op_type == "Relu":  # only after ops that cannot carry an activation (Concat here)
            producer = graph.producer(op.inputs[0])
            assert producer is not None and producer.op_type not in ACTIVATION_PRODUCERS, (name, producer)
    assert all(op.domain != CIMOPT_DOMAIN or op.op_type == "Linear" for op in graph.ops())
    assert all(graph.spec(t).known for op in graph.ops() for t in op.outputs if t)
    assert graph.outputs == before.outputs and graph.inputs == before.inputs
    assert_graphs_agree(before, graph)


def test_optimize_folds_densenet_weights() -> None:
    """(Its speed is measured by experiments/frontend_bench.py, not asserted here.)"""
    graph = load(light_path("densenet121"))
    optimize(graph)
    types = op_types(graph)
    assert types.count("Conv") == 121
    assert not {"ConstantOfShape", "Unsqueeze", "Mul", "Add", "Relu"} & set(types)
    assert types.count("BatchNormalization") == 62


def test_optimize_reaches_a_fixpoint() -> None:
    graph = optimize(randomized_light_graph("inception_v2")).graph
    snapshot = op_types(graph)
    again = optimize(graph)
    assert not again.modified
    assert op_types(again.graph) == snapshot
