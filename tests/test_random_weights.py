"""`--random-weights`: every weight replaced by seeded random values, the same for compile and run."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import models
from cimopt.cli.main import main
from cimopt.ir.load import model_name
from cimopt.ir.random_weights import randomise_weights, randomised_file


def constant_cnn() -> onnx.ModelProto:
    """A light-graph-like CNN: its conv and gemm weights are ConstantOfShape fills (one constant),
    so its softmax output is the same for every input."""
    n = helper.make_node
    shape = lambda name, *dims: numpy_helper.from_array(np.array(dims, np.int64), name)  # noqa: E731
    one = helper.make_tensor("one", TensorProto.FLOAT, [1], [1.0])
    nodes = [
        n("ConstantOfShape", ["w1_shape"], ["w1"], value=one),
        n("Conv", ["x", "w1"], ["c1"], pads=[1, 1, 1, 1]),
        n("Relu", ["c1"], ["r1"]),
        n("GlobalAveragePool", ["r1"], ["p"]),
        n("Flatten", ["p"], ["f"]),
        n("ConstantOfShape", ["w2_shape"], ["w2"], value=one),
        n("Gemm", ["f", "w2", "b2"], ["logits"], transB=1),
        n("Softmax", ["logits"], ["prob"], axis=1),
    ]
    g = helper.make_graph(nodes, "constcnn", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
                          [helper.make_tensor_value_info("prob", TensorProto.FLOAT, [1, 10])],
                          [shape("w1_shape", 8, 3, 3, 3), shape("w2_shape", 10, 8),
                           numpy_helper.from_array(np.full(10, 0.5, np.float32), "b2"),
                           numpy_helper.from_array(np.float32(1e-5).reshape(()), "eps")])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


def _weights(m: onnx.ModelProto) -> dict[str, np.ndarray]:
    return {t.name: numpy_helper.to_array(t) for t in m.graph.initializer}


def test_every_weight_random_and_seeded() -> None:
    m = constant_cnn()
    a, b, c = randomise_weights(m, 0), randomise_weights(m, 0), randomise_weights(m, 1)
    assert not any(n.op_type == "ConstantOfShape" for n in a.graph.node)     # fills became initializers
    wa = _weights(a)
    for name in ("w1", "w2", "b2"):
        assert wa[name].std() > 0, name                                        # no constant weight left
    assert wa["w1"].shape == (8, 3, 3, 3) and wa["w2"].shape == (10, 8)
    assert a.SerializeToString() == b.SerializeToString()                      # same seed: same model
    assert not np.array_equal(wa["w1"], _weights(c)["w1"])                     # another seed: other weights
    assert wa["eps"] == np.float32(1e-5)                                       # one-element constants kept
    assert _weights(m)["b2"].std() == 0 and any(n.op_type == "ConstantOfShape" for n in m.graph.node)  # input kept
    # He scaling: conv weights ~ N(0, 2 / 27)
    assert wa["w1"].std() == pytest.approx(np.sqrt(2 / 27), rel=0.35)
    onnx.checker.check_model(a)


def test_steering_tensors_and_batchnorm_variances() -> None:
    """Resize scales stay; BatchNorm scales and variances stay positive."""
    m = models.small_cnn()
    before = _weights(m)
    after = _weights(randomise_weights(m, 0))
    resize_inputs = {i for nd in m.graph.node if nd.op_type == "Resize" for i in nd.input[1:]}
    for name in resize_inputs & set(before):
        assert np.array_equal(before[name], after[name]), name
    for nd in m.graph.node:
        if nd.op_type == "BatchNormalization":
            assert (after[nd.input[1]] >= 0.5).all() and (after[nd.input[4]] >= 0.5).all()
    changed = [k for k in before if before[k].size > 1 and before[k].dtype.kind == "f" and k not in resize_inputs]
    assert changed and all(not np.array_equal(before[k], after[k]) for k in changed)


def test_randomised_file_keeps_the_files_name(tmp_path: Path) -> None:
    path = tmp_path / "light_const.onnx"
    onnx.save(constant_cnn(), path)
    assert randomised_file(str(path), 0).graph.name == model_name(str(path)) == "light_const"


def test_compile_and_run_agree(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = str(tmp_path / "const.onnx")
    onnx.save(constant_cnn(), path)
    plain, rnd = str(tmp_path / "plain.json"), str(tmp_path / "rnd.json")
    assert main(["compile", path, "--target", "edge", "-o", plain, "--quiet"]) == 0
    assert main(["compile", path, "--target", "edge", "-o", rnd, "--quiet", "--random-weights",
                 "--weight-seed", "7"]) == 0
    out = capsys.readouterr().out
    assert "const on edge" in out                              # the file's name, with random weights too
    # constant weights: the verdict is uninformative and says what helps
    assert main(["run", plain, path]) == 1
    out = capsys.readouterr().out
    assert "match: uninformative" in out and "--random-weights" in out
    # random weights: compiled and run from the same randomised model
    assert main(["run", rnd, path, "--random-weights", "--weight-seed", "7"]) == 0
    assert "match: yes" in capsys.readouterr().out
    assert main(["validate", rnd, path]) == 0
    capsys.readouterr()
    for argv, needle in (
            (["run", rnd, path], "compiled with --random-weights --weight-seed 7"),
            (["run", rnd, path, "--random-weights"], "compiled with --weight-seed 7, not 0"),
            (["run", plain, path, "--random-weights"], "compile with --random-weights --weight-seed 0 first")):
        assert main(argv) == 2, argv
        assert needle in capsys.readouterr().err, argv
