"""Local device clocks read with an IANA zone (``tz=`` / ``--tz``), across DST changes.

Model (movereg.recordings.devicetime): a device clock is set to the local time of the
configuring computer and then runs on without daylight-saving changes, so the whole
recording is read with the zone's offset at the time the clock was set (the CWA
header's last-change time, else the first sample). Crossing a DST change therefore
neither loses nor repeats an hour in UTC; the wall-clock hour that is missing (spring) or
repeated (autumn) shows only when the UTC epochs are shown in local time again.
"""

from __future__ import annotations

import datetime as dt
import itertools
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow.parquet as pq
from recordings_writers import write_cwa_timed, write_gt3x

from movereg.cli import main
from movereg.recordings import open_recording
from movereg.recordings.devicetime import clock_offset_s

BERLIN = ZoneInfo("Europe/Berlin")
UTC = dt.UTC
FS = 25.0
PER = 80


def _naive_s(t: dt.datetime) -> float:
    return t.replace(tzinfo=UTC).timestamp()


def _device_file(path: Path, start: dt.datetime, hours: float,
                 set_at: dt.datetime | None = None) -> None:
    n_sec = int(hours * 3600 * FS / PER)
    t = _naive_s(start) + np.arange(n_sec * PER) / FS
    acc = np.zeros((t.shape[0], 3))
    acc[:, 2] = 1.0
    acc[:, 0] = 0.5 * np.sin(2 * np.pi * 0.5 * (t - t[0]))
    write_cwa_timed(path, acc, t[::PER], rate_hz=FS, set_at=set_at)


def _epochs_utc(path: Path, tmp: Path, tz: str) -> list[dt.datetime]:
    out = tmp / f"{path.stem}.parquet"
    assert main(["features", str(path), "--out", str(out), "--epoch", "600",
                 "--tz", tz]) == 0
    return [t.as_py() for t in pq.read_table(out).column("epoch_start")]


def test_offsets_at_the_changes() -> None:
    ns = 10**9
    def local(y: int, mo: int, d: int, h: int, mi: int) -> int:
        return int(_naive_s(dt.datetime(y, mo, d, h, mi))) * ns
    assert clock_offset_s(BERLIN, local(2024, 1, 15, 12, 0)) == 3600
    assert clock_offset_s(BERLIN, local(2024, 7, 15, 12, 0)) == 7200
    # 02:30 on 31 March does not exist on a Berlin wall clock: the offset before (CET)
    assert clock_offset_s(BERLIN, local(2024, 3, 31, 2, 30)) == 3600
    # 02:30 on 27 October happens twice: the first (CEST)
    assert clock_offset_s(BERLIN, local(2024, 10, 27, 2, 30)) == 7200


def test_spring_forward_missing_hour(tmp_path: Path) -> None:
    """Device clock set in winter, 01:30-03:30 on 31 March 2024 device time: every
    epoch lands at device time - 1 h in UTC, 10 min apart, none lost; the device's
    02:xx epochs (an hour the wall clock skips) are 03:xx CEST on the wall."""
    p = tmp_path / "spring.cwa"
    _device_file(p, dt.datetime(2024, 3, 31, 1, 30), 2.0)
    epochs = _epochs_utc(p, tmp_path, "Europe/Berlin")
    assert epochs[0] == dt.datetime(2024, 3, 31, 0, 30, tzinfo=UTC)
    assert all(b - a == dt.timedelta(minutes=10) for a, b in itertools.pairwise(epochs))
    assert len(epochs) == 12 and epochs[-1] == dt.datetime(2024, 3, 31, 2, 20, tzinfo=UTC)
    wall = [e.astimezone(BERLIN).strftime("%H:%M") for e in epochs]
    assert wall[:3] == ["01:30", "01:40", "01:50"]
    assert wall[3:6] == ["03:00", "03:10", "03:20"]  # device 02:00-02:20: wall 02:xx skipped
    assert not any(w.startswith("02:") for w in wall)


def test_fall_back_repeated_hour(tmp_path: Path) -> None:
    """Device clock set in summer, 01:30-03:30 on 27 October 2024 device time: UTC
    23:30-01:30, 10 min apart, no epoch twice; on the wall clock 02:xx comes twice (CEST,
    then CET), so device 03:00 is 02:00 CET."""
    p = tmp_path / "autumn.cwa"
    _device_file(p, dt.datetime(2024, 10, 27, 1, 30), 2.0)
    epochs = _epochs_utc(p, tmp_path, "Europe/Berlin")
    assert epochs[0] == dt.datetime(2024, 10, 26, 23, 30, tzinfo=UTC)
    assert len(set(epochs)) == len(epochs) == 12
    assert all(b - a == dt.timedelta(minutes=10) for a, b in itertools.pairwise(epochs))
    local = [e.astimezone(BERLIN) for e in epochs]
    wall = [(t.strftime("%H:%M"), t.utcoffset() == dt.timedelta(hours=2)) for t in local]
    assert wall[3] == ("02:00", True) and wall[9] == ("02:00", False)  # the repeated hour
    assert epochs[9] == dt.datetime(2024, 10, 27, 1, 0, tzinfo=UTC)  # device 03:00


def test_offset_is_the_one_when_the_clock_was_set(tmp_path: Path) -> None:
    """Set on 20 March (CET), recording from 2 April (CEST on the wall): the device clock
    still runs in CET, so it is read at +01:00."""
    p = tmp_path / "set_before.cwa"
    _device_file(p, dt.datetime(2024, 4, 2, 9, 0), 0.2, set_at=dt.datetime(2024, 3, 20, 15, 0))
    rec = open_recording(p, tz="Europe/Berlin")
    assert rec.meta["utc_offset_s"] == 3600
    assert rec.t0_ns == int(dt.datetime(2024, 4, 2, 8, 0, tzinfo=UTC).timestamp()) * 10**9
    # set on the day itself: CEST
    q = tmp_path / "set_same.cwa"
    _device_file(q, dt.datetime(2024, 4, 2, 9, 0), 0.2, set_at=dt.datetime(2024, 4, 2, 8, 0))
    assert open_recording(q, tz="Europe/Berlin").meta["utc_offset_s"] == 7200


def test_gt3x_tz_overrides_the_files_offset(tmp_path: Path) -> None:
    p = tmp_path / "ny.gt3x"
    start = int(_naive_s(dt.datetime(2024, 7, 4, 12, 0)))
    write_gt3x(p, np.zeros((300, 3)), 30, start)
    rec = open_recording(p)
    assert rec.qc.tz_source == "file" and rec.t0_ns == start * 10**9
    ny = open_recording(p, tz="America/New_York")
    assert ny.qc.tz == "America/New_York" and ny.meta["utc_offset_s"] == -4 * 3600
    assert ny.t0_ns == (start + 4 * 3600) * 10**9
