"""Robustness of ``run --numerics int|analog`` on models with unusual statistics, as trained models
from other exporters bring them: no traceback, no NaN in the report, the worst layers named, and
figures that say what the chip does (a dead channel adds no noise; a good 16-bit chip keeps a
model with odd weights accurate).  Bad calibration files are typed errors."""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import onnx
import pytest

import odd_models
from cimopt.cli.main import main
from cimopt.frontend import prepare
from cimopt.ir.errors import ModelError
from cimopt.targets.load import load_target
from cimopt.targets.machine.float_reference import calibrate, clipping_power
from cimopt.targets.physics.numerics import quantize_weights


@pytest.fixture(scope="module")
def compiled(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], tuple[Path, Path]]:
    d = tmp_path_factory.mktemp("odd")
    out = {}
    for name, build in odd_models.ODD.items():
        model = d / f"{name}.onnx"
        onnx.save(build(), model)
        for target in ("isaac", "pimcomp"):
            prog = d / f"{name}.{target}.json"
            assert main(["compile", str(model), "--target", target, "-o", str(prog), "--quiet"]) == 0, name
            out[(name, target)] = (model, prog)
    return out


def _figures(d: dict) -> list[float | None]:
    figs = [v for o in d["numerics"]["outputs"].values() for k, v in o.items()]
    figs += [row[k] for row in d["numerics"]["layers"] for k in ("sqnr_db", "cosine", "max_abs_error")]
    return figs


@pytest.mark.parametrize("target", ["isaac", "pimcomp"])
@pytest.mark.parametrize("mode", ["int", "analog"])
@pytest.mark.parametrize("name", sorted(odd_models.ODD))
def test_odd_model_runs_and_reports(compiled: dict, name: str, target: str, mode: str,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    model, prog = compiled[(name, target)]
    capsys.readouterr()
    assert main(["run", str(prog), str(model), "--numerics", mode, "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    figs = _figures(d)
    assert figs and all(isinstance(f, (int, float)) for f in figs), "a NaN (null) in the report"
    assert {row["op"] for row in d["numerics"]["layers"]} == {"conv1", "conv2", "fc"}
    y = d["numerics"]["outputs"]["y"]
    if mode == "int" and target == "isaac":   # 16-bit weights and activations: the chip keeps these accurate
        assert y["sqnr_db"] > 20 and y["cosine"] > 0.99, (name, y)
    assert main(["run", str(prog), str(model), "--numerics", mode]) == 0
    text = capsys.readouterr().out
    worst = [line for line in text.splitlines() if line.strip().startswith("worst layer")]
    assert len(worst) == 3 and all(any(op in line for op in ("conv1", "conv2", "fc")) for line in worst)


def test_dead_channels_add_no_noise() -> None:
    """An all-zero weight column has scale 0, so its cells' noise and ADC error vanish: before,
    a scale of 1 turned an analog dead channel's noise into -91 dB at the layer."""
    w = np.zeros((6, 3))
    w[:, 0] = [0.5, -1, 0.25, 0, 0, 1]
    q, s = quantize_weights(w, 8)
    assert s.tolist()[1:] == [0.0, 0.0] and not q[:, 1:].any()
    with pytest.raises(ModelError, match="non-finite"):
        quantize_weights(np.array([[1.0, np.nan]]), 8)


def test_analog_dead_channel_layer_is_not_noise(compiled: dict, capsys: pytest.CaptureFixture[str]) -> None:
    model, prog = compiled[("dead_channels", "isaac")]
    capsys.readouterr()
    assert main(["run", str(prog), str(model), "--numerics", "analog", "--json"]) == 0
    layers = {row["op"]: row for row in json.loads(capsys.readouterr().out)["numerics"]["layers"]}
    assert layers["conv1"]["sqnr_db"] > 0, layers["conv1"]


@pytest.mark.parametrize("arrays, message", [
    ({"x": np.zeros((1, 4, 8, 8), np.complex64)}, "element type complex64"),
    ({"x": np.array(["a"])}, "element type <U1"),
    ({"x": np.zeros((1, 4, 8, 8), np.float32), "z": np.zeros(3)}, "z name no model input"),
    ({"q": np.zeros((1, 4, 8, 8), np.float32)}, "no array for input x"),
    ({"x": np.zeros((1, 4, 8, 9), np.float32)}, "has shape"),
])
def test_bad_calibration_files_are_usage_errors(compiled: dict, tmp_path: Path, arrays: dict, message: str,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    model, prog = compiled[("outliers", "isaac")]
    cal = tmp_path / "cal.npz"
    np.savez(cal, **arrays)
    capsys.readouterr()
    assert main(["run", str(prog), str(model), "--numerics", "int", "--calibrate", str(cal)]) == 2
    assert message in capsys.readouterr().err


def test_calibration_of_an_integer_input(compiled: dict, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model, prog = compiled[("uint8_input", "isaac")]
    bad, good = tmp_path / "bad.npz", tmp_path / "good.npz"
    np.savez(bad, x=np.full((1, 4, 8, 8), 0.5))
    np.savez(good, x=np.random.default_rng(0).integers(0, 2, (3, 1, 4, 8, 8)).astype(np.int64))
    capsys.readouterr()
    assert main(["run", str(prog), str(model), "--numerics", "int", "--calibrate", str(bad)]) == 2
    assert "non-integer values" in capsys.readouterr().err
    np.save(tmp_path / "one.npy", np.zeros(3))
    assert main(["run", str(prog), str(model), "--numerics", "int", "--calibrate", str(tmp_path / "one.npy")]) == 2
    assert "not a .npz archive" in capsys.readouterr().err
    assert main(["run", str(prog), str(model), "--numerics", "int", "--calibrate", str(good)]) == 0


def test_nonfinite_calibration_values_are_left_out() -> None:
    g = prepare(odd_models.outliers(), load_target("isaac")).graph
    x = np.random.default_rng(0).standard_normal((1, 4, 8, 8)).astype(np.float32)
    spoilt = x.copy()
    spoilt[0, 0, 0, :2] = [np.inf, np.nan]
    a = calibrate(g, [{"x": x}, {"x": spoilt}], 16)
    b = calibrate(g, [{"x": x}, {"x": np.where(np.isfinite(spoilt), spoilt, 0).astype(np.float32)}], 16)
    assert a == b and all(math.isfinite(q.scale) for q in a.values())


def test_clipping_estimate_is_leave_one_out() -> None:
    """Each sample clipped to the others' range: [0, 3] clipped to [0, 1] loses (0, 2), mean
    square 2; [0, 1] inside [0, 3] loses nothing; the estimate is the mean, 1.0; one sample: 0."""
    traces = [{"t": np.array([0.0, 1.0])}, {"t": np.array([0.0, 3.0, np.inf])[:2]}]
    assert clipping_power(traces) == {"t": 1.0}
    assert clipping_power(traces[:1]) == {"t": 0.0}
