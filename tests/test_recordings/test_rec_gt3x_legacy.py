"""Legacy GT3X (``activity.bin``, no ``log.bin``), built from ActiGraph's published
NHANES .gt3x format description (github.com/actigraph/NHANES-GT3X-File-Format)."""

from __future__ import annotations

import datetime as dt
import zipfile
from pathlib import Path

import numpy as np
from recordings_writers import _pack12

from movereg.cli import main
from movereg.recordings import open_recording
from movereg.recordings.gt3x_legacy import decode_activity_bin

TICKS_1970 = 621_355_968_000_000_000


def _legacy(path: Path, data: bytes, rate: int, start: dt.datetime) -> None:
    ticks = TICKS_1970 + int(start.replace(tzinfo=dt.UTC).timestamp()) * 10_000_000
    info = (f"Serial Number: NEO1C16110020\nFirmware: 2.2.0\nBattery Voltage: 4.25\n"
            f"Sample Rate: {rate}\nStart Date: {ticks}\nStop Date: 0\n"
            f"Download Date: {ticks + 36_000_000_000}\nBoard Revision: 2\n"
            "Subject Name: x\n")
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("info.txt", info)
        z.writestr("activity.bin", data)
        z.writestr("battery.bin", b"\x00" * 8)


def test_the_format_descriptions_worked_example(tmp_path: Path) -> None:
    """activity.bin.md: bytes 00 60 08 EB D0 07 00 9E BF 00 70 08 EB F0 hold three
    samples: (y, x, z) = (6, 8, -323), (7, 9, -321), (7, 8, -321); g = value / 341."""
    data = bytes.fromhex("006008EBD007009EBF007008EBF0")
    raw = decode_activity_bin(data)
    np.testing.assert_array_equal(raw, [[8, 6, -323], [9, 7, -321], [8, 7, -321]])
    p = tmp_path / "nhanes.gt3x"
    _legacy(p, data, 30, dt.datetime(2008, 3, 29, 12, 0, 0))
    rec = open_recording(p)
    assert rec.meta["format"] == "gt3x_legacy" and rec.meta["serial"] == "NEO1C16110020"
    assert rec.fs_hz == 30.0 and rec.n_samples == 3
    assert rec.t0_ns == int(dt.datetime(2008, 3, 29, 12, tzinfo=dt.UTC).timestamp()) * 10**9
    _t0, x = rec.read_all()
    # the description's rounded values: x 0.023, y 0.018, z -0.947 (sample 1) ...
    np.testing.assert_array_equal(np.round(x, 3), [[0.023, 0.018, -0.947],
                                                  [0.026, 0.021, -0.941],
                                                  [0.023, 0.021, -0.941]])
    np.testing.assert_array_equal(x[0], np.array([8, 6, -323]) / 341)
    assert not rec.qc.damage  # 3 samples in 13.5 bytes: the last nibble is unused


def test_legacy_file_values_rate_and_features(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    n, rate = 30 * 600, 30
    raw = np.clip(np.round(rng.normal(0, 0.4, (n, 3)) * 341), -2048, 2047).astype(np.int64)
    raw[:, 2] += 341
    data = _pack12(raw[:, [1, 0, 2]].reshape(-1))  # y, x, z, 12 bits each
    p = tmp_path / "neo.gt3x"
    start = dt.datetime(2010, 6, 1, 9, 0, 0)
    _legacy(p, data, rate, start)
    rec = open_recording(p, tz="America/New_York")
    assert rec.fs_hz == 30.0 and rec.n_samples == n and rec.meta["measured_fs_hz"] == 30.0
    assert rec.t0_ns == int((start + dt.timedelta(hours=4)).replace(tzinfo=dt.UTC)
                            .timestamp()) * 10**9
    chunks = list(rec.chunks(7000))
    assert [c.shape[0] for _, c in chunks] == [7000, 7000, 4000]
    assert chunks[1][0] == rec.t0_ns + 7000 * 10**9 // 30
    np.testing.assert_array_equal(np.concatenate([c for _, c in chunks]), raw / 341)
    assert rec.qc.samples_read == n and rec.qc.complete
    out = tmp_path / "neo.csv"
    assert main(["features", str(p), "--out", str(out)]) == 0
    assert len(out.read_text().splitlines()) == 1 + 600 // 5


def test_cut_off_last_sample(tmp_path: Path) -> None:
    raw = np.tile([[10, 20, 341]], (100, 1))
    data = _pack12(raw[:, [1, 0, 2]].reshape(-1))
    p = tmp_path / "cut.gt3x"
    _legacy(p, data[:-3], 30, dt.datetime(2010, 6, 1))
    rec = open_recording(p)
    x = rec.read_all()[1]
    assert x.shape == (99, 3)
    assert rec.qc.warning() == "activity.bin ends in a partial sample (12 bits); 1 samples skipped"
