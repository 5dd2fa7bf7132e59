"""fetch_recordings: list -> download -> check -> spool, with no store (the relay's step)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from sync_support import NS, FakeRecorder

from movereg.errors import ConnectionLostError
from movereg.sensors.offline import BandBusyError, partial_path
from movereg.sensors.offline_fetch import (
    discard_spooled,
    fetch_recordings,
    spool_path,
    spooled,
)


def _t0(hours_ago: float) -> int:
    return (time.time_ns() - round(hours_ago * 3600 * NS)) // NS * NS


def test_fetch_checks_and_spools_each_recording(tmp_path: Path) -> None:
    band = FakeRecorder()
    t0 = _t0(3)
    band.add("/U/0/A/", t0, 120)
    band.add("/U/0/B/", t0 + 600 * NS, 60, seed=1)
    seen: list[tuple[str, int, int]] = []
    res = asyncio.run(fetch_recordings(band, tmp_path, lambda r, d, t: seen.append((r, d, t))))
    assert res.stopped is None and not res.failed
    assert [f.recording_id for f in res.fetched] == ["/U/0/A/", "/U/0/B/"]
    a = res.fetched[0]
    assert a.start_ns == t0 and a.samples == 120 * 52
    assert a.end_ns == t0 + round(120 * 52 * NS / 52)
    assert a.path.read_bytes() == band.held["/U/0/A/"].data
    assert seen[-1][1] == seen[-1][2]              # progress reached the end
    assert band.removed == []                     # fetching never removes
    assert sorted(f.recording_id for f in spooled(tmp_path)) == ["/U/0/A/", "/U/0/B/"]


def test_already_spooled_is_not_downloaded_again(tmp_path: Path) -> None:
    band = FakeRecorder()
    band.add("r1", _t0(2), 30)
    asyncio.run(fetch_recordings(band, tmp_path))
    again = asyncio.run(fetch_recordings(band, tmp_path))
    assert band.downloads == 1
    assert [f.recording_id for f in again.fetched] == ["r1"]


def test_skip_list(tmp_path: Path) -> None:
    band = FakeRecorder()
    band.add("r1", _t0(2), 30)
    res = asyncio.run(fetch_recordings(band, tmp_path, skip={"r1"}))
    assert res.skipped == ["r1"] and res.fetched == [] and band.downloads == 0


def test_dropped_link_resumes_without_doubling(tmp_path: Path) -> None:
    band = FakeRecorder()
    rec = band.add("r1", _t0(2), 200)
    band.drop_after = 8192
    res = asyncio.run(fetch_recordings(band, tmp_path))
    assert isinstance(res.stopped, ConnectionLostError) and res.fetched == []
    part = partial_path(spool_path(tmp_path, band.device_id, rec))
    assert part.stat().st_size == 8192
    res = asyncio.run(fetch_recordings(band, tmp_path))
    assert res.stopped is None
    assert res.fetched[0].path.read_bytes() == band.held["r1"].data   # nothing doubled
    assert res.fetched[0].samples == 200 * 52


def test_busy_band_and_not_ready(tmp_path: Path) -> None:
    band = FakeRecorder()
    band.add("r1", _t0(2), 30)
    band.add("r2", _t0(1), 30)
    band.busy = True
    res = asyncio.run(fetch_recordings(band, tmp_path))
    assert isinstance(res.stopped, BandBusyError)
    band.busy = False
    band.not_ready = {"r2"}
    res = asyncio.run(fetch_recordings(band, tmp_path))
    assert [f.recording_id for f in res.fetched] == ["r1"] and res.not_ready == ["r2"]


def test_bad_file_is_failed_in_words_and_dropped(tmp_path: Path) -> None:
    band = FakeRecorder()
    rec = band.add("r1", _t0(2), 30)
    band.held["r1"].data = b"# fs_hz=52\nx,y,z\n"          # a header and no samples
    res = asyncio.run(fetch_recordings(band, tmp_path))
    assert res.fetched == [] and res.failed and res.failed[0][0] == "r1"
    assert "samples" in res.failed[0][1] or "empty" in res.failed[0][1]
    assert not spool_path(tmp_path, band.device_id, rec).exists()


def test_clock_years_off_is_refused(tmp_path: Path) -> None:
    band = FakeRecorder()
    band.add("r1", 946_684_800 * NS, 30)                 # 2000-01-01: clock never set
    res = asyncio.run(fetch_recordings(band, tmp_path))
    assert res.failed and "years off" in res.failed[0][1]


def test_discard(tmp_path: Path) -> None:
    band = FakeRecorder()
    band.add("r1", _t0(2), 30)
    res = asyncio.run(fetch_recordings(band, tmp_path))
    discard_spooled(res.fetched[0])
    assert spooled(tmp_path) == [] and not res.fetched[0].path.exists()
