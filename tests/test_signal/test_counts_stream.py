"""CountsStream: any chunking == one batch run, missing-data convention, input validation."""

from __future__ import annotations

import itertools
import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from movereg.errors import ParameterError
from movereg.signal.counts import CountsStream, activity_counts

RATES = [30, 40, 50, 60, 70, 80, 90, 100, 12.5, 25, 26, 52, 104]


def _signal(seed: int, n: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    x = np.zeros((n, 3))
    x[:, 2] = 1.0
    for c in range(3):
        f = rng.uniform(0.005, 0.05, 3)
        for fi in f:
            x[:, c] += rng.uniform(0.05, 0.5) * np.sin(2 * np.pi * fi * t + rng.uniform(0, 6))
    return x + rng.normal(0, 0.01, x.shape)


@settings(max_examples=40, deadline=None)
@given(
    fs=st.sampled_from(RATES),
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(0, 3000),
    cuts=st.lists(st.integers(0, 3000), max_size=8),
    gaps=st.lists(st.tuples(st.integers(0, 3000), st.integers(1, 400)), max_size=3),
)
def test_any_chunking_equals_one_batch(
    fs: float, seed: int, n: int, cuts: list[int], gaps: list[tuple[int, int]]
) -> None:
    x = _signal(seed, n)
    for start, length in gaps:
        x[start : start + length] = np.nan
    whole = CountsStream(fs).push(x)
    stream = CountsStream(fs)
    bounds = [0, *sorted(c for c in cuts if c <= n), n]
    parts = [stream.push(x[a:b]) for a, b in itertools.pairwise(bounds)]
    chunked = np.concatenate(parts) if parts else np.zeros((0, 3), np.int64)
    np.testing.assert_array_equal(chunked, whole)
    assert stream.n_samples_in == n
    assert stream.n_values_out == whole.shape[0]
    # the end of the recording: same tail, and the same total as ActiLife's path gives
    one = CountsStream(fs)
    one.push(x)
    np.testing.assert_array_equal(stream.flush(), one.flush())
    fr = Fraction(fs).limit_denominator(10_000)
    n_path = math.ceil(n * stream.path_rate_hz / fr)
    assert stream.n_values_out == math.ceil(Fraction(n_path * 30, stream.path_rate_hz)) // 3


@pytest.mark.parametrize("fs", [30, 60, 90, 100, 40])
def test_flush_adds_nothing_at_actilife_rates(fs: float) -> None:
    s = CountsStream(fs)
    s.push(_signal(1, int(fs * 7.3)))
    assert s.flush().shape == (0, 3)


def test_push_after_flush_needs_reset() -> None:
    s = CountsStream(25)
    assert s.push(_signal(2, 3000)).shape[0] == 1199
    assert s.flush().shape[0] == 1  # the last 100 ms needed the sample after the end
    assert s.flush().shape == (0, 3)
    with pytest.raises(ParameterError, match="reset"):
        s.push(_signal(2, 10))
    s.reset()
    assert s.push(_signal(2, 3000)).shape == (1199, 3)


@settings(max_examples=15, deadline=None)
@given(fs=st.sampled_from([30, 50, 100, 52, 25, 12.5]), seed=st.integers(0, 2**32 - 1))
def test_batch_epochs_equal_stream_sums(fs: float, seed: int) -> None:
    x = _signal(seed, int(fs * 23))
    s = CountsStream(fs)
    vals = np.concatenate([s.push(x), s.flush()])
    ep = activity_counts(x, fs, 2)
    m = ep.shape[0]
    assert m == 11
    np.testing.assert_array_equal(ep, vals[: m * 20].reshape(m, 20, 3).sum(axis=1))


@pytest.mark.parametrize("fs", [30, 100, 52])
def test_missing_rows_hold_last_sample(fs: float) -> None:
    x = _signal(3, int(fs * 40))
    gappy = x.copy()
    gappy[500:900] = np.nan
    gappy[1200:1210, 0] = np.inf
    held = gappy.copy()
    held[500:900] = held[499]
    held[1200:1210, 0] = held[1199, 0]
    np.testing.assert_array_equal(CountsStream(fs).push(gappy), CountsStream(fs).push(held))
    # leading missing data is 0 g
    lead = x.copy()
    lead[:50] = np.nan
    zero = x.copy()
    zero[:50] = 0.0
    np.testing.assert_array_equal(activity_counts(lead, fs, 1), activity_counts(zero, fs, 1))


def test_still_device_gives_zero_counts() -> None:
    x = np.tile([0.01, -0.02, 0.98], (100 * 60, 1))
    assert not activity_counts(x, 100, 1).any()


def test_reset_starts_a_new_recording_and_dtypes_accepted() -> None:
    x = _signal(5, 3000)
    s = CountsStream(50)
    first = s.push(x)
    s.reset()
    assert s.n_samples_in == 0
    np.testing.assert_array_equal(s.push(x), first)
    f32 = x.astype(np.float32)
    np.testing.assert_array_equal(
        CountsStream(50).push(f32), CountsStream(50).push(f32.astype(np.float64))
    )
    np.testing.assert_array_equal(
        CountsStream(50).push(np.asfortranarray(x)), first
    )
    assert CountsStream(50).push(np.zeros((0, 3))).shape == (0, 3)
    assert activity_counts(np.zeros((10, 3)), 50, 1).shape == (0, 3)


@pytest.mark.parametrize("fs", [0, -50, float("nan"), float("inf"), 5, 1000, "fast", None])
def test_bad_rate_is_rejected(fs: object) -> None:
    with pytest.raises(ParameterError):
        CountsStream(fs)  # type: ignore[arg-type]
    with pytest.raises(ParameterError):
        activity_counts(np.zeros((100, 3)), fs, 1)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "samples",
    [np.zeros(300), np.zeros((100, 2)), np.zeros((100, 4)), np.zeros((2, 3, 3)),
     np.zeros((100, 3), dtype=bool), np.full((100, 3), "a"), np.zeros((100, 3), complex)],
)
def test_bad_samples_are_rejected(samples: np.ndarray) -> None:
    with pytest.raises(ParameterError, match="samples"):
        CountsStream(50).push(samples)
    with pytest.raises(ParameterError, match="samples"):
        activity_counts(samples, 50, 1)


@pytest.mark.parametrize("epoch_s", [0, -1, 0.05, 0.15, 2.55, float("nan"), "5s"])
def test_bad_epoch_is_rejected(epoch_s: object) -> None:
    with pytest.raises(ParameterError, match="epoch_s"):
        activity_counts(np.zeros((1000, 3)), 50, epoch_s)  # type: ignore[arg-type]


def test_bound_stream_keeps_state_in_the_callers_arrays() -> None:
    """After _bind the stream runs on the given arrays (the feature engine's stores)."""
    x = np.random.default_rng(3).normal(0, 0.5, size=(2_000, 3))
    own = CountsStream(52.0)
    own.push(x[:700])
    bound = CountsStream(52.0)
    bound.push(x[:700])
    arrays = [np.zeros_like(a) for a in (bound._ipar, bound._fpar, bound._coef,
                                         bound._fstate, bound._istate)]
    bound._bind(*arrays)
    np.testing.assert_array_equal(arrays[3], own._fstate)      # the state was copied in
    np.testing.assert_array_equal(bound.push(x[700:]), own.push(x[700:]))
    np.testing.assert_array_equal(arrays[4], own._istate)      # and lives there now
    np.testing.assert_array_equal(bound.flush(), own.flush())
    assert bound.n_samples_in == own.n_samples_in == 2_000     # flush padding not counted
    assert bound.n_values_out == own.n_values_out
    with pytest.raises(ParameterError, match="_bind"):
        CountsStream(52.0)._bind(*arrays[:4], np.zeros((3, 2), dtype=np.int64))


@pytest.mark.parametrize("fs", [40, 52, 80, 100])
def test_closed_form_lowpass_equals_step_by_step(fs: float) -> None:
    """The kernel's closed-form low-pass for L = 3 (_lowpass3) gives the counts of the
    step-by-step recursion (_lowpass), which runs when u[n-1] is not 0 at the start."""
    from movereg.signal._kernels.counts import _F_UPREV

    x = _signal(11, int(fs * 600))
    x[1000:1400, 1] = np.nan
    closed = CountsStream(fs)
    steps = CountsStream(fs)
    steps._fstate[:, _F_UPREV] = 5e-324   # u[n-1] != 0: the closed form does not apply
    a = np.concatenate([closed.push(x[:3001]), closed.push(x[3001:]), closed.flush()])
    b = np.concatenate([steps.push(x[:3001]), steps.push(x[3001:]), steps.flush()])
    assert a.shape[0] == fs * 600 * 10 // fs
    assert a.sum() > 0
    np.testing.assert_array_equal(b, a)
