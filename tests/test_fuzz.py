"""A bounded seeded fuzz run of the command line: models, programs and targets mutated at random.

Every case must exit 0, 1 or 2 with no traceback and within its time bound; a corrupted program
must never pass ``run`` or ``validate MODEL``.  (`experiments/fuzz.py` runs longer.)
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), os.pardir, "experiments"))
import fuzz_cases as fuzz  # noqa: E402  (experiments/fuzz_cases.py: the mutations experiments/fuzz.py runs longer)

SEED = 20261202
TIME_LIMIT_S = 60.0


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    return fuzz.compile_base(tmp_path_factory.mktemp("fuzz_base"))


@pytest.mark.parametrize("kind", fuzz.KINDS)
def test_fuzz(kind: str, base: tuple[str, str], tmp_path: Path) -> None:
    cases = fuzz.cases(SEED, 6, tmp_path, (kind,), base)
    assert cases
    bad = []
    for case in cases:
        verdict = fuzz.judge(case, fuzz.run_in_process(case, TIME_LIMIT_S))
        if verdict != "ok":
            bad.append(f"{verdict}: {case.name}: cimopt {' '.join(case.argv)}")
    assert not bad, "\n".join(bad)


def test_judge() -> None:
    c = fuzz.Case("program", "x", ("run",), True)
    assert fuzz.judge(c, fuzz.Outcome(0, False, False, "")) == "missed corruption"
    assert fuzz.judge(c, fuzz.Outcome(1, False, False, "")) == "ok"
    assert fuzz.judge(c, fuzz.Outcome(None, True, False, "")) == "traceback"
    assert fuzz.judge(c, fuzz.Outcome(None, False, True, "")) == "hang"
    assert fuzz.judge(c, fuzz.Outcome(3, False, False, "")) == "exit 3"


def test_cases_are_seeded(tmp_path: Path) -> None:
    a = fuzz.cases(5, 3, tmp_path / "a", ("model", "target"))
    b = fuzz.cases(5, 3, tmp_path / "b", ("model", "target"))
    assert [c.name for c in a] == [c.name for c in b]
    assert (tmp_path / "a" / "model_5_1.onnx").read_bytes() == (tmp_path / "b" / "model_5_1.onnx").read_bytes()
