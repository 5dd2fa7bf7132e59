"""aggregate_epochs: 1-s epochs re-aggregated to k s equal an independent per-bin oracle."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from movereg.analysis import AGGREGATION_RULES, aggregate_epochs
from movereg.errors import ValidationError
from movereg.signal import zone_of
from movereg.signal.schema import EPOCH_COLUMNS

NS = 1_000_000_000
T0 = 1_780_000_020 * NS  # a whole minute (UTC), so 15-s bins start on it


def _random_epochs(seed: int, n: int, p_missing: float, p_nan: float) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    seconds = np.flatnonzero(rng.random(3 * n) >= p_missing)[:n]
    m = seconds.shape[0]
    cols: dict[str, np.ndarray] = {}
    for name, dt in EPOCH_COLUMNS:
        if np.dtype(dt).kind == "f":
            x = rng.random(m) * 300.0
            x[rng.random(m) < p_nan] = np.nan
            cols[name] = x
        else:
            cols[name] = rng.integers(0, 50, m).astype(dt)
    cols["epoch_start"] = T0 + seconds.astype(np.int64) * NS
    cols["epoch_s"] = np.ones(m)
    cov = rng.random(m)
    cov[rng.random(m) < 0.1] = 0.0
    cols["coverage"] = cov
    cols["nonwear"] = (rng.random(m) < 0.4).astype(np.int8)
    return cols


def _oracle(cols: dict[str, np.ndarray], k: int) -> dict[str, list[float]]:
    """Per-bin loop, written from the rules (not from the implementation)."""
    out: dict[str, list[float]] = {name: [] for name, _ in EPOCH_COLUMNS}
    bins = cols["epoch_start"] // (k * NS)
    for b in np.unique(bins):
        sel = bins == b
        row: dict[str, float] = {"epoch_start": float(b * k * NS), "epoch_s": float(k)}
        w = cols["coverage"][sel] * cols["epoch_s"][sel]
        row["coverage"] = float(w.sum() / k)
        for c in ("counts_x", "counts_y", "counts_z", "impacts", "hard_impacts",
                  "posture_changes", "clipped"):
            row[c] = float(cols[c][sel].sum())
        row["counts_vm"] = math.sqrt(row["counts_x"] ** 2 + row["counts_y"] ** 2
                                     + row["counts_z"] ** 2)
        for c in ("enmo_mg", "mad_mg", "jerk_g_s", "z_angle_deg", "rhythm_strength",
                  "flap_share", "rhythmic_fraction"):
            x = cols[c][sel]
            ok = ~np.isnan(x)
            row[c] = (float(np.sum(x[ok] * w[ok]) / np.sum(w[ok]))
                      if ok.any() and np.sum(w[ok]) > 0 else math.nan)
        p95 = cols["jerk_p95_g_s"][sel]
        row["jerk_p95_g_s"] = float(np.nanmax(p95)) if (~np.isnan(p95)).any() else math.nan
        s = cols["rhythm_strength"][sel]
        if (~np.isnan(s)).any():
            row["rhythm_hz"] = float(cols["rhythm_hz"][sel][int(np.nanargmax(s))])
        else:
            row["rhythm_hz"] = math.nan
        row["zone"] = float(zone_of(np.array([row["enmo_mg"]]))[0])
        nw = cols["nonwear"][sel].astype(bool)
        row["nonwear"] = float(cols["epoch_s"][sel][nw].sum() > cols["epoch_s"][sel].sum() / 2)
        for name, _ in EPOCH_COLUMNS:
            out[name].append(row[name])
    return out


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 200), k=st.integers(2, 61),
       p_missing=st.sampled_from([0.0, 0.2, 0.7]), p_nan=st.sampled_from([0.0, 0.1, 0.5]))
def test_aggregating_one_second_epochs_matches_the_oracle(seed: int, n: int, k: int,
                                                          p_missing: float,
                                                          p_nan: float) -> None:
    cols = _random_epochs(seed, n, p_missing, p_nan)
    got = aggregate_epochs(cols, float(k))
    want = _oracle(cols, k)
    assert list(got) == [name for name, _ in EPOCH_COLUMNS]
    for name, dt in EPOCH_COLUMNS:
        assert got[name].dtype == np.dtype(dt), name
        np.testing.assert_allclose(got[name].astype(np.float64), np.array(want[name]),
                                   rtol=1e-12, atol=1e-9, equal_nan=True, err_msg=name)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(0, 120),
       length=st.sampled_from([1.0, 2.0, 5.0, 60.0]))
def test_stored_length_is_the_identity(seed: int, n: int, length: float) -> None:
    cols = _random_epochs(seed, n, 0.2, 0.1)
    cols["epoch_start"] = T0 + np.arange(cols["epoch_start"].shape[0], dtype=np.int64) * round(
        length * NS)
    cols["epoch_s"] = np.full(cols["epoch_start"].shape[0], length)
    got = aggregate_epochs(cols, length)
    for name, _ in EPOCH_COLUMNS:
        np.testing.assert_array_equal(got[name], cols[name], err_msg=name)
        assert got[name] is not cols[name]


def test_fifteen_second_bins_of_a_known_minute() -> None:
    n = 60
    cols = _random_epochs(1, n, 0.0, 0.0)
    cols["coverage"] = np.ones(n)
    cols["enmo_mg"] = np.repeat([10.0, 50.0, 250.0, 900.0], 15)
    cols["impacts"] = np.ones(n, dtype=np.int64)
    got = aggregate_epochs(cols, 15.0)
    assert got["epoch_start"].tolist() == [T0 + i * 15 * NS for i in range(4)]
    assert got["impacts"].tolist() == [15] * 4 and got["coverage"].tolist() == [1.0] * 4
    np.testing.assert_array_equal(got["zone"], zone_of(np.array([10.0, 50.0, 250.0, 900.0])))


def test_partial_selection_and_bad_lengths() -> None:
    cols = _random_epochs(2, 30, 0.0, 0.0)
    some = {k: cols[k] for k in ("epoch_start", "epoch_s", "coverage", "impacts", "enmo_mg")}
    got = aggregate_epochs(some, 10.0)
    assert list(got) == ["epoch_start", "epoch_s", "coverage", "enmo_mg", "impacts"]
    assert got["impacts"].sum() == cols["impacts"].sum()
    with pytest.raises(ValidationError, match="whole multiple"):
        aggregate_epochs(cols, 2.5)
    with pytest.raises(ValidationError, match="whole multiple"):
        aggregate_epochs({**cols, "epoch_s": np.full(30, 5.0)}, 1.0)
    with pytest.raises(ValidationError, match="positive"):
        aggregate_epochs(cols, 0.0)
    with pytest.raises(ValidationError, match="time order"):
        aggregate_epochs({**cols, "epoch_start": cols["epoch_start"][::-1].copy()}, 5.0)
    with pytest.raises(ValidationError, match="without its input"):
        aggregate_epochs({k: cols[k] for k in ("epoch_start", "epoch_s", "zone")}, 5.0)


def test_every_column_has_a_stated_rule() -> None:
    assert set(AGGREGATION_RULES) == {name for name, _ in EPOCH_COLUMNS}
