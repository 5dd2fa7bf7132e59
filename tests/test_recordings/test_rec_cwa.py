"""Axivity CWA with device time: the real AX3 file, drift, AX6 jitter, corrupt sectors.

Real data: ``tests/data/devices/ax3_testfile.cwa`` (GGIRread's test file, Apache-2.0; the
facts checked here are in ``tests/data/devices/README.md``). Other files are built with
``recordings_writers.write_cwa_timed`` from the published CWA layout, or by corrupting a
copy of the real file.
"""

from __future__ import annotations

import datetime as dt
import shutil
import struct
from pathlib import Path

import numpy as np
import pytest
from recordings_writers import write_cwa_timed

from movereg.errors import InputFileError
from movereg.recordings import open_recording
from movereg.recordings.devicetime import DeviceGrid, respace

AX3 = Path(__file__).resolve().parents[1] / "data" / "devices" / "ax3_testfile.cwa"
NS = 1_000_000_000


def _utc(s: str) -> int:
    return int(dt.datetime.fromisoformat(s).replace(tzinfo=dt.UTC).timestamp() * 1e6) * 1000


def _grid(rec: object) -> tuple[np.ndarray, np.ndarray]:
    """All grid times (ns) and values of a recording, from its chunks."""
    times, vals = [], []
    for t0, x in rec.chunks(1000):  # type: ignore[attr-defined]
        times.append(t0 + np.rint(np.arange(x.shape[0]) * 1e9 / rec.fs_hz).astype(np.int64))  # type: ignore[attr-defined]
        vals.append(x)
    return np.concatenate(times), np.concatenate(vals)


def _sector_facts(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Independent reading of each sector's sample-0 time (s, naive local) and its 120
    packed samples (g, (n, 120, 3)), straight from the bytes with struct (OpenMovement's
    cwa.h rules)."""
    data = path.read_bytes()
    times, first = [], []
    for off in range(1024, len(data) - 511, 512):
        sec = data[off:off + 512]
        frac_raw, = struct.unpack_from("<H", sec, 4)
        packed, = struct.unpack_from("<I", sec, 14)
        rate = 3200 / (1 << (15 - (sec[24] & 15)))
        offset, = struct.unpack_from("<h", sec, 26)
        whole = dt.datetime(((packed >> 26) & 63) + 2000, (packed >> 22) & 15,
                            (packed >> 17) & 31, (packed >> 12) & 31, (packed >> 6) & 63,
                            packed & 63, tzinfo=dt.UTC).timestamp()
        frac = ((frac_raw & 0x7FFF) << 1) if frac_raw & 0x8000 else 0
        offset += (frac * int(rate)) >> 16
        times.append(whole + frac / 65536 - offset / rate)
        rows = []
        for w in struct.unpack_from("<120I", sec, 30):
            e = w >> 30
            v = [((w >> s) & 0x3FF) for s in (0, 10, 20)]
            rows.append([((x - 1024) if x >= 512 else x) * (1 << e) / 256 for x in v])
        first.append(rows)
    return np.array(times), np.array(first)


# --- the real AX3 ----------------------------------------------------------------------------


def test_real_ax3_samples_span_and_measured_rate() -> None:
    rec = open_recording(AX3)
    assert rec.meta["format"] == "cwa" and rec.meta["device"] == "Axivity AX3"
    assert rec.meta["serial"] == "39434" and rec.fs_hz == 100.0
    t_first, x = rec.read_all()
    qc = rec.qc
    assert qc.complete and qc.samples_read == 17_400 and not qc.damage
    # first sample 10:55:06.000, last 10:58:01.982 device time (README), span 175.98 s
    assert abs(qc.first_sample_ns - _utc("2019-02-26T10:55:06")) < 1_000_000
    assert abs(qc.last_sample_ns - _utc("2019-02-26T10:58:01.982")) < 1_000_000
    assert round((qc.last_sample_ns - qc.first_sample_ns) / NS, 2) == 175.98
    assert t_first == qc.first_sample_ns
    # the device ran at about 98.9 Hz; the grid is the configured 100 Hz (17,599 rows)
    assert 98.8 < qc.measured_fs_hz < 98.9
    assert rec.meta["measured_fs_hz"] == qc.measured_fs_hz
    assert x.shape == (17_599, 3) and not np.isnan(x).any()
    # actipy's first raw row is the first grid row (same time)
    np.testing.assert_allclose(x[0], [0.328125, 0.984375, 0.203125])
    # GGIRread's whole-file floor(sum |x|+|y|+|z|) over its 17,599 rows is 25,367; ours
    # differs by 0.14 % (GGIRread places samples inside a sector slightly differently)
    assert abs(np.floor(np.abs(x).sum()) - 25_367) / 25_367 < 0.005
    assert rec.qc.tz == "UTC" and rec.qc.tz_source == "assumed"


def test_real_ax3_sectors_1_to_3_as_ggirread(tmp_path: Path) -> None:
    """GGIRread's test reads sectors 1-3 of this file as 364 resampled rows with
    floor(sum |x|+|y|+|z|) = 603 (README): the same file cut to those sectors, here."""
    data = AX3.read_bytes()
    p = tmp_path / "s1_4.cwa"  # sector 4 too: its timestamp ends sector 3 (as in GGIRread)
    p.write_bytes(data[:1024] + data[1024 + 512:1024 + 5 * 512])
    times, x = _grid(open_recording(p))
    sector_t, _ = _sector_facts(AX3)
    last_of_3 = sector_t[4] - (sector_t[4] - sector_t[3]) / 120  # s, sector 3's last sample
    x = x[times <= last_of_3 * 1e9]
    assert x.shape == (364, 3)
    assert np.floor(np.abs(x).sum()) == 603


def test_real_ax3_grid_follows_every_sector_timestamp() -> None:
    """Anywhere in the file, the grid row at a sector's own timestamp holds that sector's
    first sample (the old reader's i/100 s placement was 190 rows off by the end)."""
    rec = open_recording(AX3)
    times, vals = _grid(rec)
    sector_t, raw = _sector_facts(AX3)
    period = NS / rec.fs_hz
    worst = 0.0
    for s in range(sector_t.shape[0]):
        t_ns = sector_t[s] * 1e9
        k = int(np.argmin(np.abs(times - t_ns)))
        worst = max(worst, abs(times[k] - t_ns))
        assert abs(times[k] - t_ns) <= period / 2
        # the value there is the device's: within the raw step around that sample
        # the value there is the device's: between the raw samples around that time
        near = np.vstack([raw[s - 1, -1:] if s else raw[s, :1], raw[s, :2]])
        assert np.all(vals[k] >= near.min(0) - 1e-9) and np.all(vals[k] <= near.max(0) + 1e-9)
    assert worst <= period / 2
    # the old placement at i / 100 s puts the last sector's first sample 1.9 s late
    assert abs((144 * 120 / 100) - (sector_t[144] - sector_t[0])) > 1.9


def test_real_ax3_time_zone_as_ggirread_configtz() -> None:
    """README: sector 1's first sample is 1551178507.215 s UTC with Europe/London and
    1551174907.215 with Europe/Amsterdam."""
    for tz, want in (("Europe/London", 1551178507.215), ("Europe/Amsterdam", 1551174907.215)):
        rec = open_recording(AX3, tz=tz)
        assert rec.qc.tz == tz and rec.qc.tz_source == "option"
        times, _ = _grid(rec)
        k = int(np.argmin(np.abs(times - want * 1e9)))
        assert abs(times[k] - want * 1e9) <= 5_000_000
    berlin = open_recording(AX3, tz="Europe/Berlin")
    assert berlin.t0_ns == open_recording(AX3).t0_ns - 3600 * NS


def test_corrupt_sectors_are_skipped_as_gaps(tmp_path: Path) -> None:
    p = tmp_path / "bad.cwa"
    shutil.copy(AX3, p)
    data = bytearray(p.read_bytes())
    for s in (10, 11, 90):
        data[1024 + s * 512 + 100] ^= 0x5A  # a flipped byte in the samples
    p.write_bytes(bytes(data))
    clean_t, clean_x = _grid(open_recording(AX3))
    rec = open_recording(p)
    t, x = _grid(rec)
    qc = rec.qc
    assert qc.warning() == "3 of 145 sectors failed their checksum; 360 samples skipped"
    assert qc.samples_read == 17_400 - 360 and qc.samples_skipped == 360
    assert qc.skipped_why() == "checksum=360" and qc.gaps == 2
    assert len(qc.damage[0].spans) == 3
    # every grid row read is the clean file's row at that time (except in the sector just
    # before a damaged one: its samples are spaced at the nominal rate, as actipy does)
    sector_t, _ = _sector_facts(AX3)
    idx = np.searchsorted(clean_t, t)
    np.testing.assert_array_equal(clean_t[idx], t)
    before = np.zeros(t.shape[0], bool)
    for s in (9, 89):
        before |= (t >= sector_t[s] * 1e9) & (t <= sector_t[s + 1] * 1e9)
    np.testing.assert_allclose(x[~before], clean_x[idx][~before], atol=1e-12)
    assert before.sum() < 2 * 125
    inside = (t > sector_t[10] * 1e9 + 1e7) & (t < sector_t[12] * 1e9 - 1e7)
    assert not inside.any()


def test_file_without_any_good_sector_is_an_error(tmp_path: Path) -> None:
    p = tmp_path / "dead.cwa"
    data = bytearray(AX3.read_bytes())
    for s in range(145):
        data[1024 + s * 512 + 200] ^= 0xFF
    p.write_bytes(bytes(data))
    with pytest.raises(InputFileError, match="no readable data sectors"):
        open_recording(p)


# --- built files: drift, AX6 jitter, a week ---------------------------------------------------


def _wave(t_s: np.ndarray) -> np.ndarray:
    """A smooth 3-axis movement (g) as a function of time (s)."""
    return np.stack([0.5 * np.sin(2 * np.pi * 1.3 * t_s), 0.3 * np.cos(2 * np.pi * 0.7 * t_s),
                     1.0 + 0.2 * np.sin(2 * np.pi * 2.1 * t_s + 1)], axis=1)


@pytest.mark.parametrize(("true_hz", "axes", "jitter"), [(98.9, 3, 0.0), (101.3, 3, 0.0),
                                                         (100.4, 6, 0.3)])
def test_values_are_the_devices_values_at_grid_times(tmp_path: Path, true_hz: float, axes: int,
                                                     jitter: float) -> None:
    """A device at ``true_hz`` (AX6: sector timestamps jittered by up to 0.3 periods, so
    boundary steps as short as 0.4 period): each grid value is the movement at its time."""
    per = 480 // (2 * axes)
    n_sec = 300
    t_start = dt.datetime(2024, 5, 6, 9, 0, 0, tzinfo=dt.UTC).timestamp() + 0.37
    rng = np.random.default_rng(1)
    true_t = t_start + np.arange(n_sec * per) / true_hz
    sector_t = true_t[::per] + rng.uniform(-jitter, jitter, n_sec) / true_hz
    unit = 4096 if axes == 6 else 256
    p = tmp_path / "d.cwa"
    enc = write_cwa_timed(p, _wave(true_t - t_start), sector_t, axes=axes, unit=unit,
                          hardware=0x64 if axes == 6 else 0x17)
    rec = open_recording(p)
    assert rec.meta["device"] == ("Axivity AX6" if axes == 6 else "Axivity AX3")
    times, vals = _grid(rec)
    assert abs(rec.qc.measured_fs_hz - true_hz) < 0.05
    assert rec.qc.samples_read == n_sec * per and not rec.qc.damage and rec.qc.gaps == 0
    assert np.all(np.diff(times) > 0) and abs(times[0] - enc[0] * 1e9) < 1000
    want = _wave(times / 1e9 - t_start)
    # linear interpolation of a 2.1 Hz wave at 100 Hz + sector jitter + 1/unit rounding;
    # the last sector has no next timestamp and is spaced at the nominal rate (as actipy)
    tol = 0.012 if jitter else 0.004
    body = times < enc[-1] * 1e9
    assert np.max(np.abs(vals - want)[body]) < tol
    # against a placement at i / fs (the old reader) the error grows with drift
    m = min(vals.shape[0], true_t.shape[0])
    naive = np.full_like(vals, np.nan)
    naive[:m] = _wave(true_t[:m] - t_start)  # raw sample i shown at i / fs
    if abs(true_hz - 100) > 1:
        assert np.nanmax(np.abs(vals - naive)[body]) > 10 * tol


def test_week_long_drift_stays_within_a_period() -> None:
    """Sector times of a 7-day AX3 at 98.9 Hz: respaced sample times never stray from the
    device's (linearly drifting) clock by more than a period; DeviceGrid rows match."""
    per, fs_true = 120, 98.9
    n_sec = int(7 * 86400 * fs_true / per)
    sector_t = np.arange(n_sec) * per / fs_true * 1e9
    t = respace(sector_t, np.full(n_sec, per), 1e9 / 100)
    true = np.arange(n_sec * per) / fs_true * 1e9
    assert np.max(np.abs(t[:-per] - true[:-per])) < 1e-3 * 1e9 / 100  # < 0.1 % of a period
    grid = DeviceGrid(100.0)
    last_t = None
    for a in range(0, t.shape[0], 1 << 20):
        for _new, _x, gt in grid.feed(t[a:a + (1 << 20)], np.zeros((min(1 << 20,
                                                                         t.shape[0] - a), 3))):
            last_t = gt[-1]
    assert grid.gaps == 0 and last_t is not None
    assert abs(last_t - t[-1]) < 1e9 / 100
    assert abs(grid.measured_fs_hz - fs_true) < 1e-5


def test_sector_with_a_good_checksum_but_an_impossible_time(tmp_path: Path) -> None:
    p = tmp_path / "month13.cwa"
    data = bytearray(AX3.read_bytes())
    off = 1024 + 50 * 512
    packed, = struct.unpack_from("<I", data, off + 14)
    struct.pack_into("<I", data, off + 14, (packed & ~(0xF << 22)) | (13 << 22))
    struct.pack_into("<H", data, off + 510, 0)
    total = sum(struct.unpack_from("<256H", data, off)) & 0xFFFF
    struct.pack_into("<H", data, off + 510, (-total) & 0xFFFF)
    p.write_bytes(bytes(data))
    rec = open_recording(p)
    rec.read_all()
    assert rec.qc.warning() == ("1 of 145 sectors have an invalid time, format or sample "
                                "count; 120 samples skipped")
    assert rec.qc.samples_read == 17_280 and rec.qc.gaps == 1
