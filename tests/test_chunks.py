"""Chunks of vectors (`cimopt.ir.chunks`): ranges that never span images, which vectors an access
touches, and the overlap of two accesses, against element masks computed by brute force."""
from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from cimopt.ir.chunks import accesses_overlap, FLAT, position_intervals, split_vectors, VEC, vector_count, WHOLE
from cimopt.ir.program import Access
from cimopt.targets.machine.checks.flow import grid_mask
from cimopt.targets.machine.rows import put_rows, take_rows


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 4), st.integers(1, 30), st.integers(1, 70))
def test_split_vectors_covers_in_order_and_never_spans_images(images: int, per: int, chunks: int) -> None:
    r = split_vectors(images, per, chunks)
    assert r[0][0] == 0 and r[-1][1] == images * per
    assert all(a < b for a, b in r) and all(x[1] == y[0] for x, y in zip(r, r[1:]))
    assert len(r) >= min(chunks, images * per) or chunks < images
    if chunks >= images:
        assert all(a // per == (b - 1) // per for a, b in r)        # one image each


@st.composite
def shape_and_access(draw: st.DrawFn) -> tuple[tuple[int, ...], tuple[int, int, int]]:
    shape = tuple(draw(st.lists(st.integers(1, 4), min_size=2, max_size=4)))
    axis = draw(st.sampled_from([WHOLE, FLAT, VEC] + list(range(len(shape)))))
    extent = {VEC: vector_count(shape), FLAT: int(np.prod(shape[:-1])), WHOLE: 1}.get(axis)
    extent = shape[axis] if extent is None else extent
    a = draw(st.integers(0, extent - 1))
    b = draw(st.integers(a + 1, extent))
    return shape, (axis, a, b)


def _mask(shape: tuple[int, ...], acc: tuple[int, int, int]) -> np.ndarray:
    return np.broadcast_to(grid_mask(shape, Access("t", "s", 0, *acc)), shape)


@settings(max_examples=150, deadline=None)
@given(shape_and_access(), st.data())
def test_overlap_and_intervals_against_element_masks(sa: tuple, data: st.DataObject) -> None:
    shape, acc = sa
    mask = _mask(shape, acc)
    iv = position_intervals(shape, *acc)
    if iv is not None:   # whole vectors: the positions (every channel) the mask holds
        pos = np.moveaxis(mask, 1, -1).reshape(vector_count(shape), shape[1])
        want = np.zeros(vector_count(shape), bool)
        for a, b in iv:
            want[a:b] = True
        assert (pos.all(axis=1) == want).all() and (pos.any(axis=1) == want).all()
    other = data.draw(shape_and_access().filter(lambda x: x[0] == shape) | st.just((shape, (WHOLE, 0, 1))))[1]
    touch = bool((mask & _mask(shape, other)).any())
    if accesses_overlap(shape, acc, other) is False:
        assert not touch       # never a missed overlap (a dependency)
    if acc[0] == other[0] or (position_intervals(shape, *acc) is not None
                               and position_intervals(shape, *other) is not None):
        assert accesses_overlap(shape, acc, other) == touch      # exact there


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(1, 4), min_size=2, max_size=4), st.data())
def test_take_put_vectors_round_trip(shape: list[int], data: st.DataObject) -> None:
    y = np.arange(int(np.prod(shape)), dtype=np.float32).reshape(shape)
    n = vector_count(tuple(shape))
    a = data.draw(st.integers(0, n - 1))
    b = data.draw(st.integers(a + 1, n))
    got = take_rows(y, VEC, a, b)
    want = np.moveaxis(y, 1, -1).reshape(n, shape[1])[a:b]
    np.testing.assert_array_equal(got, want)
    z = np.zeros_like(y)
    put_rows(z, VEC, a, b, got)
    mask = np.broadcast_to(grid_mask(tuple(shape), Access("t", "s", 0, VEC, a, b)), y.shape)
    np.testing.assert_array_equal(z[mask], y[mask])
    assert not z[~mask].any()
    strided = np.zeros((shape[0], shape[1] * 2, *shape[2:]), np.float32)[:, ::2]   # not contiguous
    put_rows(strided, VEC, a, b, got)
    np.testing.assert_array_equal(take_rows(strided, VEC, a, b), got)
