"""Tensors of Python objects (ONNX strings) in the reference machine's byte memory.

The machine keeps every tensor as bytes at the address the memory plan gives it, so that a
wrong address or an overlap of live buffers changes what is read.  A string tensor has no
fixed-width bytes; each element is stored as an 8-byte handle (its ``object`` item size) into
an append-only pool of the values written so far.  Handle 0 is memory never written
(``None``), so reading a buffer nobody wrote, or one another tensor overwrote, gives wrong
values, as it would for numbers.
"""
from __future__ import annotations

import numpy as np

HANDLE = np.dtype(np.int64)


def is_object(dtype: str | np.dtype) -> bool:
    """Whether tensors of ``dtype`` are held as handles (``object``: ONNX strings)."""
    return np.dtype(dtype) == np.dtype(object)


def held_dtype(dtype: str | np.dtype) -> np.dtype:
    """The dtype a tensor of ``dtype`` has in the machine's memory (handles for objects)."""
    return HANDLE if is_object(dtype) else np.dtype(dtype)


class ObjectPool:
    """Append-only store of the objects the machine has written; a handle indexes it."""

    def __init__(self) -> None:
        self._values: list[object] = [None]

    def store(self, values: np.ndarray) -> np.ndarray:
        """Handles (int64, same shape) for ``values``, each stored anew."""
        flat = np.asarray(values, dtype=object).ravel()
        first = len(self._values)
        self._values.extend(flat.tolist())
        return np.arange(first, first + flat.size, dtype=HANDLE).reshape(np.shape(values))

    def values(self, dtype: str | np.dtype, held: np.ndarray) -> np.ndarray:
        """A copy of a tensor's values from its view ``held`` in memory (handles resolved for objects)."""
        return self.load(held) if is_object(dtype) else np.array(held)

    def put(self, dtype: str | np.dtype, dst: np.ndarray, values: np.ndarray) -> None:
        """Write ``values`` into the view ``dst`` of a tensor of ``dtype`` (objects as new handles)."""
        dst[...] = self.store(values) if is_object(dtype) else values

    def load(self, handles: np.ndarray) -> np.ndarray:
        """The objects ``handles`` name (``None`` for a handle out of range: memory holding no object)."""
        n = len(self._values)
        out = np.empty(np.shape(handles), dtype=object)
        flat = out.reshape(-1)
        for i, h in enumerate(np.asarray(handles).ravel().tolist()):
            flat[i] = self._values[h] if 0 <= h < n else None
        return out
