"""JSON that is JSON: non-finite numbers (which `json.dumps` would print as Infinity or NaN) become null."""
from __future__ import annotations

import json
import math
from typing import Any


def finite(obj: Any) -> Any:
    """``obj`` with every non-finite float, in nested dicts, lists and tuples, replaced by None."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [finite(v) for v in obj]
    return obj


def dumps(obj: Any, **kwargs: Any) -> str:
    """`json.dumps` of `finite` (obj): always valid JSON (``allow_nan=False`` holds)."""
    return json.dumps(finite(obj), allow_nan=False, **kwargs)
