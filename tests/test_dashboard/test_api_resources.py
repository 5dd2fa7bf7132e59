"""Each resource through the real app and a real SQLite file."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from h5_api_support import T0, Api, make_api

ISO0 = datetime.fromtimestamp(T0 / 1e9, tz=UTC).isoformat()
ISO10 = datetime.fromtimestamp(T0 / 1e9 + 600, tz=UTC).isoformat()


@pytest.fixture
def api(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Api]:
    yield from make_api(tmp_path, monkeypatch)


def test_children_are_scoped_and_created(api: Api) -> None:
    assert [c["code"] for c in api.client.get("/api/children", headers=api.h("admin")).json()] \
        == ["KID-A", "KID-B"]
    mine = api.client.get("/api/children", headers=api.h("tess")).json()
    assert [(c["code"], c["display_name"]) for c in mine] == [("KID-A", "Robin")]
    r = api.client.post("/api/children", json={"display_name": "Alex"}, headers=api.h("tess"))
    assert r.status_code == 201 and r.json()["code"].startswith("C-")
    new_id = r.json()["id"]
    assert api.client.get(f"/api/children/{new_id}", headers=api.h("tess")).status_code == 200
    assert api.client.get(f"/api/children/{new_id}", headers=api.h("theo")).status_code == 404
    r = api.client.post("/api/children", json={"code": "KID-A"}, headers=api.h("admin"))
    assert r.status_code == 422 and "exists" in r.json()["detail"]
    assert any(e.action == "read.child" and e.child_id == new_id
               for e in api.store.list_audit(limit=5))


def test_sessions_start_stop_list(api: Api) -> None:
    r = api.client.post("/api/sessions", json={"child_id": api.child_a.id, "kind": "therapy"},
                        headers=api.h("tess"))
    assert r.status_code == 201 and r.json()["ended_at"] is None
    sid = r.json()["id"]
    stop = api.client.post(f"/api/sessions/{sid}/stop", headers=api.h("tess")).json()
    assert stop["ended_at"] is not None
    again = api.client.post(f"/api/sessions/{sid}/stop", headers=api.h("tess")).json()
    assert again["ended_at"] == stop["ended_at"]
    listed = api.client.get(f"/api/sessions?child_id={api.child_a.id}", headers=api.h("pat"))
    assert [s["id"] for s in listed.json()] == [sid]
    r = api.client.post("/api/sessions", json={"child_id": api.child_a.id, "kind": "therapy"},
                        headers=api.h("pat"))
    assert r.status_code == 403
    r = api.client.post("/api/sessions", json={"child_id": api.child_a.id, "kind": "wear"},
                        headers=api.h("pat"))
    assert r.status_code == 201


def test_event_lifecycle_with_server_time_and_history(api: Api) -> None:
    before = time.time()
    r = api.client.post("/api/events", headers=api.h("pat"),
                        json={"child_id": api.child_a.id, "strategy": "tac.deep_pressure",
                              "note": "after school", "initiated_by": "child"})
    assert r.status_code == 201
    ev = r.json()
    started = datetime.fromisoformat(ev["started_at"]).timestamp()
    assert before - 1 <= started <= time.time() + 1  # server clock, not the client's
    assert api.hub.published[-1]["action"] == "created"
    assert api.hub.published[-1]["child_id"] == api.child_a.id
    ended = api.client.post(f"/api/events/{ev['id']}/end", headers=api.h("pat")).json()
    assert ended["ended_at"] is not None
    r = api.client.put(f"/api/events/{ev['id']}", headers=api.h("tess"),
                       json={"reason": "it was the wrap", "strategy": "tac.wrap"})
    assert r.status_code == 200
    new = r.json()
    assert new["replaces_id"] == ev["id"] and new["strategy"] == "tac.wrap"
    assert new["note"] == "after school" and new["ended_at"] == ended["ended_at"]
    r = api.client.post(f"/api/events/{new['id']}/void", headers=api.h("tess"),
                        json={"reason": "duplicate"})
    assert r.json()["voided"] and r.json()["void_reason"] == "duplicate"
    hist = api.client.get(f"/api/events/{ev['id']}/history", headers=api.h("pat")).json()
    assert [(h["strategy"], h["voided"]) for h in hist] == [("tac.deep_pressure", True),
                                                            ("tac.wrap", True)]
    assert api.client.get(f"/api/events?child_id={api.child_a.id}",
                          headers=api.h("pat")).json() == []
    allv = api.client.get(f"/api/events?child_id={api.child_a.id}&include_voided=true",
                          headers=api.h("pat")).json()
    assert len(allv) == 2
    r = api.client.post(f"/api/events/{ev['id']}/void", headers=api.h("tess"),
                        json={"reason": "again"})
    assert r.status_code == 422
    actions = [e.action for e in api.store.list_audit(limit=50)]
    for a in ("event.create", "event.end", "event.correct", "event.void"):
        assert a in actions


def test_event_with_duration_and_session(api: Api) -> None:
    sid = api.client.post("/api/sessions", json={"child_id": api.child_a.id},
                          headers=api.h("tess")).json()["id"]
    r = api.client.post("/api/events", headers=api.h("tess"),
                        json={"child_id": api.child_a.id, "strategy": "pro.vest",
                              "session_id": sid, "started_ago_s": 120, "duration_s": 60,
                              "planned": True})
    ev = r.json()
    span = (datetime.fromisoformat(ev["ended_at"]) -
            datetime.fromisoformat(ev["started_at"])).total_seconds()
    assert abs(span - 60) < 1e-3 and ev["session_id"] == sid and ev["planned"] is True
    other = api.client.post("/api/sessions", json={"child_id": api.child_b.id},
                            headers=api.h("theo")).json()["id"]
    r = api.client.post("/api/events", headers=api.h("admin"),
                        json={"child_id": api.child_a.id, "strategy": "pro.vest",
                              "session_id": other})
    assert r.status_code == 422


def test_bands_scan_connect_status_disconnect(api: Api) -> None:
    scan = api.client.get("/api/bands/scan?timeout_s=1", headers=api.h("tess")).json()
    assert scan[0]["family"] == "polar_pmd"
    r = api.client.post("/api/bands/connect", headers=api.h("tess"),
                        json={"target": "sim", "child_id": api.child_a.id})
    assert r.status_code == 201
    dev = r.json()["device_id"]
    assert api.hub.connected[dev]["child_id"] == api.child_a.id
    bands = {b["device_id"]: b for b in api.client.get("/api/bands",
                                                       headers=api.h("tess")).json()}
    assert bands[dev]["status"]["state"] == "streaming"
    assert bands["dev-a"]["child_id"] == api.child_a.id and bands["dev-a"]["status"] is None
    r = api.client.post("/api/bands/connect", headers=api.h("tess"),
                        json={"target": "sim", "child_id": api.child_b.id})
    assert r.status_code == 404  # not tess's child
    assert api.client.post(f"/api/bands/{dev}/disconnect",
                           headers=api.h("tess")).status_code == 204
    assert api.client.post(f"/api/bands/{dev}/disconnect",
                           headers=api.h("tess")).status_code == 404
    assert api.client.post("/api/bands/dev-b/assign", json={"child_id": api.child_a.id},
                           headers=api.h("admin")).status_code == 204
    assert api.store.device_child("dev-b") == api.child_a.id
    assert api.client.post("/api/bands/dev-b/unassign",
                           headers=api.h("admin")).status_code == 204
    assert api.store.device_child("dev-b") is None
    assert api.client.post("/api/bands/nope/assign", json={"child_id": api.child_a.id},
                           headers=api.h("admin")).status_code == 404


def test_epochs_with_feature_selection(api: Api) -> None:
    r = api.client.get(f"/api/children/{api.child_a.id}/epochs",
                       params={"from": ISO0, "to": ISO10, "features": "enmo_mg,zone"},
                       headers=api.h("pat"))
    assert r.status_code == 200
    body = r.json()
    assert body["n"] == 600 and set(body["columns"]) == {"epoch_s", "enmo_mg", "zone"}
    assert body["columns"]["enmo_mg"][:2] == [5.0, 5.0]
    r = api.client.get(f"/api/children/{api.child_a.id}/epochs",
                       params={"from": ISO0, "to": ISO10, "features": "bogus"},
                       headers=api.h("pat"))
    assert r.status_code == 422 and "bogus" in r.json()["detail"]
    r = api.client.get(f"/api/children/{api.child_a.id}/epochs",
                       params={"from": ISO10, "to": ISO0}, headers=api.h("pat"))
    assert r.status_code == 422
    r = api.client.get(f"/api/children/{api.child_a.id}/epochs",
                       params={"from": "2025-01-01T00:00:00", "to": ISO10}, headers=api.h("pat"))
    assert r.status_code == 422  # naive time
    assert any(e.action == "read.epochs" for e in api.store.list_audit(limit=3))


def test_breaks_and_summary(api: Api) -> None:
    r = api.client.get(f"/api/children/{api.child_a.id}/breaks",
                       params={"from": ISO0, "to": ISO10, "min_s": 60}, headers=api.h("pat"))
    assert r.status_code == 200
    breaks = r.json()
    assert len(breaks) == 1 and breaks[0]["duration_s"] == 300.0  # the 80 mg half
    day = datetime.fromtimestamp(T0 / 1e9, tz=UTC).date().isoformat()
    r = api.client.get(f"/api/children/{api.child_a.id}/summary",
                       params={"day": day, "tz": "Europe/London"}, headers=api.h("pat"))
    assert r.status_code == 200
    s = r.json()
    assert s["wear_s"] > 0 and s["break_count"] == 1
    assert set(s["zone_s"]) == {"still", "light", "moderate", "vigorous"}
    r = api.client.get(f"/api/children/{api.child_a.id}/summary",
                       params={"day": day, "tz": "Mars/Olympus"}, headers=api.h("pat"))
    assert r.status_code == 422


def test_strategy_catalogue_edit(api: Api) -> None:
    cat = api.client.get("/api/strategies", headers=api.h("researcher")).json()
    assert len(cat) > 50 and {"key", "label", "category"} <= set(cat[0])
    r = api.client.put("/api/strategies/clinic.swing_song", headers=api.h("tess"),
                       json={"label": "Swing song", "category": "Vestibular",
                             "systems": ["vestibular"], "setting": ["clinic"]})
    assert r.status_code == 200 and r.json()["custom"]
    r = api.client.patch("/api/strategies/ves.spin", json={"active": False},
                         headers=api.h("admin"))
    assert r.json()["active"] is False
    keys = {s["key"] for s in api.client.get("/api/strategies", headers=api.h("pat")).json()}
    assert "clinic.swing_song" in keys and "ves.spin" not in keys
    r = api.client.put("/api/strategies/Bad Key", headers=api.h("tess"),
                       json={"label": "x", "category": "y"})
    assert r.status_code == 422


def test_users_admin(api: Api) -> None:
    r = api.client.post("/api/users", headers=api.h("admin"),
                        json={"username": "nia", "password": "another long passphrase",
                              "role": "parent"})
    assert r.status_code == 201
    assert api.client.post("/api/users", headers=api.h("admin"),
                           json={"username": "nia2", "password": "short",
                                 "role": "parent"}).status_code == 422
    assert api.client.post("/api/users", headers=api.h("admin"),
                           json={"username": "nia", "password": "another long passphrase",
                                 "role": "parent"}).status_code == 422
    assert api.client.post("/api/users/nia/children", json={"child_id": api.child_b.id},
                           headers=api.h("admin")).status_code == 204
    kids = api.client.get("/api/users/nia/children", headers=api.h("admin")).json()
    assert [k["code"] for k in kids] == ["KID-B"]
    assert api.client.delete(f"/api/users/nia/children/{api.child_b.id}",
                             headers=api.h("admin")).status_code == 204
    r = api.client.patch("/api/users/nia", json={"disabled": True}, headers=api.h("admin"))
    assert r.json()["disabled"] is True
    names = [u["username"] for u in api.client.get("/api/users", headers=api.h("admin")).json()]
    assert "nia" in names
    assert api.client.patch("/api/users/ghost", json={"disabled": True},
                            headers=api.h("admin")).status_code == 404


def test_audit_endpoints(api: Api) -> None:
    api.client.get(f"/api/children/{api.child_a.id}", headers=api.h("tess"))
    log = api.client.get(f"/api/children/{api.child_a.id}/access-log",
                         headers=api.h("pat")).json()
    assert any(e["actor"] == "tess(therapist)" and e["action"] == "read.child" for e in log)
    v = api.client.get("/api/audit/verify", headers=api.h("admin")).json()
    assert v["ok"] and v["entries"] > 0
    entries = api.client.get("/api/audit?limit=5", headers=api.h("admin")).json()
    assert [e["action"] for e in entries] == ["audit.verify", "read.child"]
    assert len(api.client.get("/api/audit?limit=1", headers=api.h("admin")).json()) == 1


def test_health_and_openapi(api: Api) -> None:
    assert api.client.get("/api/health").json()["status"] == "ok"
    spec = api.client.get("/openapi.json").json()
    ops = [op for path in spec["paths"].values() for op in path.values()]
    ids = [op["operationId"] for op in ops]
    assert len(ids) == len(set(ids))
    assert all("_api_" not in i for i in ids)  # stable, hand-chosen ids


def test_retention_runs_at_start_up(api: Api) -> None:
    import numpy as np

    from movereg.dashboard.app import apply_retention
    from movereg.models import SampleBlock
    from movereg.storage import IngestBatch

    old = SampleBlock("dev-a", 10**18, 52.0, np.zeros((52, 3), np.float32))
    api.store.write_batch(IngestBatch(raw=[("dev-a", old)]))
    assert apply_retention(api.settings, api.store) == 1
    assert any(e.action == "retention.raw" for e in api.store.list_audit(limit=3))


def test_storage_failure_is_503_with_advice(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    from movereg.errors import StorageError

    def broken(*args: object, **kwargs: object) -> None:
        raise StorageError("database or disk is full", advice="free some space")

    monkeypatch.setattr(api.store, "create_event", broken)
    r = api.client.post("/api/events", headers=api.h("tess"),
                        json={"child_id": api.child_a.id, "strategy": "mov.break"})
    assert r.status_code == 503
    assert r.json() == {"detail": "database or disk is full", "error": "StorageError",
                        "advice": "free some space"}


def test_correction_with_nulls_keeps_fields(api: Api) -> None:
    ev = api.store.create_event(api.child_a.id, "mov.break", note="kept")
    r = api.client.put(f"/api/events/{ev.id}", headers=api.h("tess"),
                       json={"reason": "r", "note": None, "strategy": None,
                             "started_at": None})
    assert r.status_code == 200
    assert (r.json()["note"], r.json()["strategy"]) == ("kept", "mov.break")


def test_gaps(api: Api) -> None:
    from movereg.models import Gap
    from movereg.storage import IngestBatch

    api.store.write_batch(IngestBatch(gaps=[("dev-a", Gap(T0 + 10**10, T0 + 2 * 10**10, 520,
                                                          "disconnect"))]))
    r = api.client.get(f"/api/children/{api.child_a.id}/gaps",
                       params={"from": ISO0, "to": ISO10}, headers=api.h("pat"))
    assert r.status_code == 200
    assert [(g["duration_s"], g["samples_missing"], g["reason"]) for g in r.json()] == [
        (10.0, 520, "disconnect")]


def test_lifespan_with_the_real_hub(tmp_path: Path) -> None:
    """No injected hub: the lifespan opens the store, starts movereg.pipeline.Hub, and a
    simulated band connected through the API lands in storage."""
    from h5_api_support import TestClient

    from movereg.config import Settings
    from movereg.dashboard.app import create_app
    from movereg.storage import Store

    settings = Settings(data_dir=tmp_path)
    with Store(settings.db_path) as store:
        child = store.create_child(code="KID-1")
        from movereg.dashboard.auth import hash_password

        uid = store.create_user("tess", hash_password("correct horse battery"), "therapist").id
        store.link_user_child(uid, child.id)
        tok = store.create_token(uid, "bearer", 600)[0]
    h = {"Authorization": f"Bearer {tok}"}
    with TestClient(create_app(settings)) as client:
        r = client.post("/api/bands/connect", json={"target": "sim", "child_id": child.id},
                        headers=h)
        assert r.status_code == 201
        dev = r.json()["device_id"]
        store = client.app.state.store  # type: ignore[attr-defined]
        deadline = time.monotonic() + 15
        while store.last_sample_end_ns(dev) is None:
            assert time.monotonic() < deadline, "no samples stored"
            time.sleep(0.2)
        assert store.device_child(dev) == child.id
        assert client.post(f"/api/bands/{dev}/disconnect", headers=h).status_code == 204


def test_strategy_links_api_schema_and_access(api: Api) -> None:
    onset = T0 + 300 * 10**9  # activity 5 mg before, 80 mg after (see make_api)
    api.store.create_event(api.child_a.id, "mov.break", started_at=onset)
    url = f"/api/children/{api.child_a.id}/strategies"
    span = {"from": ISO0, "to": ISO10}
    r = api.client.get(url, params=span, headers=api.h("pat"))  # parent, own child
    assert r.status_code == 200
    body = r.json()
    assert body["pre_s"] == 300.0 and body["post_s"] == 600.0 and body["feature"] == "enmo_mg"
    [row] = body["strategies"]
    assert row["strategy"] == "mov.break" and row["n_uses"] == 1
    # the seeded epochs are mostly flagged not worn: the use is counted, not compared
    assert row["n_compared"] == 0 and row["not_compared"] == {"insufficient_baseline": 1}
    assert row["not_compared_text"] == "1 × too little band data before"
    assert row["median_change"] is None and row["unit"] == "mg"
    assert row["sentence"].startswith("1 use of ")
    r = api.client.get(url, params={**span, "feature": "impacts"}, headers=api.h("tess"))
    assert r.status_code == 200 and r.json()["strategies"][0]["unit"] == "per min"
    assert api.client.get(url, params={"feature": "zone"}, headers=api.h("pat")).status_code == 422
    other = f"/api/children/{api.child_b.id}/strategies"
    assert api.client.get(other, headers=api.h("pat")).status_code == 404  # not their child
    assert api.client.get(url, headers=api.h("researcher")).status_code == 403
    assert api.client.get(url).status_code == 401
    assert any(e.action == "read.strategies" for e in api.store.list_audit(limit=3))
