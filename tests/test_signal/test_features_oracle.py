"""Every epoch feature of the kernel against the slow numpy oracle, on varied signals."""

from __future__ import annotations

import numpy as np
import pytest
from signal_oracle import oracle_table

from movereg.signal import EPOCH_COLUMNS, FeatureConfig, extract_features


def _signal(seed: int, fs: float, seconds: float, nan_share: float = 0.05) -> np.ndarray:
    """Gravity + a wandering posture + rhythmic bursts + noise + jumps + NaN runs."""
    rng = np.random.default_rng(seed)
    n = int(fs * seconds)
    t = np.arange(n) / fs
    ang = np.cumsum(rng.normal(0, 0.02, n))
    x = np.column_stack([np.sin(ang) * 0.6, np.cos(ang) * 0.5, np.full(n, 0.6)])
    f = rng.uniform(0.6, 3.5)
    burst = (np.sin(2 * np.pi * t / 17) > 0).astype(float)
    x[:, 0] += burst * rng.uniform(0.05, 0.6) * np.sin(2 * np.pi * f * t)
    x += rng.normal(0, rng.uniform(0.003, 0.05), x.shape)
    for i in rng.integers(0, n, size=max(1, n // 400)):
        x[i:i + 3] += rng.uniform(1.0, 4.0) * np.array([0.0, 0.3, 1.0])
    k = int(nan_share * n / 20)
    for i in rng.integers(0, n, size=k):
        x[i:i + rng.integers(1, 40)] = np.nan
    return x


def _compare(got: dict[str, np.ndarray], want: dict[str, np.ndarray]) -> None:
    for name, dt in EPOCH_COLUMNS:
        a, b = got[name], want[name]
        assert a.shape == b.shape, name
        if dt.startswith("float"):
            np.testing.assert_allclose(a, b, rtol=1e-7, atol=1e-9, equal_nan=True,
                                       err_msg=name)
        else:
            np.testing.assert_array_equal(a, b, err_msg=name)


@pytest.mark.parametrize(("seed", "fs", "epoch_s", "seconds"), [
    (1, 25.0, 5.0, 62.0),
    (2, 52.0, 1.0, 23.5),
    (3, 100.0, 5.0, 41.0),
    (4, 30.0, 2.0, 30.0),
])
def test_kernel_matches_oracle(seed: int, fs: float, epoch_s: float, seconds: float) -> None:
    x = _signal(seed, fs, seconds)
    cfg = FeatureConfig(nonwear_window_s=20.0, nonwear_step_s=5.0, clip_g=1.2)
    tab = extract_features(x, fs, epoch_s=epoch_s, t0_ns=1_700_000_000_000_000_000,
                           config=cfg)
    want = oracle_table(x, fs, epoch_s, cfg, t0_ns=1_700_000_000_000_000_000)
    _compare(dict(tab.columns), want)
    # the signal really exercises the features
    assert np.nansum(tab["rhythm_strength"]) > 0
    assert tab["impacts"].sum() > 0
    assert tab["coverage"].min() < 1.0


def test_nonwear_oracle_on_still_and_moving() -> None:
    fs = 25.0
    rng = np.random.default_rng(7)
    still = np.tile([0.0, 0.0, 1.0], (int(fs * 40), 1)) + rng.normal(0, 0.002, (int(fs * 40), 3))
    moving = rng.normal(0, 0.3, (int(fs * 40), 3)) + np.array([0.0, 0.0, 1.0])
    x = np.vstack([moving, still, moving])
    cfg = FeatureConfig(nonwear_window_s=20.0, nonwear_step_s=5.0)
    tab = extract_features(x, fs, epoch_s=5.0, config=cfg)
    want = oracle_table(x, fs, 5.0, cfg)
    np.testing.assert_array_equal(tab["nonwear"], want["nonwear"])
    assert tab["nonwear"][8:16].sum() >= 4          # still part flagged
    assert tab["nonwear"][:8].sum() == 0             # moving part not
