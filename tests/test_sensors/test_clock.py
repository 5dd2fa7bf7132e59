"""DeviceClock: device time -> UTC, gaps, duplicates, drift, clock jumps (property tests)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from movereg.errors import ParameterError
from movereg.models import RawBlock
from movereg.sensors.clock import DeviceClock

FS = 52.0
P = 1e9 / FS
T0 = 1_790_000_000_000_000_000  # some UTC ns in 2026


def _raw(n: int, first_index: int, dev_last: int | None) -> RawBlock:
    # sample values encode their global index so tests can check order and uniqueness
    s = np.zeros((n, 3), np.float32)
    s[:, 0] = np.arange(first_index, first_index + n, dtype=np.float32)
    return RawBlock(samples=s, fs_hz=FS, device_time_ns=dev_last)


@st.composite
def _streams(draw: st.DrawFn) -> dict[str, object]:
    n_frames = draw(st.integers(20, 120))
    n = draw(st.integers(1, 40))
    drift_ppm = draw(st.floats(-200, 200))
    seed = draw(st.integers(0, 2**31))
    # spans of frames lost (frame index -> number of frames lost after it)
    losses = draw(st.dictionaries(st.integers(1, n_frames - 2), st.integers(1, 200), max_size=4))
    dups = draw(st.sets(st.integers(1, n_frames - 1), max_size=10))
    disconnects = draw(st.sets(st.sampled_from(sorted(losses) or [1]), max_size=2))
    return {"n_frames": n_frames, "n": n, "drift_ppm": drift_ppm, "seed": seed,
            "losses": losses, "dups": dups, "disconnects": disconnects & set(losses)}


def _run(spec: dict, has_device_time: bool, max_latency_ms: float):
    rng = np.random.default_rng(spec["seed"])
    n = spec["n"]
    clock = DeviceClock("d", FS, has_device_time)
    out = []
    sent_index = 0  # global sample index on the device
    expected_gaps = []
    delivered = []
    for f in range(spec["n_frames"]):
        # the band samples on its own clock; that clock drifts against the host's
        true_last = T0 + round((sent_index + n - 1) * P * (1 + spec["drift_ppm"] * 1e-6))
        dev_last = 500_000_000_000_000_000 + round((sent_index + n - 1) * P)
        rx = true_last + round(rng.uniform(2e6, max_latency_ms * 1e6))
        raw = _raw(n, sent_index, dev_last if has_device_time else None)
        delivered.append(sent_index)
        b = clock.push(raw, rx)
        assert b is not None
        out.append((b, sent_index))
        if f in spec["dups"] and has_device_time:
            assert clock.push(raw, rx + 1000) is None
        sent_index += n
        if f in spec["losses"]:
            lost = spec["losses"][f] * n
            expected_gaps.append((len(out), lost))
            sent_index += lost
            if f in spec["disconnects"]:
                clock.mark_disconnect()
    return clock, out, expected_gaps


@settings(max_examples=60, deadline=None)
@given(_streams())
def test_device_time_every_sample_once_every_gap_exact(spec: dict) -> None:
    clock, out, expected_gaps = _run(spec, True, 80)
    blocks = [b for b, _ in out]
    idx = np.concatenate([b.samples[:, 0] for b in blocks])
    assert np.all(np.diff(idx) > 0), "order"
    assert clock.stats.duplicates == len([d for d in spec["dups"] if d < spec["n_frames"]])
    gaps = {i: b.gaps for i, (b, _) in enumerate(out) if b.gaps}
    assert sorted(gaps) == [i for i, _ in expected_gaps]
    for i, lost in expected_gaps:
        (g,) = gaps[i]
        assert g.samples_missing == lost
        assert g.reason in ("frame_loss", "disconnect")
        assert abs((g.end_ns - g.start_ns) - lost * P) < 0.5 * P
        assert blocks[i].gap_before_s == pytest.approx((g.end_ns - g.start_ns) / 1e9)
    # timestamps: monotonic, never ahead of the host receive time by more than the slew,
    # and within the worst latency of the truth
    for (b, _), (b2, _) in itertools.pairwise(out):
        assert b.t_end_ns - b2.t0_ns <= clock.max_slew * b.n * P + 3  # bounded slew (+ rounding)
    for b, first in out:
        true_t0 = T0 + first * P * (1 + spec["drift_ppm"] * 1e-6)
        assert abs(b.t0_ns - true_t0) < 80e6 + 1e6 + 300e-6 * (first * P)


@settings(max_examples=60, deadline=None)
@given(_streams())
def test_no_device_time_gaps_from_arrival_with_jitter(spec: dict) -> None:
    spec = dict(spec)
    # losses must be longer than the jitter tolerance to be detectable from arrival times
    n = spec["n"]
    spec["losses"] = {f: k for f, k in spec["losses"].items() if k * n * P > 0.4e9}
    spec["disconnects"] = spec["disconnects"] & set(spec["losses"])
    clock, out, expected_gaps = _run(spec, False, 100)
    gaps = {i: b.gaps for i, (b, _) in enumerate(out) if b.gaps}
    assert sorted(gaps) == [i for i, _ in expected_gaps]
    for i, lost in expected_gaps:
        (g,) = gaps[i]
        # arrival jitter (<= 98 ms here) bounds the error of a count from arrival times
        assert abs(g.samples_missing - lost) <= 6
    for (b, _), (b2, _) in itertools.pairwise(out):
        assert b.t_end_ns - b2.t0_ns <= clock.max_slew * b.n * P + 3  # bounded slew (+ rounding)


def test_duplicate_after_reconnect_returns_none_and_counts() -> None:
    c = DeviceClock("d", FS, True)
    r1 = _raw(10, 0, 10_000_000_000)
    assert c.push(r1, T0) is not None
    c.mark_disconnect()
    r2 = _raw(10, 10, 10_000_000_000 + round(10 * P))
    assert c.push(r2, T0 + round(10 * P)) is not None
    assert c.push(r2, T0 + round(10 * P) + 5) is None  # BlueZ delivers it twice
    assert c.push(r1, T0 + round(11 * P)) is None  # an old one too
    assert c.stats.duplicates == 2 and c.stats.samples == 20


@pytest.mark.parametrize("jump_s", [-17 * 365 * 86400.0, -3600.0, 86400.0, 3 * 365 * 86400.0])
def test_device_clock_jump_reanchors_and_records(jump_s: float) -> None:
    c = DeviceClock("d", FS, True)
    n = 36
    dev = 600_000_000_000_000_000
    blocks = []
    for k in range(10):
        blocks.append(c.push(_raw(n, k * n, dev + round((k + 1) * n * P)), T0 + round((k + 1) * n * P)))
    # the band resets its clock (Polar: back to its default date) or jumps forward
    dev2 = dev + round(jump_s * 1e9)
    for k in range(10, 20):
        b = c.push(_raw(n, k * n, dev2 + round((k + 1) * n * P)), T0 + round((k + 1) * n * P))
        blocks.append(b)
    assert all(b is not None for b in blocks)
    assert c.stats.clock_jumps == 1
    jumped = [b for b in blocks if b is not None and b.gaps]
    assert len(jumped) == 1 and jumped[0].gaps[0].reason == "clock_jump"
    t0s = [b.t0_ns for b in blocks if b is not None]
    assert all(b2 >= b1 for b1, b2 in itertools.pairwise(t0s))
    # after re-anchoring the time line stays on host time (within one frame)
    assert abs(blocks[-1].t0_ns - (T0 + round((19 * n + 1) * P))) < n * P + 1e6  # type: ignore[union-attr]


def test_disconnect_gap_uses_device_clock_not_host_when_accelerated() -> None:
    # an emulator running 60x faster than real time: host sees 0.5 s, device 30 s
    c = DeviceClock("d", FS, True, speed=60.0)
    n = 36
    dev = 10**18
    for k in range(5):
        c.push(_raw(n, k * n, dev + round((k + 1) * n * P)), T0 + round((k + 1) * n * P / 60))
    c.mark_disconnect()
    lost = round(30e9 / P)
    k = 5
    last = dev + round((k + 1) * n * P) + round(lost * P)
    b = c.push(_raw(n, k * n + lost, last), T0 + round(((k + 1) * n * P + lost * P) / 60))
    assert b is not None and len(b.gaps) == 1
    assert b.gaps[0].reason == "disconnect" and b.gaps[0].samples_missing == lost


def test_bad_parameters() -> None:
    with pytest.raises(ParameterError):
        DeviceClock("d", 0.0, True)
    with pytest.raises(ParameterError):
        DeviceClock("d", FS, True, speed=0)
    with pytest.raises(ParameterError):
        DeviceClock("d", FS, True).push(_raw(3, 0, None), T0)
    assert DeviceClock("d", FS, False).push(_raw(0, 0, None), T0) is None


@pytest.mark.parametrize("pause_s", [0.0, 10.0])
def test_clock_reset_contiguous_or_after_a_pause(pause_s: float) -> None:
    """A reset while streaming continues seamlessly; a reset across a pause keeps the pause."""
    c = DeviceClock("d", FS, True)
    n = 30
    dev = 700_000_000_000_000_000
    b1 = c.push(_raw(n, 0, dev + round((n - 1) * P)), T0 + round(n * P))
    assert b1 is not None
    rx2 = T0 + round(2 * n * P) + round(pause_s * 1e9)
    b2 = c.push(_raw(n, n, 123_000_000_000 + round((n - 1) * P)), rx2)  # back to a default date
    assert b2 is not None and b2.gaps and b2.gaps[0].reason == "clock_jump"
    if pause_s == 0:
        assert b2.t0_ns == b1.t_end_ns and b2.gaps[0].samples_missing == 0
    else:
        assert abs(b2.gaps[0].samples_missing - round(pause_s * FS)) <= 1


def test_gap_between_is_the_one_rule_for_gaps_outside_a_clock() -> None:
    from movereg.models import Gap, SampleBlock
    from movereg.sensors.clock import gap_between, with_gaps

    t = 1_750_000_000 * 10**9
    p = round(1e9 / 52.0)
    assert gap_between(t, t + p // 3, 52.0, "crash") is None      # jitter, not a sample
    g = gap_between(t, t + 4 * 52 * p, 52.0, "crash")
    assert g == Gap(t, t + 4 * 52 * p, 4 * 52, "crash")
    block = SampleBlock(device_id="d", t0_ns=t + 4 * 52 * p, fs_hz=52.0,
                        samples=np.zeros((3, 3), dtype=np.float32))
    assert g is not None
    got = with_gaps(block, (g,))
    assert got.gaps == (g,) and got.gap_before_s == (g.end_ns - g.start_ns) / 1e9
    assert got.t0_ns == block.t0_ns and got.samples is block.samples
