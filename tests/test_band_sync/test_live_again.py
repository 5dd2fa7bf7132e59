"""Stop recording brings back the live stream that *Record on the band* ended.

A band records on its own or streams live, not both: starting a recording ends the
band's live stream. Before this, stopping the recording left the band silent until the
therapist connected it again. Now the band streams again, for the child wearing it and
that child's open session, when it streamed before; a band that did not stream stays
as it was; a recording that could not start gives the live stream back at once.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from h5_api_support import Api, make_api
from real_hub_support import real_hub

from movereg.dashboard.routes._live_again import LIVE_BACK, LIVE_PAUSED


@pytest.fixture
def api(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Api]:
    yield from make_api(tmp_path, monkeypatch)


def _why(api: Api) -> list[tuple[str, object]]:
    return [(e.action, json.loads(e.detail or "{}").get("why"))
            for e in api.store.list_audit(limit=50) if e.action.startswith("band.")]


def test_stop_recording_streams_the_band_again_for_its_session(api: Api) -> None:
    c, h = api.client, api.h("tess")
    kid = api.child_a.id
    gid = c.post("/api/sessions/group", json={"child_ids": [kid]}, headers=h).json()["group_id"]
    assert api.hub.connected["dev-a"] == {"child_id": kid, "session_id": gid}
    r = c.post("/api/bands/dev-a/record", json={"rate_hz": 26}, headers=h)
    assert r.status_code == 200, r.text
    assert r.json()["recording"] and r.json()["live"] == LIVE_PAUSED
    assert "dev-a" not in api.hub.connected            # records or streams, not both
    r = c.post("/api/bands/dev-a/record/stop", headers=h)
    assert r.status_code == 200, r.text
    assert not r.json()["recording"] and r.json()["live"] == LIVE_BACK
    assert api.hub.connected["dev-a"] == {"child_id": kid, "session_id": gid}
    assert ("band.connect", "live again after recording on the band") in _why(api)
    # stopping again changes nothing: the band already streams, once
    r = c.post("/api/bands/dev-a/record/stop", headers=h)
    assert r.status_code == 200 and r.json()["live"] == ""
    assert api.hub.n == 2


def test_a_band_that_was_not_streaming_stays_so(api: Api) -> None:
    c, h = api.client, api.h("tess")
    r = c.post("/api/bands/dev-a/record", json={"rate_hz": 26}, headers=h)
    assert r.status_code == 200 and r.json()["live"] == ""
    r = c.post("/api/bands/dev-a/record/stop", headers=h)
    assert r.status_code == 200 and r.json()["live"] == ""
    assert api.hub.connected == {} and api.hub.n == 0


def test_after_the_session_ended_the_band_streams_without_it(api: Api) -> None:
    c, h = api.client, api.h("tess")
    kid = api.child_a.id
    gid = c.post("/api/sessions/group", json={"child_ids": [kid]}, headers=h).json()["group_id"]
    assert c.post("/api/bands/dev-a/record", json={"rate_hz": 26}, headers=h).status_code == 200
    assert c.post(f"/api/sessions/{gid}/stop_group", headers=h).status_code == 200
    assert c.post("/api/bands/dev-a/record/stop", headers=h).json()["live"] == LIVE_BACK
    assert api.hub.connected["dev-a"] == {"child_id": kid, "session_id": None}


def test_a_recording_that_cannot_start_gives_the_live_stream_back(api: Api) -> None:
    c, h = api.client, api.h("tess")
    c.post("/api/sessions/group", json={"child_ids": [api.child_a.id]}, headers=h)
    band = api.client.app.state.band_sync.opener.bands["dev-a"]  # type: ignore[attr-defined]
    band.free_bytes = 10_000
    r = c.post("/api/bands/dev-a/record", json={"rate_hz": 26}, headers=h)
    assert r.status_code >= 400 and "memory" in r.json()["detail"]
    assert "dev-a" in api.hub.connected and not band.recording
    r = c.post("/api/bands/dev-a/record/stop", headers=h)   # no note left behind
    assert r.json()["live"] == "" and api.hub.n == 2


def test_simulated_band_streams_again_and_keeps_what_it_recorded(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The real hub and the demo's simulated band: live again after Stop recording, and
    the recording it holds is still there for Sync now."""
    with real_hub(tmp_path, monkeypatch) as app:
        c, h, kid = app.client, app.h, app.kid
        r = c.post("/api/bands/connect", json={"target": "sim:7", "child_id": kid}, headers=h)
        assert r.status_code == 201, r.text
        dev = r.json()["device_id"]
        assert c.post(f"/api/bands/{dev}/assign", json={"child_id": kid},
                      headers=h).status_code == 204
        hub, links = app.hub, app.links
        r = c.post(f"/api/bands/{dev}/record", json={"rate_hz": 26}, headers=h)
        assert r.status_code == 200, r.text
        assert r.json()["recording"] and dev not in [s.device_id for s in hub.status()]
        before = links.sim_transport(dev)
        memory = before.offline
        time.sleep(2.0)                                   # the band records a little
        r = c.post(f"/api/bands/{dev}/record/stop", headers=h)
        assert r.status_code == 200 and r.json()["live"] == LIVE_BACK, r.text
        assert dev in [s.device_id for s in hub.status()]
        again = links.sim_transport(dev)
        assert again is not before and again.offline is memory   # the band's own memory
        assert (again.band.seed, again.band.scenario) == (before.band.seed, before.band.scenario)
        held = [p for p in memory.files if p.endswith(".REC")]
        assert held, memory.files
        s = app.sync(dev)
        assert s["ok"] and s["imported"] == 1, s
        st = app.wait_streaming(dev)                      # live samples flow again
        assert st.state == "streaming", st


def test_a_band_that_does_not_stream_again_says_what_to_do(
        api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    from movereg.errors import ValidationError

    c, h = api.client, api.h("tess")
    c.post("/api/sessions/group", json={"child_ids": [api.child_a.id]}, headers=h)
    assert c.post("/api/bands/dev-a/record", json={"rate_hz": 26}, headers=h).status_code == 200

    async def refuse(target: str, **kw: object) -> str:
        raise ValidationError("the band is busy")

    monkeypatch.setattr(api.hub, "connect", refuse)
    r = c.post("/api/bands/dev-a/record/stop", headers=h)
    assert r.status_code == 200 and not r.json()["recording"]      # the stop itself holds
    assert r.json()["live"] == ("Live movement did not come back by itself (the band is "
                                "busy). Connect the band here to see it again.")
    assert "dev-a" not in api.hub.connected
