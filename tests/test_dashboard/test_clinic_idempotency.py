"""Never-lost logging: a retried create with the same Idempotency-Key gives one event."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from h5_api_support import Api, make_api


@pytest.fixture
def api(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Api]:
    yield from make_api(tmp_path, monkeypatch)


def _post(api: Api, key: str | None, who: str = "tess", **extra: object) -> object:
    body = {"child_id": api.child_a.id, "strategy": "mov.break", **extra}
    headers = dict(api.h(who))
    if key is not None:
        headers["Idempotency-Key"] = key
    return api.client.post("/api/events", json=body, headers=headers)


def test_repeated_key_answers_the_first_event_once(api: Api) -> None:
    key = str(uuid.uuid4())
    first = _post(api, key, started_ago_s=120)
    assert first.status_code == 201
    again = _post(api, key, started_ago_s=125)          # a retry, sent 5 s later
    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["started_at"] == first.json()["started_at"]
    evs = api.store.list_events(child_id=api.child_a.id)
    assert [e.id for e in evs] == [first.json()["id"]]
    assert api.store.event_by_key(key) is not None
    assert sum(1 for m in api.hub.published if m.get("action") == "created") == 1
    # a new key is a new event; no key at all keeps today's behaviour
    assert _post(api, str(uuid.uuid4())).status_code == 201
    assert _post(api, None).status_code == 201
    assert len(api.store.list_events(child_id=api.child_a.id)) == 3


def test_tap_time_kept_from_started_ago(api: Api) -> None:
    r = _post(api, str(uuid.uuid4()), started_ago_s=300)
    ev = r.json()
    gap = (datetime.fromisoformat(ev["logged_at"]) - datetime.fromisoformat(ev["started_at"]))
    assert 299 <= gap.total_seconds() <= 301


def test_key_reused_for_another_event_or_user_is_refused(api: Api) -> None:
    key = str(uuid.uuid4())
    assert _post(api, key).status_code == 201
    r = _post(api, key, who="admin")
    assert r.status_code == 422 and "Idempotency-Key" in r.json()["detail"]
    body = {"child_id": api.child_a.id, "strategy": "ves.bounce"}
    r = api.client.post("/api/events", json=body,
                        headers={**api.h("tess"), "Idempotency-Key": key})
    assert r.status_code == 422
    assert len(api.store.list_events(child_id=api.child_a.id)) == 1


def test_bad_key_is_a_clear_422(api: Api) -> None:
    r = _post(api, "short")
    assert r.status_code == 422 and "Idempotency-Key" in r.json()["detail"]
    r = _post(api, "x" * 8 + " spaces")
    assert r.status_code == 422
    assert api.store.list_events(child_id=api.child_a.id) == []


def test_correct_and_void_keep_history(api: Api) -> None:
    ev = _post(api, str(uuid.uuid4())).json()
    new = api.client.put(f"/api/events/{ev['id']}", headers=api.h("tess"),
                         json={"reason": "was the trampoline", "strategy": "ves.bounce"}).json()
    gone = api.client.post(f"/api/events/{new['id']}/void", headers=api.h("tess"),
                           json={"reason": "undone"}).json()
    assert gone["voided"] and gone["void_reason"] == "undone"
    hist = api.client.get(f"/api/events/{ev['id']}/history", headers=api.h("tess")).json()
    assert [(h["strategy"], h["void_reason"]) for h in hist] == [
        ("mov.break", "was the trampoline"), ("ves.bounce", "undone")]
