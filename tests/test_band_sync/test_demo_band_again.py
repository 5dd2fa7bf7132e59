"""A demo band opened again is the same band (as a real band is): starting a session with
it keeps what it recorded on itself, its battery and its wearer's movement.

``BandLinks.band_factory`` is the one place that opens a simulated band again; starting a
session (``_attach_band``) and *Stop recording* (``_live_again.reconnect``) both reach it
through ``Hub.connect``.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from real_hub_support import real_hub

from movereg.pipeline.band_links import BandLinks

SEED, DEV = 12, "sim-1"          # as `movereg demo`: band sim-1 moves with seed 12


def test_band_factory_opens_a_simulated_band_again_as_it_was() -> None:
    links = BandLinks()
    first = links.band_factory(f"sim:{SEED}", device_id=DEV, scenario="calm",
                               battery_pct=40.0, speed=2.0)
    old = links.sim_transport(DEV)
    old.band.frames(3.0)                          # the band has streamed a while
    pos = old.band._pos
    # the hub opens it again by its device id (sim-1 -> sim:1), with other band options
    again = links.band_factory("sim:1", device_id=DEV, scenario="session",
                               battery_pct=100.0, watchdog_s=7.0)
    new = links.sim_transport(DEV)
    assert again is not first and new is not old
    assert new.band is old.band and new.band._pos == pos     # movement goes on
    assert (new.band.seed, new.band.scenario, new.speed) == (SEED, "calm", 2.0)
    assert new.offline is old.offline                          # its memory
    assert new.band.battery.level() <= 40                      # battery drains on
    assert again.device_id == DEV and links.is_simulated(DEV)
    assert again.watchdog_s == 7.0                            # other options pass
    # another device id is another band
    links.band_factory(f"sim:{SEED}", device_id="sim-2")
    other = links.sim_transport("sim-2")
    assert other.band is not old.band and other.offline is not old.offline


def test_starting_a_session_keeps_the_demo_bands_memory_and_battery(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Record on the band, stop, start a session with the band: the recording is still on
    the band and a sync imports it; the battery carries on (no new band at 100 %)."""
    with real_hub(tmp_path, monkeypatch) as app:
        c, h, kid = app.client, app.h, app.kid
        assert app.connect_as_demo(SEED, DEV, scenario="calm", battery_pct=40.0) == DEV
        assert c.post(f"/api/bands/{DEV}/assign", json={"child_id": kid},
                      headers=h).status_code == 204
        assert 35 <= app.wait_streaming(DEV).battery_pct <= 40
        before = app.links.sim_transport(DEV)
        r = c.post(f"/api/bands/{DEV}/record", json={"rate_hz": 26}, headers=h)
        assert r.status_code == 200 and r.json()["recording"], r.text
        time.sleep(2.0)                                   # the band records a little
        assert c.post(f"/api/bands/{DEV}/record/stop", headers=h).status_code == 200
        memory = before.offline
        assert [p for p in memory.files if p.endswith(".REC")], memory.files
        r = c.post("/api/sessions/group", json={"child_ids": [kid]}, headers=h)
        assert r.status_code == 201, r.text
        assert r.json()["bands"] == {str(kid): DEV}
        now = app.links.sim_transport(DEV)
        assert now is not before                          # a fresh connection ...
        assert now.band is before.band and now.offline is memory   # ... to the same band
        assert (now.band.seed, now.band.scenario) == (SEED, "calm")
        st = app.wait_streaming(DEV)
        assert st.state == "streaming" and 35 <= st.battery_pct <= 40, st
        s = app.sync(DEV)
        assert s["ok"] and s["imported"] == 1, s
        (src,) = [x for x in app.store.list_sources(child_id=kid, kind="file")
                  if x.status == "done"]
        assert src.fs_hz == 26.0


def test_a_session_started_while_the_band_records_keeps_the_recording(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Record, then start a session with the band still recording: the band goes on
    recording (a band records or streams, not both: it refuses the live stream, as a
    Polar band does, until the recording stops); Stop recording, and its live stream
    comes back for the session and a sync imports what it recorded."""
    with real_hub(tmp_path, monkeypatch) as app:
        c, h, kid = app.client, app.h, app.kid
        app.connect_as_demo(SEED, DEV, scenario="calm", battery_pct=40.0)
        assert c.post(f"/api/bands/{DEV}/assign", json={"child_id": kid},
                      headers=h).status_code == 204
        memory = app.links.sim_transport(DEV).offline
        r = c.post(f"/api/bands/{DEV}/record", json={"rate_hz": 26}, headers=h)
        assert r.status_code == 200 and r.json()["recording"], r.text
        time.sleep(1.0)
        r = c.post("/api/sessions/group", json={"child_ids": [kid]}, headers=h)
        assert r.status_code == 201 and r.json()["bands"] == {str(kid): DEV}, r.text
        time.sleep(1.0)
        assert app.links.sim_transport(DEV).offline is memory
        assert memory.recording is not None and memory.recording.rate == 26.0  # still on
        assert app.status(DEV).state != "streaming"
        r = c.post(f"/api/bands/{DEV}/record/stop", headers=h)
        assert r.status_code == 200 and not r.json()["recording"], r.text
        st = app.wait_streaming(DEV)
        assert st.state == "streaming" and 35 <= st.battery_pct <= 40, st
        s = app.sync(DEV)
        assert s["ok"] and s["imported"] == 1, s
