"""Borrowed views of the packed stores (views.borrow_view, views.borrow) against numpy."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from numba import njit

from movereg.signal._kernels import views


@njit(cache=False)
def _view_2d(a: np.ndarray, o: int, r: int, c: int) -> np.ndarray:
    v = views.borrow_view(a, o, (r, c))
    out = np.empty((r, c))
    for i in range(r):
        for j in range(c):
            out[i, j] = v[i, j]
    v[r - 1, c - 1] = -1.0                  # writes go to the store
    return out


@njit(cache=False)
def _view_3d_sum(a: np.ndarray, o: int, d0: int) -> float:
    v = views.borrow_view(a, o, (d0, 3, 2))      # mixed literal and variable extents
    s = 0.0
    for i in range(d0):
        for j in range(3):
            for k in range(2):
                s += v[i, j, k] * (1 + i * 6 + j * 2 + k)
    return s


@njit(cache=False)
def _borrowed_row_sums(a: np.ndarray) -> np.ndarray:
    b = views.borrow(a)
    out = np.zeros(b.shape[0])
    for i in range(b.shape[0]):
        row = b[i]                          # a view of a borrowed array
        for j in range(row.shape[0]):
            out[i] += row[j]
    return out


@settings(max_examples=60, deadline=None)
@given(o=st.integers(0, 40), r=st.integers(1, 6), c=st.integers(1, 7))
def test_view_is_the_slice_reshaped(o: int, r: int, c: int) -> None:
    store = np.arange(100, dtype=np.float64)
    expect = store[o:o + r * c].reshape(r, c).copy()
    got = _view_2d(store, o, r, c)
    assert np.array_equal(got, expect)
    assert store[o + r * c - 1] == -1.0     # the view wrote through to the store
    assert np.array_equal(np.delete(store, o + r * c - 1),
                          np.delete(np.arange(100.0), o + r * c - 1))


@settings(max_examples=30, deadline=None)
@given(o=st.integers(0, 30), d0=st.integers(1, 4))
def test_view_3d_strides(o: int, d0: int) -> None:
    store = np.random.default_rng(o).normal(size=64)
    ref = store[o:o + d0 * 6].reshape(d0, 3, 2)
    weights = np.arange(1, d0 * 6 + 1, dtype=np.float64).reshape(d0, 3, 2)
    assert np.isclose(_view_3d_sum(store, o, d0), np.sum(ref * weights), rtol=1e-12)


def test_borrowed_array_and_its_views_read_the_same_data() -> None:
    a = np.random.default_rng(1).normal(size=(7, 5))
    assert np.allclose(_borrowed_row_sums(a), a.sum(axis=1), rtol=1e-12)
