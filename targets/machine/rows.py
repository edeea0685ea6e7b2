"""Where a chunk's rows sit in a tensor: `rows_view` (a view along one axis, FLAT or WHOLE) and
`take_rows` / `put_rows`, which also read and write a range of vectors (`VEC`: positions in
(image, spatial...) order, every channel of each), image by image without copying the tensor."""
from __future__ import annotations

import math

import numpy as np

from cimopt.ir.chunks import FLAT, vector_count, VEC, WHOLE


def rows_view(y: np.ndarray, axis: int, row0: int, row1: int) -> np.ndarray:
    """Rows ``row0:row1`` of ``y`` along ``axis`` as a view (FLAT: rows of the (prod(leading), last)
    view; WHOLE: all of ``y``): where `mvm_chunk`'s result for those rows goes.  Not for `VEC`
    (a range of vectors is not a view in general: `take_rows` / `put_rows`)."""
    if axis == VEC:
        raise ValueError("a range of vectors (VEC) has no view: use take_rows / put_rows")
    if axis == WHOLE or y.ndim == 0 or (axis == FLAT and y.ndim < 2) or axis >= y.ndim:
        return y
    if axis == FLAT:
        return y.reshape(math.prod(y.shape[:-1]), y.shape[-1])[row0:row1]  # not -1: an empty y is ambiguous
    return y[(slice(None),) * axis + (slice(row0, row1),)]


def vector_pieces(shape: tuple[int, ...], row0: int, row1: int) -> list[tuple[int, int, int, int]]:
    """Vectors ``row0:row1`` (`VEC`) of a tensor of ``shape``, per image: (image, first, end, offset
    in the range) with first/end positions inside that image."""
    per = vector_count(shape) // max(1, shape[0])
    out = []
    v = row0
    while v < row1:
        n, p = divmod(v, per)
        e = min(row1 - n * per, per)
        out.append((n, p, e, v - row0))
        v = n * per + e
    return out


def take_rows(y: np.ndarray, axis: int, row0: int, row1: int) -> np.ndarray:
    """Rows ``row0:row1`` of ``y`` along ``axis`` (`rows_view`); for `VEC` a new (vectors, channels)
    array of vectors ``row0:row1`` in (image, spatial...) order."""
    if axis != VEC or y.ndim < 2:
        return rows_view(y, axis, row0, row1) if axis != VEC else y
    c = y.shape[1]
    out = np.empty((row1 - row0, c), dtype=y.dtype)
    for n, p, e, o in vector_pieces(y.shape, row0, row1):
        out[o:o + e - p] = y[n].reshape(c, -1)[:, p:e].T
    return out


def put_rows(y: np.ndarray, axis: int, row0: int, row1: int, values: np.ndarray) -> None:
    """Store ``values`` as rows ``row0:row1`` of ``y`` along ``axis``: the shape `take_rows` gives."""
    if axis != VEC:
        rows_view(y, axis, row0, row1)[...] = values
        return
    if y.ndim < 2:
        y[...] = np.asarray(values).reshape(y.shape)
        return
    c = y.shape[1]
    vals = np.asarray(values).reshape(row1 - row0, c)
    for n, p, e, o in vector_pieces(y.shape, row0, row1):
        img = y[n]
        if img.ndim == 1:          # a rank-2 tensor: one vector per image
            img[...] = vals[o]
        elif img.flags.c_contiguous:
            img.reshape(c, -1)[:, p:e] = vals[o:o + e - p].T
        else:   # a strided view: address the positions one by one
            pos = np.unravel_index(np.arange(p, e), img.shape[1:])
            img[(slice(None), *pos)] = vals[o:o + e - p].T
