"""cimopt.json_safe: output that strict JSON parsers accept."""
from __future__ import annotations

import json

from cimopt.json_safe import dumps, finite


def test_non_finite_become_null() -> None:
    obj = {"a": float("inf"), "b": [1.0, float("nan"), (2, -float("inf"))], "c": "x", "d": 3}
    assert finite(obj) == {"a": None, "b": [1.0, None, [2, None]], "c": "x", "d": 3}
    text = dumps(obj)
    assert "Infinity" not in text and "NaN" not in text
    assert json.loads(text)["b"][0] == 1.0
