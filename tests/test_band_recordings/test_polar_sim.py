"""The demo's simulated band records on its own and is synced through the real recorder."""

from __future__ import annotations

from pathlib import Path

import pytest

from movereg.models import DeviceFamily
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
