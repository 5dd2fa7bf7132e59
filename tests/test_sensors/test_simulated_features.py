"""Integration: the simulated band's decoded movement drives the feature engine the way
its labels say (rhythm near 0.75 Hz for rocking, flapping-band power, impacts, stillness)."""

from __future__ import annotations

import numpy as np
import pytest

from movereg.sensors.simulated import SimulatedBand

START = 1_767_225_600_000_000_000


def _features(scenario: str, seed: int = 11, seconds: float = 60.0) -> dict[str, np.ndarray]:
    from movereg.signal import extract_features

    band = SimulatedBand(seed=seed, scenario=scenario, start_ns=START)
    x = np.concatenate([band.profile.decode(f).samples for f, _ in band.frames(seconds)])
    table = extract_features(x, band.fs_hz, t0_ns=START, epoch_s=5.0)
    # drop the first and last epoch (fade-in/out of the scenario loop)
    return {k: np.asarray(table[k])[1:-1] for k in
            ("enmo_mg", "rhythm_strength", "rhythm_hz", "flap_share", "impacts")}


@pytest.fixture(scope="module")
def feats() -> dict[str, dict[str, np.ndarray]]:
    return {s: _features(s) for s in ("rest", "rocking", "flapping", "jumping")}


def test_rest_is_still(feats: dict[str, dict[str, np.ndarray]]) -> None:
    f = feats["rest"]
    assert np.all(f["enmo_mg"] < 10) and np.all(f["impacts"] == 0)


def test_rocking_is_rhythmic_near_0_75_hz(feats: dict[str, dict[str, np.ndarray]]) -> None:
    f = feats["rocking"]
    assert np.median(f["rhythm_strength"]) > 0.5
    assert 0.6 <= np.nanmedian(f["rhythm_hz"]) <= 0.9
    assert np.all(f["impacts"] == 0)


def test_flapping_has_flapping_band_power(feats: dict[str, dict[str, np.ndarray]]) -> None:
    assert np.median(feats["flapping"]["flap_share"]) > 0.6
    assert np.median(feats["rocking"]["flap_share"]) < 0.2


def test_jumping_has_impacts(feats: dict[str, dict[str, np.ndarray]]) -> None:
    f = feats["jumping"]
    assert np.all(f["impacts"] >= 5)  # ~1.5-2 jumps per second in every 5-s epoch
    assert np.median(f["enmo_mg"]) > np.median(feats["rocking"]["enmo_mg"])
