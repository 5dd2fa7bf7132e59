"""The engine consumes the gaps it is given (the clock or the recording decides them).

With ``gaps``, a block's ``t0_ns`` is not looked at after the stream's first samples: a
clock that slews (t0 a little late or early) does not make the engine invent missing
rows, and a gap fills exactly its ``samples_missing`` rows.
"""

from __future__ import annotations

import itertools

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from movereg.models import Gap
from movereg.signal import EpochTable, FeatureEngine, extract_features

T0 = 1_800_000_000_000_000_000


def _signal(seed: int, fs: float, n: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n) / fs
    x = rng.normal(0, 0.05, (n, 3)) + np.array([0.1, 0.2, 0.97])
    x[:, 0] += 0.4 * np.sin(2 * np.pi * 1.1 * t) * (t % 12 < 7)
    return x


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    fs=st.sampled_from([25.0, 52.0, 100.0]),
    epoch_s=st.sampled_from([1.0, 5.0]),
    seed=st.integers(0, 10_000),
    cuts=st.lists(st.integers(1, 1199), min_size=1, max_size=12, unique=True),
    missing=st.lists(st.integers(0, 150), min_size=13, max_size=13),
    jitter=st.lists(st.floats(-3.0, 3.0), min_size=13, max_size=13),
)
def test_given_gaps_equal_batch_whatever_t0_says(fs: float, epoch_s: float, seed: int,
                                                  cuts: list[int], missing: list[int],
                                                  jitter: list[float]) -> None:
    n = 1200
    x = _signal(seed, fs, n)
    eng = FeatureEngine(fs, epoch_s=epoch_s)
    parts, batch_in, pos_ns = [], [], T0
    for i, (a, b) in enumerate(itertools.pairwise([0, *sorted(cuts), n])):
        gaps: tuple[Gap, ...] = ()
        if i and missing[i]:
            gaps = (Gap(pos_ns, pos_ns + round(missing[i] * 1e9 / fs), missing[i], "stall"),)
            batch_in.append(np.full((missing[i], 3), np.nan))
        # t0 off by up to 3 samples either way: the gaps decide, not t0
        t0 = T0 if i == 0 else pos_ns + round(jitter[i] * 1e9 / fs)
        parts.append(eng.push(x[a:b], t0, gaps))
        batch_in.append(x[a:b])
        pos_ns += round((b - a) * 1e9 / fs)
    parts.append(eng.flush())
    want = extract_features(np.concatenate(batch_in), fs, t0_ns=T0, epoch_s=epoch_s)
    got = EpochTable.concat(parts)
    assert eng.samples_seen == sum(p.shape[0] for p in batch_in)
    assert got.n == want.n
    assert got.equals(want, rtol=1e-9)


def test_a_slewing_clock_does_not_add_missing_rows() -> None:
    fs = 25.0
    x = _signal(3, fs, 500)
    with_gaps, by_t0 = FeatureEngine(fs, epoch_s=1.0), FeatureEngine(fs, epoch_s=1.0)
    for k in range(0, 500, 25):
        t0 = T0 + round(k * 1e9 / fs) + k * 1_000_000    # 1 ms late per block, growing
        with_gaps.push(x[k:k + 25], t0, ())
        by_t0.push(x[k:k + 25], t0)
    assert with_gaps.samples_seen == 500                  # the clock said: no gap
    assert by_t0.samples_seen > 500                       # t0 alone reads gaps into slew


def test_first_samples_are_placed_by_t0_after_an_aligning_push() -> None:
    fs = 25.0
    eng = FeatureEngine(fs, epoch_s=1.0)
    eng.push(np.zeros((0, 3)), T0)                        # the epoch grid
    lead = Gap(T0 - 10**9, T0 + 10**8, 27, "disconnect")  # before the stream: ignored
    eng.push(_signal(1, fs, 50), T0 + 10**8, (lead,))     # 0.1 s after the grid point
    assert eng.samples_seen == 50 + round(0.1 * fs)
