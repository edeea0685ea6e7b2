"""Units of the bit-true arithmetic: the [numerics] section, quantisers, encodings, the ADC, the
vector formats, analog draws, and `cimopt run --numerics` on the command line."""
from __future__ import annotations

import json
import tomllib
from pathlib import Path

import numpy as np
import onnx
import pytest

import models
from cimopt.cli.main import main
from cimopt.targets.errors import TargetError
from cimopt.targets.load import list_presets, load_target, parse_target, PRESET_DIR
from cimopt.targets.machine.numerics_engine import round_to_format
from cimopt.targets.physics import noise
from cimopt.targets.physics.numerics import (
    act_quant, CrossbarNumerics, encode, quantize_acts, quantize_weights, tile_mvm)


def _isaac_doc() -> dict:
    return tomllib.loads((PRESET_DIR / "isaac.toml").read_text())


@pytest.mark.parametrize("field, value, message", [
    ("weight_encoding", "twos", "numerics.weight_encoding: expected one of offset, differential"),
    ("adc_full_scale_fraction", 0.0, "numerics.adc_full_scale_fraction: expected a fraction in (0, 1]"),
    ("vector_format", "int8", "numerics.vector_format: expected one of float32"),
    ("adc_bits_typo", 3, "numerics.adc_bits_typo: unknown field"),
])
def test_numerics_section_errors_name_file_and_field(field: str, value: object, message: str) -> None:
    doc = _isaac_doc()
    doc["numerics"][field] = value
    with pytest.raises(TargetError, match="^mine.toml: " + message.replace("(", r"\(").replace(")", r"\)")):
        parse_target(doc, "mine.toml")


def test_analog_errors() -> None:
    doc = _isaac_doc()
    doc["numerics"]["analog"]["stuck_at_rate"] = 1.5
    with pytest.raises(TargetError, match=r"mine.toml: numerics.analog.stuck_at_rate: expected a fraction"):
        parse_target(doc, "mine.toml")
    doc = _isaac_doc()
    doc["numerics"]["analog"]["prog_noise_c2_us"] = -10.0
    with pytest.raises(TargetError, match=r"programming noise polynomial is negative"):
        parse_target(doc, "mine.toml")
    doc = _isaac_doc()
    del doc["numerics"]["analog"]["g_max_us"]
    with pytest.raises(TargetError, match=r"missing field\(s\) numerics.analog.g_max_us"):
        parse_target(doc, "mine.toml")


def test_every_preset_has_numerics_and_the_section_leaves_the_digest() -> None:
    for name in list_presets():
        assert load_target(name).numerics is not None
    doc = _isaac_doc()
    with_num = parse_target(doc, "a.toml")
    del doc["numerics"]
    without = parse_target(doc, "a.toml")
    assert without.numerics is None and with_num.digest() == without.digest()


def test_weight_and_activation_quantisers() -> None:
    w = np.array([[0.5, -2.0, 0.0], [-0.25, 1.0, 0.0]])
    q, s = quantize_weights(w, 8)
    assert q.tolist() == [[127, -127, 0], [-64, 64, 0]] and s[2] == 0.0
    assert act_quant(0.0, 2.0, 8).zero == 0 and act_quant(-1.0, 2.0, 8).zero == 128
    codes = quantize_acts(np.array([-5.0, 0.0, 1.0, 9.0]), act_quant(-1.0, 1.0, 8))
    assert codes.tolist() == [0, 128, 255, 255]


@pytest.mark.parametrize("encoding", ["offset", "differential"])
def test_encoding_round_trip(encoding: str) -> None:
    p = CrossbarNumerics(8, 3, 1, 8, 8, 64, encoding, 1.0)   # 3 slices of 3 bits hold 8 bits
    q = np.random.default_rng(0).integers(-127, 128, (5, 4))
    plus, minus = encode(q, p)
    w = 2 ** (np.arange(p.slices) * p.cell_bits)
    val = (plus.reshape(5, 4, p.slices).astype(np.int64) * w).sum(-1)
    if encoding == "offset":
        assert minus is None and (val - 128 == q).all()
    else:
        assert minus is not None
        assert (val - (minus.reshape(5, 4, p.slices).astype(np.int64) * w).sum(-1) == q).all()
    assert plus.max() <= 7


def test_adc_rounds_clips_and_counts() -> None:
    rng = np.random.default_rng(0)
    xq = rng.integers(0, 256, (40, 64))
    cells = rng.integers(0, 4, (64, 16)).astype(np.uint8)
    exact = xq @ (cells.reshape(64, 8, 2).astype(np.int64) @ np.array([1, 4]))
    wide = CrossbarNumerics(4, 2, 1, 8, 12, 64, "offset", 1.0)
    y, sat, conv = tile_mvm(xq, cells, wide, 64, lossless_shortcut=False)
    assert (y == exact).all() and sat == 0 and conv == 40 * 16 * 8
    narrow = CrossbarNumerics(4, 2, 1, 8, 5, 64, "offset", 1.0)     # step 8: rounds, never clips
    y, sat, _ = tile_mvm(xq, cells, narrow, 64)
    assert sat == 0 and not (y == exact).all() and np.abs(y - exact).max() <= 4 * 255 * 5
    clipped = CrossbarNumerics(4, 2, 1, 8, 5, 64, "offset", 0.25)  # top code at a quarter of the range
    _, sat, _ = tile_mvm(xq, cells, clipped, 64)
    assert sat > 0


def test_vector_formats() -> None:
    x = np.array([1.0, 1.0 + 2 ** -9, 3.14159, -1e30, 70000.0, np.inf], dtype=np.float32)
    b = round_to_format(x, "bfloat16")
    assert b[0] == 1.0 and b[1] == 1.0 and np.isinf(b[5])
    assert np.all(np.abs(b[:5] - x[:5]) <= np.abs(x[:5]) * 2 ** -8)
    assert (b.view(np.uint32) & 0xFFFF == 0).all()
    assert np.isinf(round_to_format(x, "float16")[4]) and (round_to_format(x, "float32") == x).all()


def test_analog_draws_are_seeded_and_drift_compensation_undoes_the_mean() -> None:
    a = load_target("isaac").numerics.analog  # type: ignore[union-attr]
    levels = np.full((64, 64), 3, dtype=np.uint8)
    one = noise.program(levels, 2, a, np.random.default_rng(5), 0.0)
    assert (one == noise.program(levels, 2, a, np.random.default_rng(5), 0.0)).all()
    late = noise.program(levels, 2, a, np.random.default_rng(5), 86400.0)
    assert late.mean() < one.mean()
    assert abs(late.mean() * noise.drift_compensation(a, 86400.0) / one.mean() - 1) < 0.05


def test_cli_run_int_and_analog(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model, prog = tmp_path / "cnn.onnx", tmp_path / "cnn.json"
    onnx.save(models.small_cnn(), model)
    assert main(["compile", str(model), "--target", "pimcomp", "-o", str(prog), "--quiet"]) == 0
    capsys.readouterr()
    assert main(["run", str(prog), str(model), "--numerics", "int", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["match"] is None and d["numerics"]["mode"] == "int" and d["outputs"]["y"]["max_abs_error"] > 0
    assert set(d["numerics"]["outputs"]["y"]) >= {"sqnr_db", "cosine", "max_abs_error", "top1_agreement"}
    assert {row["op"] for row in d["numerics"]["layers"]} >= {"conv1", "fc"}
    assert main(["run", str(prog), str(model), "--numerics", "analog", "--trials", "2", "--drift-s", "60"]) == 0
    out = capsys.readouterr().out
    assert "worst layer" in out and "+-" in out and "no float-match check" in out
    assert main(["run", str(prog), str(model), "--numerics", "int", "--trials", "2"]) == 2
    np.savez(tmp_path / "bad.npz", x=np.zeros((2, 2), np.float32))
    assert main(["run", str(prog), str(model), "--numerics", "int", "--calibrate", str(tmp_path / "bad.npz")]) == 2
    np.savez(tmp_path / "cal.npz", x=np.random.default_rng(0).standard_normal((3, 1, 3, 16, 16)).astype(np.float32))
    assert main(["run", str(prog), str(model), "--numerics", "int", "--calibrate", str(tmp_path / "cal.npz")]) == 0


def _cnn_program(target_name: str = "isaac"):  # noqa: ANN202
    from cimopt.compiler import compile_model
    from cimopt.inputs import random_inputs
    from cimopt.options import CompileOptions
    from cimopt.targets.machine.float_reference import calibrate

    t = load_target(target_name)
    res = compile_model(models.small_cnn(), t, CompileOptions())
    g = res.frontend.graph
    x = random_inputs(g, 0)
    return t, res.program, g, x, calibrate(g, [x], t.precision.activation_bits)


def test_noiseless_analog_equals_int_and_drift_compensation_helps() -> None:
    import dataclasses

    from cimopt.report.accuracy import sqnr_db
    from cimopt.targets.machine.executor import execute
    from cimopt.targets.machine.float_reference import float_trace
    from cimopt.targets.machine.numerics_engine import NumericsConfig

    t, prog, g, x, cal = _cnn_program()
    assert t.numerics is not None
    quiet = dataclasses.replace(t.numerics.analog, prog_noise_c0_us=0.0, prog_noise_c1_us=0.0, prog_noise_c2_us=0.0,
                                read_noise_q=0.0, stuck_at_rate=0.0, drift_nu_std=0.0)
    tq = dataclasses.replace(t, numerics=dataclasses.replace(t.numerics, analog=quiet))
    ints = execute(prog, g, tq, x, numerics=NumericsConfig("int", cal)).outputs["y"]
    analog = execute(prog, g, tq, x, numerics=NumericsConfig("analog", cal)).outputs["y"]
    np.testing.assert_array_equal(analog, ints)
    ref = float_trace(g, x)["y"]
    day = NumericsConfig("analog", cal, drift_s=86400.0)
    with_comp = sqnr_db(execute(prog, g, tq, x, numerics=day).outputs["y"], ref)
    off = dataclasses.replace(quiet, drift_compensation=False)
    t_off = dataclasses.replace(t, numerics=dataclasses.replace(t.numerics, analog=off))
    without = sqnr_db(execute(prog, g, t_off, x, numerics=day).outputs["y"], ref)
    assert with_comp > without + 6


def test_target_without_numerics_is_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = (PRESET_DIR / "pimcomp.toml").read_text()
    (tmp_path / "plain.toml").write_text(text[:text.index("[numerics]")])
    model, prog = tmp_path / "cnn.onnx", tmp_path / "cnn.json"
    onnx.save(models.small_cnn(), model)
    assert main(["compile", str(model), "--target", str(tmp_path / "plain.toml"), "-o", str(prog), "--quiet"]) == 0
    capsys.readouterr()
    assert main(["run", str(prog), str(model), "--numerics", "int"]) == 2
    assert "has no [numerics] section" in capsys.readouterr().err
    assert main(["run", str(prog), str(model)]) == 0


@pytest.mark.parametrize("seed", range(10))
def test_bit_serial_loop_against_scalar_brute_force(seed: int) -> None:
    """tile_mvm (pass by pass) against the ADC rule written out per vector, pass, read and column."""
    rng = np.random.default_rng(seed)
    signed = seed % 2 == 1
    p = CrossbarNumerics(int(rng.integers(3, 7)), int(rng.integers(1, 3)), int(rng.integers(1, 3)),
                         int(rng.integers(3, 7)), int(rng.integers(3, 6)), int(rng.integers(2, 7)),
                         "differential" if signed else "offset", float(rng.choice([1.0, 0.25])))
    group_rows = int(rng.integers(2, 6))
    v, r, cols = 20, 2 * group_rows, 2 * p.slices   # two packed groups, one weight column each (block-diagonal)
    top = 2 ** p.cell_bits - 1
    cells = rng.integers(-top if signed else 0, top + 1, (r, cols)).astype(np.int8 if signed else np.uint8)
    cells[:group_rows, p.slices:] = 0
    cells[group_rows:, :p.slices] = 0
    xq = rng.integers(0, 2 ** p.activation_bits, (v, r))
    got, sat, _ = tile_mvm(xq, cells, p, group_rows, lossless_shortcut=False)
    want = np.zeros((v, cols // p.slices))
    n_sat = 0
    for i in range(v):
        for j in range(cols):
            for k in range(p.passes):
                for r0 in range(0, r, p.rows_per_read):
                    rows = range(r0, min(r0 + p.rows_per_read, r))
                    s = sum(((int(xq[i, q]) >> (k * p.dac_bits)) & (2 ** p.dac_bits - 1)) * int(cells[q, j]) for q in rows)
                    step, lo, hi = p.adc(min(len(rows), group_rows))
                    code = round(s / step)
                    n_sat += not lo <= code <= hi
                    code = min(max(code, lo), hi)
                    want[i, j // p.slices] += code * step * 2 ** (k * p.dac_bits + (j % p.slices) * p.cell_bits)
    np.testing.assert_array_equal(got, want)
    assert sat == n_sat
