import os
import sys

import onnx
import pytest

sys.path.insert(0, os.path.dirname(__file__))

LIGHT = os.path.join(os.path.dirname(onnx.__file__), "backend", "test", "data", "light")


@pytest.fixture(scope="session")
def light_dir() -> str:
    return LIGHT
