"""The demo's simulated band records on its own and is synced through the real recorder."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from movereg.errors import DecodeError, ProtocolError
from movereg.models import DeviceFamily
from movereg.recordings import open_recording
from movereg.sensors.decoders.polar_pmd import PMD_CP_UUID, parse_cp_response
from movereg.sensors.offline import RECORDERS, BandMemoryFullError, recorder_for
from movereg.sensors.polar_offline import (
    PolarBandModel,
    PolarOfflineRecorder,
    index_source,
    scenario_source,
)
from movereg.sensors.polar_offline.recfile import parse_container, parse_rec
from movereg.sensors.sim_link import SimulatedTransport
from movereg.sensors.simulated import SimulatedBand

T0 = 1_800_000_000 * 10**9  # 2027-01-15 08:00 UTC


class Clock:
    """A host clock the test moves forward (the band "walks away")."""

    def __init__(self, t: int = T0) -> None:
        self.t = t

    def __call__(self) -> int:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += round(seconds * 1e9)


async def _recorder(model: PolarBandModel, seed: int = 1) -> PolarOfflineRecorder:
    tr = SimulatedTransport(SimulatedBand(seed), offline=model)
    link = await tr.connect("sim:1", disconnected_callback=lambda: None, max_attempts=1)
    rec = recorder_for(DeviceFamily.POLAR_PMD, link, f"sim-{seed}")
    assert isinstance(rec, PolarOfflineRecorder)
    return rec


async def test_simulated_band_records_away_and_is_synced(tmp_path: Path) -> None:
    assert RECORDERS[DeviceFamily.POLAR_PMD] is PolarOfflineRecorder
    clock = Clock()
    model = PolarBandModel(clock=clock, source=index_source, device_clock_offset_ns=-3 * 10**12)
    rec = await _recorder(model)
    await rec.set_clock(clock())
    assert abs(model.band_polar_ns() + 946_684_800 * 10**9 - clock()) < 10**6
    st = await rec.status()
    assert not st.recording and st.free_bytes == model.total_bytes
    await rec.start_recording(26)
    clock.advance(2 * 3600)
    st = await rec.status()
    assert st.recording and st.rate_hz == 26.0 and st.free_bytes is not None
    assert st.free_bytes < model.total_bytes and st.hours_left() is not None
    await rec.stop_recording()
    [one] = await rec.list_recordings()
    assert one.recording_id == "/U/0/20270115/R/080000/" and one.started_utc_ns == T0
    seen: list[tuple[int, int]] = []
    out = await rec.download(one, tmp_path / "r.polarrec", lambda a, b: seen.append((a, b)))
    c = parse_container(out.read_bytes())
    assert c.meta["recording_id"] == one.recording_id and not c.trailing
    frames = [f for p in c.parts for f in parse_rec(p).frames]
    assert len(frames) * 36 == model.samples_taken[one.recording_id] == 2 * 3600 * 26
    assert seen and seen[-1][0] == seen[-1][1]
    await rec.remove(one)
    assert await rec.list_recordings() == []
    assert not [p for p in model.files if p.endswith(".REC")]


async def test_simulated_band_refuses_a_start_when_nearly_full() -> None:
    clock = Clock()
    model = PolarBandModel(clock=clock, source=scenario_source(2), total_bytes=2_500_000)
    rec = await _recorder(model, 2)
    await rec.start_recording(52)
    clock.advance(3600)   # ~750 kB of movement at 52 Hz
    await rec.stop_recording()
    with pytest.raises(BandMemoryFullError) as exc:
        await rec.start_recording(52)
    assert "sync and remove" in (exc.value.advice or "")


async def test_online_and_offline_acc_never_run_together() -> None:
    clock = Clock()
    model = PolarBandModel(clock=clock)
    tr = SimulatedTransport(SimulatedBand(3), speed=50.0, offline=model)
    link = await tr.connect("sim:3", disconnected_callback=lambda: None, max_attempts=1)
    rec = recorder_for(DeviceFamily.POLAR_PMD, link, "sim-3")
    replies: list[bytes] = []
    await rec.start_recording(13)
    cb = link._callbacks[PMD_CP_UUID]
    link._callbacks[PMD_CP_UUID] = lambda b: (replies.append(bytes(b)), cb(b))
    await link.write(PMD_CP_UUID, bytes.fromhex("0202000134000101100002010800040103"),
                     response=True)
    await asyncio.sleep(0.01)
    assert parse_cp_response(replies[-1]).status == 6   # online START refused
    await rec.stop_recording()
    await link.write(PMD_CP_UUID, bytes.fromhex("0202000134000101100002010800040103"),
                     response=True)
    await asyncio.sleep(0.01)
    assert parse_cp_response(replies[-1]).ok and model.online_streaming
    with pytest.raises(ProtocolError) as exc:   # and offline START refused while streaming
        await rec.start_recording(13)
    assert exc.value.code == 6
    await link.disconnect()
    assert not model.online_streaming


def test_the_band_stops_itself_below_memory_limit_two_and_keeps_the_data() -> None:
    clock = Clock()
    model = PolarBandModel(clock=clock, source=scenario_source(5), total_bytes=2_600_000)
    assert model.start(52) == 0
    clock.advance(4 * 3600)   # ~3 MB of movement would not fit
    model.catch_up()
    assert model.recording is None and model.stopped_by_memory
    assert model.limit_stop_bytes - 60_000 <= model.free_bytes() < model.limit_stop_bytes
    taken = sum(model.samples_taken.values())
    assert 0 < taken < 4 * 3600 * 52
    assert model.start(13) == 14   # below limit 1: DISK FULL


async def test_record_since_fills_the_time_away(tmp_path: Path) -> None:
    clock = Clock()
    model = PolarBandModel(clock=clock)
    path = model.record_since(T0 - 3 * 3600 * 10**9, 26)
    assert path == "/U/0/20270115/R/050000/" and model.recording is None
    assert model.samples_taken[path] == 3 * 3600 * 26
    rec = await _recorder(model)
    [one] = await rec.list_recordings()
    assert one.started_utc_ns == T0 - 3 * 3600 * 10**9
    out = await rec.download(one, tmp_path / "x.polarrec")
    r = open_recording(out)
    t0, x = r.read_all()
    assert t0 == one.started_utc_ns and x.shape[0] == 3 * 3600 * 26


async def test_a_download_that_does_not_add_up_is_not_kept(tmp_path: Path) -> None:
    clock = Clock()
    model = PolarBandModel(clock=clock, part_max_bytes=20_000)
    path = model.record_since(T0 - 3600 * 10**9, 52)
    rec = await _recorder(model)
    [one] = await rec.list_recordings()
    first, second = (path + p for p in one.parts[:2])
    model.files[first], model.files[second] = model.files[second], model.files[first]
    dest = tmp_path / "x.polarrec"
    with pytest.raises(DecodeError, match="starts before"):
        await rec.download(one, dest)
    assert not dest.exists()
    model.files[first], model.files[second] = model.files[second], model.files[first]
    assert await rec.download(one, dest) == dest   # afresh, not resumed from the bad copy
    model.files[path + one.parts[-1]] = model.files[path + one.parts[-1]][:-40]
    with pytest.raises(DecodeError, match="listed"):
        await rec.download(one, tmp_path / "y.polarrec")
