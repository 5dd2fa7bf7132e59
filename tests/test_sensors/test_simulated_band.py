"""The simulated band: real PMD bytes through the production decoder, plausible movement
that matches its ground-truth labels, and determinism by seed."""

from __future__ import annotations

import asyncio
import itertools

import numpy as np
import pytest

from movereg.errors import ParameterError
from movereg.sensors.decoders import StreamConfig, profile_for
from movereg.sensors.decoders import polar_pmd as pmd
from movereg.sensors.simulated import ACTIVITIES, SCENARIOS, SimulatedBand

START = 1_767_225_600_000_000_000  # 2026-01-01T00:00:00Z
FS = 52.0


def _decode_cycle(seed: int) -> tuple[SimulatedBand, np.ndarray, list[tuple[int, int, str]]]:
    band = SimulatedBand(seed=seed, start_ns=START)
    frames = list(band.frames(band.cycle_samples / FS))
    x = np.concatenate([band.profile.decode(f).samples for f, _ in frames]).astype(np.float64)
    spans = [(round((lab.start_ns - START) * FS / 1e9), round((lab.end_ns - START) * FS / 1e9),
              lab.label) for lab in band.labels]
    return band, x, spans


@pytest.fixture(scope="module")
def cycle() -> tuple[SimulatedBand, np.ndarray, list[tuple[int, int, str]]]:
    return _decode_cycle(3)


def _segments(cycle_: tuple, label: str, trim_s: float = 1.5) -> list[np.ndarray]:
    _, x, spans = cycle_
    k = int(trim_s * FS)
    return [x[a + k:b - k] for a, b, lab in spans if lab == label]


def _enmo_mg(seg: np.ndarray) -> float:
    return float(np.maximum(np.linalg.norm(seg, axis=1) - 1.0, 0.0).mean() * 1000)


def test_frames_are_real_pmd_and_decode_through_a_fresh_profile() -> None:
    band = SimulatedBand(seed=1, start_ns=START)
    fresh = profile_for("polar_pmd", StreamConfig(fs_hz=52), name=band.name)
    for reply in band.control_point_replies():
        fresh.parse_reply(reply)
    (start,) = fresh.start_commands(StreamConfig(fs_hz=52))
    assert start.data == bytes.fromhex("02 02 00 01 34 00 01 01 10 00 02 01 08 00 04 01 03")
    assert isinstance(fresh, pmd.PolarPmdProfile)
    assert fresh.factor == band.profile.factor == float(np.float32(0.000244))
    frames = list(band.frames(20.0))
    n, prev_rx = 0, 0
    for f, rx in frames:
        assert f[0] == 0x02 and f[9] == 0x80 and len(f) <= 229
        block = fresh.decode(f)
        assert block.fs_hz == 52.0
        n += block.n
        last_true = START + round((n - 1) * 1e9 / FS)
        assert block.device_time_ns == last_true  # clock set, no drift
        assert rx > prev_rx and 20_000_000 <= rx - last_true <= 35_000_000

        prev_rx = rx
    assert n == round(20 * FS)


def test_determinism_by_seed_and_continuation() -> None:
    a = list(SimulatedBand(seed=5, start_ns=START).frames(30))
    b = list(SimulatedBand(seed=5, start_ns=START).frames(30))
    c = list(SimulatedBand(seed=6, start_ns=START).frames(30))
    assert a == b and a != c
    band = SimulatedBand(seed=5, start_ns=START)
    split = list(band.frames(15)) + list(band.frames(15))
    assert [f for f, _ in split] == [f for f, _ in a]


def test_labels_tile_the_scenario(cycle: tuple) -> None:
    band, x, spans = cycle
    assert spans[0][0] == 0 and spans[-1][1] == len(x) == band.cycle_samples
    assert all(p[1] == q[0] for p, q in itertools.pairwise(spans))
    assert [s[2] for s in spans] == [a for a, _ in SCENARIOS["session"]]
    assert set(ACTIVITIES) <= {s[2] for s in spans}
    assert band.labels[0].start_ns == START


def test_labels_until_loops() -> None:
    band = SimulatedBand(seed=2, start_ns=START)
    cyc = band.cycle_samples / FS
    labs = band.labels_until(2.5 * cyc)
    assert labs[0] == band.labels[0]
    assert labs[-1].end_ns == START + round(round(2.5 * cyc * FS) * 1e9 / FS)
    assert sum(lab.label == "rocking" for lab in labs) == 3  # loops 1, 2 and (part of) 3


def test_rest_is_still_with_one_g(cycle: tuple) -> None:
    for seg in _segments(cycle, "rest"):
        mag = np.linalg.norm(seg, axis=1)
        assert abs(np.median(mag) - 1.0) < 0.02
        assert _enmo_mg(seg) < 5.0


def test_orientation_changes_between_rest_bouts(cycle: tuple) -> None:
    dirs = [s.mean(axis=0) / np.linalg.norm(s.mean(axis=0)) for s in _segments(cycle, "rest")]
    angles = [np.degrees(np.arccos(np.clip(d1 @ d2, -1, 1))) for d1 in dirs for d2 in dirs]
    assert max(angles) > 10.0  # gravity sits on different axes in different bouts


def test_intensity_ordering(cycle: tuple) -> None:
    rest = max(_enmo_mg(s) for s in _segments(cycle, "rest"))
    fidget = min(_enmo_mg(s) for s in _segments(cycle, "fidgeting"))
    walk = min(_enmo_mg(s) for s in _segments(cycle, "walking"))
    jump = min(_enmo_mg(s) for s in _segments(cycle, "jumping"))
    brk = min(_enmo_mg(s) for s in _segments(cycle, "movement_break"))
    assert rest < fidget < walk < jump
    assert brk > 35.6  # a movement break is at least light activity


def test_jumping_has_impacts_and_free_fall(cycle: tuple) -> None:
    for seg in _segments(cycle, "jumping"):
        mag = np.linalg.norm(seg, axis=1)
        peaks = np.flatnonzero((mag[1:-1] > 2.0) & (mag[1:-1] >= mag[:-2]) & (mag[1:-1] >= mag[2:]))
        assert len(peaks) >= 0.8 * len(seg) / FS  # ~1.5-2 jumps per second
        assert mag.min() < 0.3  # flight phase reads near 0 g
    for seg in _segments(cycle, "rest") + _segments(cycle, "rocking"):
        assert np.linalg.norm(seg, axis=1).max() < 1.5


def _dominant_period_s(sig: np.ndarray, lo_s: float, hi_s: float) -> float:
    sig = sig - np.convolve(sig, np.ones(int(2 * FS)) / int(2 * FS), mode="same")
    sig = sig[int(FS):-int(FS)]
    ac = np.correlate(sig, sig, mode="full")[len(sig) - 1:]
    ac /= ac[0]
    lags = np.arange(int(lo_s * FS), int(hi_s * FS))
    return float(lags[np.argmax(ac[lags])] / FS)


def test_rocking_is_periodic_near_0_75_hz(cycle: tuple) -> None:
    for seg in _segments(cycle, "rocking"):
        period = _dominant_period_s(seg[:, 0], 0.6, 3.0)
        assert 0.65 <= 1 / period <= 0.85


def test_flapping_band_near_3_5_hz(cycle: tuple) -> None:
    for seg in _segments(cycle, "flapping"):
        y = seg[:, 1] - seg[:, 1].mean()
        spec = np.abs(np.fft.rfft(y * np.hanning(len(y)))) ** 2
        f = np.fft.rfftfreq(len(y), 1 / FS)
        assert 3.0 <= f[np.argmax(spec)] <= 4.0
        share = spec[(f >= 1.5) & (f <= 6)].sum() / spec[f > 0.1].sum()
        assert share > 0.5


def test_walking_arm_swing_near_1_hz(cycle: tuple) -> None:
    for seg in _segments(cycle, "walking"):
        assert 0.8 <= 1 / _dominant_period_s(seg[:, 0], 0.5, 2.0) <= 1.2


def test_loops_continue_smoothly() -> None:
    band = SimulatedBand(seed=4, scenario="rest", start_ns=START)
    frames = list(band.frames(2 * band.cycle_samples / FS + 5))
    x = np.concatenate([band.profile.decode(f).samples for f, _ in frames]).astype(np.float64)
    jump = np.abs(np.diff(x, axis=0)).max()
    assert jump < 0.1  # no step in the signal where one loop hands over to the next


def test_clock_offset_and_drift_reach_the_frames() -> None:
    band = SimulatedBand(seed=0, start_ns=START, device_clock_offset_ns=-3_000_000_000,
                         drift_ppm=100.0)
    frames = list(band.frames(100))
    last = band.profile.decode(frames[-1][0]).device_time_ns
    n = round(100 * FS)
    true_last = START + round((n - 1) * 1e9 / FS)
    assert last is not None
    assert last - true_last == pytest.approx(-3e9 + 100e-6 * (n - 1) * 1e9 / FS, abs=2)


async def test_notifications_paced_and_endless() -> None:
    band = SimulatedBand(seed=7, start_ns=START)
    ref = list(SimulatedBand(seed=7, start_ns=START).frames(30 * 12 / FS))
    got = []
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    async for item in band.notifications(speed=200.0):
        got.append(item)
        if len(got) == 12:
            break
    elapsed = loop.time() - t0
    assert got == ref
    nominal = (got[-1][1] - got[0][1]) / 1e9
    assert elapsed >= nominal / 200.0 * 0.9  # paced, not dumped at once


def test_bad_arguments() -> None:
    with pytest.raises(ParameterError):
        SimulatedBand(scenario="nap")
    with pytest.raises(ParameterError):
        SimulatedBand(fs_hz=52.5)
