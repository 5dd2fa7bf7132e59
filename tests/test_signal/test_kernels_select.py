"""The engine's selection kernels (per-epoch jerk percentile) against numpy."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from movereg.signal._kernels.epoch import _percentile, _select

# values drawn from few levels give many ties (a still band's jerk is exactly 0 g/s)
_values = st.one_of(
    st.lists(st.sampled_from([0.0, 0.5, 1.0, 2.0, 3.5]), min_size=1, max_size=700),
    st.lists(st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False),
             min_size=1, max_size=700),
)


@settings(max_examples=300, deadline=None)
@given(_values, st.data())
def test_select_is_the_kth_smallest(values: list[float], data: st.DataObject) -> None:
    a = np.array(values)
    k = data.draw(st.integers(0, a.size - 1))
    work = a.copy()
    assert _select(work, a.size, k) == np.sort(a)[k]
    np.testing.assert_array_equal(np.sort(work), np.sort(a))     # reordered, not changed


@settings(max_examples=300, deadline=None)
@given(_values, st.sampled_from([0.0, 5.0, 50.0, 95.0, 99.0, 100.0]))
def test_percentile_equals_numpy(values: list[float], q: float) -> None:
    v = np.array(values)
    scratch = np.empty(v.size)
    got = _percentile(v.copy(), v.size, q, scratch)
    want = np.percentile(v, q)
    assert got == want or abs(got - want) <= 1e-12 * max(1.0, abs(want))


def test_percentile_of_nothing_and_of_nan() -> None:
    assert np.isnan(_percentile(np.empty(0), 0, 95.0, np.empty(0)))
    v = np.r_[np.arange(100.0), np.nan]
    assert np.isnan(_percentile(v, v.size, 95.0, np.empty(v.size)))
