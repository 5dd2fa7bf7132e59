"""The demo's simulated band through the real Polar recorder: record on the band, walk
away, come back, sync -> the child's record holds the time away; nothing doubled."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from movereg.config import Settings
from movereg.pipeline.band_links import BandLinks
from movereg.pipeline.band_sync import BandSync
from movereg.sensors.polar_offline import PolarBandModel, scenario_source
from movereg.storage import Store

NS = 10**9
DEV = "sim-3"


class Clock:
    """The simulated band's host clock, moved by the test."""

    def __init__(self, t: int) -> None:
        self.t = t

    def __call__(self) -> int:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += round(seconds * NS)


def test_record_walk_away_come_back_sync(tmp_path: Path, store: Store) -> None:
    start = (time.time_ns() - 3 * 3600 * NS) // NS * NS
    clock = Clock(start)
    links = BandLinks()
    band = links.band_factory("sim:3", device_id=DEV, scenario="calm")
    model = PolarBandModel(clock=clock, source=scenario_source(3, "calm"),
                           device_clock_offset_ns=-7 * 86_400 * NS)   # clock not yet set
    links._sim(DEV).offline = model
    assert links.can_record(DEV, "simulated") and band.device_id == DEV
    kid = store.create_child(display_name="Kai")
    store.assign_device(DEV, kid.id, at_ns=start - 60 * NS)
    sync = BandSync(store, Settings(data_dir=tmp_path, band_sync_interval_min=0), links,
                    clock=clock)

    async def run() -> None:
        st = await sync.start_recording(DEV, 26.0, actor="therapist", child_id=kid.id)
        assert st.recording and st.rate_hz == 26.0
        assert abs(model.band_polar_ns() + 946_684_800 * NS - clock()) < NS  # clock set
        await links.set_in_range(DEV, False)        # the child walks away with the band
        clock.advance(2 * 3600)
        away = await sync.sync_band(DEV, actor="therapist")
        assert away.ok is False and "not in range" in away.message
        await links.set_in_range(DEV, True)         # ... and comes back
        prog = await sync.sync_band(DEV, actor="therapist")
        assert prog.ok, prog.message
        assert prog.imported == 1
        again = await sync.sync_band(DEV, actor="therapist")   # nothing twice
        assert again.ok and again.imported == 0

    asyncio.run(run())
    (src,) = [s for s in store.list_sources(child_id=kid.id, kind="file") if s.status == "done"]
    assert src.fs_hz == 26.0
    assert src.first_sample_ns is not None and abs(src.first_sample_ns - start) < 2 * NS
    tl = store.timeline(kid.id, start, start + 2 * 3600 * NS, features=["enmo_mg"])
    assert tl["epoch_start"].shape[0] >= 2 * 3600 - 5                 # the time away is there
    rows = store.band_recordings(DEV)
    assert [r.state for r in rows] == ["removed"] and rows[0].child_id == kid.id
    assert model.recording is not None and model.recording.rate == 26.0   # resumed
    actions = [e.action for e in store.list_audit(limit=50)]
    for a in ("band.record.start", "band.record.pause", "band.record.resume",
              "band.recording.remove", "band.sync", "import.add"):
        assert a in actions, a
