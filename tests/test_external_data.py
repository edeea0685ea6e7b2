"""ir.external_data and the CLI on architecture-only models: every refusal names the tensor, the
path and the reason; compile needs only shapes; run needs the weights, or compile and run with --random-weights."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import onnx
import pytest

import quirk_models as q
from cimopt.cli.main import main
from cimopt.ir import external_data
from cimopt.ir.errors import ModelError
from cimopt.ir.load import read_model


def _saved(tmp_path: Path) -> str:
    return q.externalise(q.conv_model(), str(tmp_path))


def test_present_data_is_read(tmp_path: Path) -> None:
    path = _saved(tmp_path)
    proto = read_model(path, "refuse")
    w = onnx.numpy_helper.to_array(proto.graph.initializer[0])
    assert np.array_equal(w, onnx.numpy_helper.to_array(q.conv_model().graph.initializer[0]))


def test_missing_data(tmp_path: Path) -> None:
    path = _saved(tmp_path)
    os.remove(tmp_path / "model.data")
    with pytest.raises(ModelError) as e:
        read_model(path, "refuse")
    assert "tensor 'w'" in str(e.value) and "model.data" in str(e.value) and "missing" in str(e.value)
    a = onnx.numpy_helper.to_array(read_model(path, "random").graph.initializer[0])
    b = onnx.numpy_helper.to_array(read_model(path, "random").graph.initializer[0])
    assert a.shape == (8, 3, 3, 3) and np.array_equal(a, b) and np.isfinite(a).all() and a.std() > 0


def test_truncated_data(tmp_path: Path) -> None:
    path = _saved(tmp_path)
    with open(tmp_path / "model.data", "r+b") as f:
        f.truncate(10)
    missing = external_data.resolve(onnx.load(path, load_external_data=False), str(tmp_path), path)
    assert [m.tensor for m in missing] == ["w"] and "too short" in missing[0].reason


@pytest.mark.parametrize(("location", "reason"), [("../elsewhere.data", "outside the model's folder"),
                                                   ("/etc/passwd", "absolute")])
def test_paths_out_of_the_folder(tmp_path: Path, location: str, reason: str) -> None:
    path = _saved(tmp_path)
    q.point_external(path, location)
    with pytest.raises(ModelError) as e:
        read_model(path, "random")
    assert "tensor 'w'" in str(e.value) and location in str(e.value) and reason in str(e.value)


def test_symlink_out(tmp_path: Path) -> None:
    inner = tmp_path / "m"
    inner.mkdir()
    path = q.externalise(q.conv_model(), str(inner))
    os.replace(inner / "model.data", tmp_path / "real.data")
    os.symlink(tmp_path / "real.data", inner / "model.data")
    with pytest.raises(ModelError) as e:
        read_model(path, "random")
    assert "tensor 'w'" in str(e.value) and "model.data" in str(e.value) and "symlink out" in str(e.value)


def test_fill_random_keeps_batchnorm_variance_positive() -> None:
    m = q.conv_model()
    bn = onnx.helper.make_node("BatchNormalization", ["c", "s", "b", "mu", "var"], ["bn"])
    m.graph.node.insert(1, bn)
    m.graph.node[2].input[0] = "bn"
    for name in ("s", "b", "mu", "var"):
        t = onnx.numpy_helper.from_array(np.ones(8, np.float32), name)
        t.data_location = onnx.TensorProto.EXTERNAL
        t.ClearField("raw_data")
        m.graph.initializer.append(t)
    missing = [external_data.MissingData(n, "x.data", "missing") for n in ("s", "b", "mu", "var")]
    external_data.fill_random(m, missing)
    var = next(onnx.numpy_helper.to_array(t) for t in m.graph.initializer if t.name == "var")
    assert (var >= 0.5).all()


def test_architecture_only_compile_and_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _saved(tmp_path)
    os.remove(tmp_path / "model.data")
    prog = str(tmp_path / "p.json")
    assert main(["compile", path, "--target", "edge", "-o", prog, "--quiet"]) == 0
    capsys.readouterr()
    assert main(["run", prog, path]) == 2
    err = capsys.readouterr().err
    assert "tensor 'w'" in err and "model.data" in err and "--random-weights" in err
    out_npz = str(tmp_path / "out.npz")
    # random weights are the model's for compile and run alike: a program compiled from the
    # stand-in weights is refused, one compiled with --random-weights runs
    assert main(["run", prog, path, "--random-weights"]) == 2
    assert "compile with --random-weights" in capsys.readouterr().err
    assert main(["compile", path, "--target", "edge", "-o", prog, "--quiet", "--random-weights"]) == 0
    capsys.readouterr()
    assert main(["run", prog, path, "--random-weights", "--outputs", out_npz]) == 0
    assert "match: yes" in capsys.readouterr().out
    assert np.load(out_npz)["y"].shape == (1, 8, 8, 8)
