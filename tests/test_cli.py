"""The command line: outputs, JSON shapes and exit codes (0 ok, 2 bad input, one line, no traceback)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import onnx
import pytest

import models
from cimopt.cli.main import main


def test_targets_lists_presets(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["targets"]) == 0
    out = capsys.readouterr().out
    for name in ("isaac", "puma", "pimcomp", "edge", "sram-dimc"):
        assert name in out
    assert main(["targets", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    edge = next(r for r in rows if r["name"] == "edge")
    assert 1_000_000 <= edge["weight_capacity"] <= 2_000_000


def test_inspect_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "enc.onnx"
    onnx.save(models.tiny_encoder(), path)
    assert main(["inspect", str(path), "--target", "edge", "--input-shape", "ids=2x5", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert set(d["totals"]) >= {"macs", "crossbars", "latency_ns", "energy_pj"}
    assert d["fits"] is True
    assert d["totals"]["macs"] == sum(o["macs"] for o in d["ops"]) > 0
    assert main(["inspect", str(path), "--target", "edge", "--input-shape", "ids=2x5"]) == 0
    assert "fits: yes" in capsys.readouterr().out


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "cimopt.cli.main", *args], capture_output=True, text=True, timeout=120)


def test_bad_inputs_exit_2_one_line(tmp_path: Path) -> None:
    garbage = tmp_path / "g.onnx"
    garbage.write_bytes(os.urandom(2048))
    dyn = tmp_path / "enc.onnx"
    onnx.save(models.tiny_encoder(), dyn)
    neg = tmp_path / "neg.toml"
    from cimopt.targets.load import PRESET_DIR

    neg.write_text((PRESET_DIR / "edge.toml").read_text().replace("crossbars = 12", "crossbars = -12", 1))
    cases = [
        (["inspect", str(garbage), "--target", "isaac"], "not a readable ONNX"),
        (["inspect", str(dyn), "--target", "isaac"], "--input-shape ids="),
        (["inspect", str(dyn), "--target", "isaac", "--input-shape", "ids=2xtwo"], "integers >= 0"),
        (["inspect", str(dyn), "--target", "nope", "--input-shape", "ids=2x3"], "presets"),
        (["inspect", str(dyn), "--target", str(neg), "--input-shape", "ids=2x3"], "core.crossbars"),
        (["frobnicate"], "invalid choice"),
    ]
    for args, needle in cases:
        p = _run(*args)
        assert p.returncode == 2, (args, p.stderr)
        assert "Traceback" not in p.stderr + p.stdout
        assert 1 <= len(p.stderr.strip().splitlines()) <= 2 and needle in p.stderr, p.stderr


def test_compare_runs_the_front_end_once(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                         frontend_loads: list[object]) -> None:
    """`cimopt compare` compiles twice (heuristic, exact) on one front end: the second compile
    reuses the first's (`compile_model(frontend=...)`), so the ONNX file is loaded once."""
    path = tmp_path / "cnn.onnx"
    onnx.save(models.small_cnn(seed=1), path)
    assert main(["compare", str(path), "--target", "edge", "--time-limit", "2", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["stages"] and len(frontend_loads) == 1
