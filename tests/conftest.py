import os
import sys

import onnx
import pytest

sys.path.insert(0, os.path.dirname(__file__))

LIGHT = os.path.join(os.path.dirname(onnx.__file__), "backend", "test", "data", "light")


@pytest.fixture(scope="session")
def light_dir() -> str:
    return LIGHT


@pytest.fixture
def frontend_loads(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """The models the front end loads while the test runs (`ir.load.load` as `cimopt.frontend` calls it)."""
    import cimopt.frontend as frontend

    loads: list[object] = []
    real = frontend.ir_load.load

    def counting(*a, **k):  # noqa: ANN002, ANN003, ANN202 - a wrapper of ir.load.load
        loads.append(a[0])
        return real(*a, **k)

    monkeypatch.setattr(frontend.ir_load, "load", counting)
    return loads
