"""Known-answer signals: still, rocking, flapping, jumps, clipping, posture, zones."""

from __future__ import annotations

import numpy as np
import pytest

from movereg.signal import ZONE_LABELS, FeatureConfig, extract_features, zone_of


def _still(fs: float, seconds: float, noise: float = 0.0, seed: int = 0) -> np.ndarray:
    n = int(fs * seconds)
    x = np.tile([0.0, 0.0, 1.0], (n, 1))
    if noise:
        x += np.random.default_rng(seed).normal(0, noise, x.shape)
    return x


def _rock(fs: float, seconds: float, f: float, amp_rad: float = 0.25) -> np.ndarray:
    """Rocking: the wrist tilts back and forth (gravity rotates), f Hz."""
    t = np.arange(int(fs * seconds)) / fs
    th = amp_rad * np.sin(2 * np.pi * f * t)
    rng = np.random.default_rng(1)
    return np.column_stack([np.sin(th), np.zeros_like(th), np.cos(th)]) + \
        rng.normal(0, 0.01, (t.size, 3))


def _flap(fs: float, seconds: float, f: float, amp_g: float = 0.8) -> np.ndarray:
    t = np.arange(int(fs * seconds)) / fs
    x = _still(fs, seconds, 0.01, seed=2)
    x[:, 1] += amp_g * np.sin(2 * np.pi * f * t)
    return x


def test_still_device_enmo_zero_and_no_rhythm() -> None:
    tab = extract_features(_still(50.0, 60.0), 50.0)
    assert np.all(tab["enmo_mg"] == 0.0)
    assert np.all(tab["mad_mg"] == 0.0)
    assert np.all(tab["zone"] == 0)
    assert np.all(tab["rhythm_strength"][1:-1] == 0.0)      # gated: no movement
    assert np.all(np.isnan(tab["rhythm_hz"]))
    assert np.all(tab["impacts"] == 0)
    np.testing.assert_allclose(tab["z_angle_deg"], 90.0)


def test_still_noisy_device_low_rhythm() -> None:
    tab = extract_features(_still(50.0, 60.0, noise=0.02), 50.0)
    assert np.nanmax(tab["rhythm_strength"]) < 0.3
    assert np.nanmean(tab["enmo_mg"]) < 20


@pytest.mark.parametrize("fs", [25.0, 52.0, 100.0])
@pytest.mark.parametrize("f", [0.75, 1.0])
def test_rocking_frequency(fs: float, f: float) -> None:
    tab = extract_features(_rock(fs, 40.0, f), fs)
    core = slice(1, -1)
    assert np.all(np.abs(tab["rhythm_hz"][core] - f) <= 0.1)
    assert np.all(tab["rhythm_strength"][core] > 0.8)
    assert np.all(tab["rhythmic_fraction"][core] == 1.0)
    assert np.all(tab["flap_share"][core] < 0.3)


@pytest.mark.parametrize("fs", [25.0, 52.0, 100.0])
def test_flapping_band_share_and_frequency(fs: float) -> None:
    tab = extract_features(_flap(fs, 40.0, 3.0), fs)
    core = slice(1, -1)
    assert np.all(tab["flap_share"][core] > 0.8)
    assert np.all(np.abs(tab["rhythm_hz"][core] - 3.0) <= 0.1)
    assert np.all(tab["zone"][core] >= 1)


def test_jumps_counted_as_impacts() -> None:
    fs = 100.0
    x = _still(fs, 30.0, 0.01)
    for s in (5.0, 6.0, 7.0, 16.0):                 # 4 landings, 3 of them hard
        i = int(s * fs)
        x[i:i + 4, 2] += 3.5 if s != 16.0 else 1.6
    tab = extract_features(x, fs, epoch_s=5.0)
    assert tab["impacts"].sum() == 4
    assert tab["hard_impacts"].sum() == 3
    assert tab["impacts"][1] == 3 and tab["impacts"][3] == 1
    assert tab["jerk_p95_g_s"][1] > 10 * tab["jerk_p95_g_s"][0]


def test_refractory_merges_close_peaks() -> None:
    fs = 100.0
    x = _still(fs, 10.0)
    for i in (300, 310, 320):                       # within 0.25 s
        x[i:i + 3, 2] += 4.0
    tab = extract_features(x, fs, epoch_s=5.0)
    assert tab["impacts"].sum() == 1


def test_clipping_counted() -> None:
    fs = 25.0
    x = _still(fs, 10.0)
    x[10:15, 0] = 7.9
    tab = extract_features(x, fs, epoch_s=5.0, config=FeatureConfig(clip_g=7.5))
    assert list(tab["clipped"]) == [5, 0]


def test_posture_change_counted_once_per_turn() -> None:
    fs = 25.0
    a = _still(fs, 10.0)
    b = np.tile([0.0, np.sin(0.5), np.cos(0.5)], (int(fs * 10), 1))   # 28.6 deg tilt
    tab = extract_features(np.vstack([a, b]), fs, epoch_s=5.0)
    assert tab["posture_changes"].sum() == 1
    assert tab["posture_changes"][2] == 1
    assert tab["z_angle_deg"][3] == pytest.approx(90 - np.degrees(0.5))


def test_zone_cut_points() -> None:
    z = zone_of(np.array([0.0, 35.5, 35.6, 201.4, 706.9, 707.0, np.nan]))
    assert list(z) == [0, 0, 1, 2, 2, 3, -1]
    assert ZONE_LABELS[3] == "vigorous"


def test_nonwear_flags_a_still_hour() -> None:
    fs = 10.0
    rng = np.random.default_rng(3)
    moving = rng.normal(0, 0.3, (int(fs * 1800), 3)) + np.array([0.0, 0.0, 1.0])
    still = _still(fs, 5400.0, noise=0.002, seed=4)
    tab = extract_features(np.vstack([moving, still]), fs, epoch_s=60.0)
    assert tab["nonwear"][:30].sum() == 0
    assert tab["nonwear"][-20:].all()


def test_rate_agnostic_features() -> None:
    """The same movement sampled at 25, 50 and 100 Hz gives matching features."""
    out = {}
    for fs in (25.0, 50.0, 100.0):
        t = np.arange(int(fs * 40)) / fs
        th = 0.3 * np.sin(2 * np.pi * 0.8 * t)
        x = np.column_stack([np.sin(th), 0.4 * np.sin(2 * np.pi * 3.0 * t) * (t > 20),
                             np.cos(th)])
        out[fs] = extract_features(x, fs, epoch_s=5.0)
    ref = out[100.0]
    core = slice(1, -1)
    for fs in (25.0, 50.0):
        tab = out[fs]
        np.testing.assert_allclose(tab["enmo_mg"][core], ref["enmo_mg"][core], rtol=0.05,
                                   atol=1.0)
        np.testing.assert_allclose(tab["mad_mg"][core], ref["mad_mg"][core], rtol=0.05,
                                   atol=1.0)
        np.testing.assert_allclose(tab["rhythm_hz"][core], ref["rhythm_hz"][core], atol=0.1)
        np.testing.assert_allclose(tab["flap_share"][core], ref["flap_share"][core], atol=0.1)
        np.testing.assert_allclose(tab["rhythm_strength"][core],
                                   ref["rhythm_strength"][core], atol=0.1)


def _compiled_signatures() -> dict[str, int]:
    """Compiled signatures of every Numba dispatcher in movereg.signal (by qualified name)."""
    import importlib
    import pkgutil

    from numba.core.registry import CPUDispatcher

    import movereg.signal as sig

    out: dict[str, int] = {}
    for info in pkgutil.walk_packages(sig.__path__, "movereg.signal."):
        mod = importlib.import_module(info.name)
        for name, obj in vars(mod).items():
            if isinstance(obj, CPUDispatcher) and obj.__module__ == mod.__name__:
                out[f"{mod.__name__}.{name}"] = len(obj.signatures)
    return out


def test_warmup_runs() -> None:
    """After warmup, the public API on new data compiles nothing more (warm start)."""
    from numba import config

    from movereg.signal import FeatureEngine, activity_counts, calibrate, warmup

    if config.DISABLE_JIT:
        pytest.skip("Numba JIT disabled (coverage run): nothing to compile")
    warmup()
    before = _compiled_signatures()
    assert sum(before.values()) > 0
    x = _still(25.0, 30.0, 0.02, seed=3)
    x[100:110] = np.nan
    eng = FeatureEngine(25.0, epoch_s=1.0)
    assert eng.push(x[:333], 10**18).n + eng.push(x[333:], None).n + eng.flush().n == 30
    activity_counts(x, 25.0, 1.0)
    calibrate(x, 25.0)
    assert extract_features(x, 25.0).n >= 1
    assert _compiled_signatures() == before


def test_infinite_rows_are_missing() -> None:
    x = _still(25.0, 10.0, 0.01)
    y = x.copy()
    y[30:40] = np.inf
    z = x.copy()
    z[30:40] = np.nan
    a = extract_features(y, 25.0)
    b = extract_features(z, 25.0)
    assert a.equals(b)
    assert a["coverage"][0] == pytest.approx(115 / 125)
