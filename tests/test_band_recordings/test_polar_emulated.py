"""PolarOfflineRecorder against an emulated Verity Sense on Bumble's in-memory link.

The real bleak client (through movereg's BleakTransport and our Bumble backend) talks
to an emulated band whose file system and offline recorder are
:class:`~movereg.sensors.polar_offline.PolarBandModel`; the recordings it serves are made
by our own encoders (index-coded samples: every sample's index is recoverable, so a
doubled or lost sample shows).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from emulated import World
from emulated.peripherals import indices_from_counts
from emulated.polar_files import EmulatedPolarFiles
from movereg.errors import ConnectionLostError
from movereg.models import DeviceFamily
from movereg.pipeline.importer import import_file
from movereg.recordings import open_recording
from movereg.sensors.offline import (
    BandBusyError,
    BandMemoryFullError,
    RecordingNotReadyError,
    partial_path,
    recorder_for,
)
from movereg.sensors.polar_offline import PolarBandModel, PolarOfflineRecorder
from movereg.sensors.transport import BleakLink, BleakTransport
from movereg.storage import Store

pytestmark = pytest.mark.timeout(120)

T0 = 1_790_000_000 * 10**9  # 2026-09-21 14:13:20 UTC (in the past: imports check clocks)
FACTOR = 0.000244


class Clock:
    """The host clock the band model reads; tests move it forward."""

    def __init__(self) -> None:
        self.t = T0

    def __call__(self) -> int:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += round(seconds * 1e9)


async def _band(**model_kw: object) -> tuple[World, EmulatedPolarFiles, Clock]:
    clock = Clock()
    world = World()
    await world.start()
    emu = EmulatedPolarFiles(world, PolarBandModel(clock=clock, **model_kw))  # type: ignore[arg-type]
    await emu.power_on()
    return world, emu, clock


async def _connect(world: World, emu: EmulatedPolarFiles) -> tuple[BleakLink,
                                                                   PolarOfflineRecorder]:
    tr = BleakTransport(world.backend)
    adv = await tr.find(emu.address, 5.0)
    link = await tr.connect(adv.device, disconnected_callback=lambda: None, max_attempts=2)
    rec = recorder_for(DeviceFamily.POLAR_PMD, link, "polar-e1")
    assert isinstance(rec, PolarOfflineRecorder)
    return link, rec


def _indices(x: np.ndarray) -> np.ndarray:
    return indices_from_counts(x / FACTOR)


async def _record(rec: PolarOfflineRecorder, clock: Clock, hours: float, rate: int = 52) -> None:
    await rec.set_clock(clock())
    await rec.start_recording(rate)
    clock.advance(hours * 3600)
    await rec.stop_recording()


async def test_list_download_import_remove_a_multi_part_recording(tmp_path: Path) -> None:
    world, emu, clock = await _band(part_max_bytes=30_000)
    emu.battery = 64
    link, rec = await _connect(world, emu)
    await _record(rec, clock, 1.0)
    st = await rec.status()
    assert not st.recording and st.battery_pct == 64 and st.free_bytes is not None
    [one] = await rec.list_recordings()
    assert len(one.parts) >= 3 and one.parts[:2] == ("ACC0.REC", "ACC1.REC")
    assert one.started_utc_ns == T0 and one.suffix == ".polarrec"
    done: list[int] = []
    path = await rec.download(one, tmp_path / "band.polarrec", lambda a, _b: done.append(a))
    assert path.exists() and not partial_path(path).exists()
    assert done == sorted(done) and done[-1] == one.size_bytes

    r = open_recording(path)
    t0, x = r.read_all()
    k = _indices(x)
    n = emu.model.samples_taken[one.recording_id]
    assert n == 3600 * 52 and np.array_equal(k, np.arange(n))  # every sample once, in order
    assert t0 == T0 and r.qc.gaps == 0 and not r.qc.damage
    assert r.meta["recording_id"] == one.recording_id and r.qc.serial == "polar-e1"

    with Store(tmp_path / "m.sqlite3") as store:
        child = store.create_child(display_name="Ann")
        src = import_file(store, child.id, path, actor="test")
        assert src.status == "done"
        assert src.first_sample_ns == T0
    await rec.remove(one)
    assert await rec.list_recordings() == []
    assert not [p for p in emu.model.files if p.endswith(".REC")]
    await link.disconnect()


async def test_a_dropped_link_resumes_after_the_last_whole_part(tmp_path: Path) -> None:
    world, emu, clock = await _band(part_max_bytes=20_000)
    link, rec = await _connect(world, emu)
    await _record(rec, clock, 0.5)
    [one] = await rec.list_recordings()
    emu.drop_after_packets = emu.pftp_packets_sent + 250  # mid-way through part 2 or 3
    dest = tmp_path / "r.polarrec"
    with pytest.raises(ConnectionLostError):
        await rec.download(one, dest)
    assert partial_path(dest).exists() and not dest.exists()
    gets_before = [p for q, op, p in emu.model.requests if not q and op == 0]
    link2, rec2 = await _connect(world, emu)
    await rec2.download(one, dest)
    gets = [p for q, op, p in emu.model.requests if not q and op == 0][len(gets_before):]
    # parts already whole on disk were not fetched again
    assert gets and gets[0] != one.recording_id + "ACC0.REC"
    _t0, x = open_recording(dest).read_all()
    n = emu.model.samples_taken[one.recording_id]
    assert np.array_equal(_indices(x), np.arange(n))   # nothing doubled, nothing lost
    await link2.disconnect()
    await link.disconnect()


async def test_a_busy_band_and_a_not_yet_written_file(tmp_path: Path) -> None:
    world, emu, clock = await _band(pmdfiles=False)
    link, rec = await _connect(world, emu)
    await rec.set_clock(clock())
    await rec.start_recording(26)
    clock.advance(60)  # the band buffers: nothing written to flash yet
    [one] = await rec.list_recordings()
    assert one.parts == () and one.size_bytes == 0
    with pytest.raises(RecordingNotReadyError) as exc:
        await rec.download(one, tmp_path / "x.polarrec")
    assert exc.value.code == 103 and "few minutes" in (exc.value.advice or "")
    emu.model.busy = True
    with pytest.raises(BandBusyError) as busy:
        await rec.list_recordings()
    assert busy.value.code == 202
    emu.model.busy = False
    clock.advance(600)   # the buffer has been written
    await rec.stop_recording()
    [one] = await rec.list_recordings()
    assert one.parts == ("ACC0.REC",)
    await rec.download(one, tmp_path / "x.polarrec")
    _t0, x = open_recording(tmp_path / "x.polarrec").read_all()
    assert np.array_equal(_indices(x), np.arange(emu.model.samples_taken[one.recording_id]))
    await link.disconnect()


async def test_a_full_band_refuses_to_start() -> None:
    world, emu, _clock = await _band(total_bytes=2_100_000)
    emu.model.files["/U/0/20260101/R/100000/ACC0.REC"] = b"\0" * 200_000  # older recordings
    link, rec = await _connect(world, emu)
    with pytest.raises(BandMemoryFullError) as exc:
        await rec.start_recording(52)
    assert exc.value.code == 14
    st = await rec.status()
    assert not st.recording and st.free_bytes is not None and st.free_bytes < 2_000_000
    await link.disconnect()
