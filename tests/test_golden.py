"""The heuristic programs of a few light graphs (seed 0) equal their checked-in golden text."""
from __future__ import annotations

import difflib
import os

import pytest

from cimopt.compiler import compile_model
from cimopt.options import CompileOptions
from cimopt.targets.load import load_target
from golden_programs import CASES, canonical, golden_path

UPDATE = os.environ.get("CIMOPT_UPDATE_GOLDEN") == "1"


@pytest.mark.parametrize("model,preset,mode", CASES)
def test_golden_program(light_dir: str, model: str, preset: str, mode: str) -> None:
    res = compile_model(os.path.join(light_dir, model + ".onnx"), load_target(preset), CompileOptions(mode=mode))
    text = canonical(res.program)
    path = golden_path(model, preset, mode)
    if UPDATE:
        with open(path, "w") as f:
            f.write(text)
    with open(path) as f:
        want = f.read()
    if text != want:
        diff = "".join(list(difflib.unified_diff(want.splitlines(True), text.splitlines(True), "golden", "now"))[:40])
        pytest.fail(f"program differs from {os.path.basename(path)} (regenerate with CIMOPT_UPDATE_GOLDEN=1 "
                    f"if the change is intended):\n{diff}")
