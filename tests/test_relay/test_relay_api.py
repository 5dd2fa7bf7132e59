"""Relay tokens and the relay's routes (#23): made by an admin for chosen children, shown
once, stored hashed, revocable, audit-logged; a relay may only read its bands and upload
recordings of its children's bands; the receipt carries the stored file's sha256."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path

from h5_api_support import T0, Api
from relay_support import relay_token, wait_imports

from band_fakes import csv_bytes, movement

_ISO = datetime.fromtimestamp(T0 / 1e9 + 60, UTC).isoformat()


def _csv(seed: int = 0, seconds: float = 120.0) -> bytes:
    return csv_bytes(T0 + 60 * 10**9, 52.0, movement(round(seconds * 52), 52.0, seed), "band")


def _upload(api: Api, token: str, data: bytes, band: str = "dev-a", started: str = _ISO,
            **extra: str) -> object:
    return api.client.post("/api/relay/recordings",
                           headers={"Authorization": f"Bearer {token}"},
                           files={"file": ("rec.csv", data, "text/csv")},
                           data={"band": band, "started": started, "recording_id": "r1",
                                 **extra})


def test_token_is_shown_once_and_stored_hashed(api: Api) -> None:
    r = api.client.post("/api/relay-tokens", headers=api.h("admin"),
                        json={"name": "home", "child_ids": [api.child_a.id]})
    assert r.status_code == 201
    token = r.json()["token"]
    assert token.startswith("mrr_") and len(token) > 40
    assert r.json()["relay"]["child_ids"] == [api.child_a.id]
    listed = api.client.get("/api/relay-tokens", headers=api.h("admin"))
    assert token not in listed.text and listed.json()[0]["name"] == "home"
    row = api.store._read().execute("SELECT token_hash FROM relay_tokens").fetchone()
    assert row[0] == hashlib.sha256(token.encode()).hexdigest()
    dump = "\n".join(api.store._read().iterdump())
    assert token not in dump
    assert "relay.create" in [e.action for e in api.store.list_audit(limit=20)]
    # a therapist cannot make one; a relay token is no user session
    r = api.client.post("/api/relay-tokens", headers=api.h("therapist"),
                        json={"name": "x", "child_ids": [api.child_a.id]})
    assert r.status_code == 403
    me = api.client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 401


def test_bands_are_the_children_bands_now(api: Api) -> None:
    token = relay_token(api)
    r = api.client.get("/api/relay/bands", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200
    assert r.json() == {"relay": "the Robins' home",
                        "bands": [{"device_id": "dev-a", "family": None}]}


def test_upload_answers_the_sha256_and_again_is_a_no_op(api: Api) -> None:
    token = relay_token(api)
    data = _csv()
    sha = hashlib.sha256(data).hexdigest()
    r = _upload(api, token, data, sha256=sha)
    assert r.status_code == 202, r.text
    first = r.json()
    assert first["sha256"] == sha and not first["already_imported"]
    [src] = wait_imports(api, api.child_a.id, 1)
    assert src.status == "done" and src.imported_by.startswith("relay:")
    again = _upload(api, token, data)
    assert again.status_code == 200 and again.json()["already_imported"]
    assert again.json()["sha256"] == sha and again.json()["import_id"] == first["import_id"]
    assert len(api.store.list_sources(child_id=api.child_a.id, kind="file")) == 1
    assert "relay.upload" in [e.action for e in api.store.list_audit(limit=50)]
    uploads = api.settings.data_dir / "imports" / "uploads"
    assert not list(uploads.glob("*"))


def test_a_changed_file_is_refused_and_nothing_stored(api: Api) -> None:
    token = relay_token(api)
    r = _upload(api, token, _csv(), sha256="0" * 64)
    assert r.status_code == 422 and "changed on the way" in r.json()["detail"]
    assert api.store.list_sources(child_id=api.child_a.id, kind="file") == []


def test_only_the_tokens_children_bands_at_the_time(api: Api) -> None:
    token = relay_token(api)   # child A only
    # B's band: 403, audit-logged; a band nobody wore then: 403
    r = _upload(api, token, _csv(1), band="dev-b")
    assert r.status_code == 403 and "not assigned to one of its children" in r.json()["detail"]
    early = datetime.fromtimestamp(T0 / 1e9 - 3600, UTC).isoformat()
    assert _upload(api, token, _csv(2), started=early).status_code == 403
    assert _upload(api, token, _csv(3), band="no-such-band").status_code == 403
    assert api.store.list_sources(kind="file") == []
    refused = [e for e in api.store.list_audit(limit=50) if e.action == "relay.refused"]
    assert len(refused) == 3 and all(e.outcome == "denied" for e in refused)
    # the band the relay's child wore then: taken
    assert _upload(api, token, _csv(4)).status_code == 202


def test_revoked_token_is_refused(api: Api) -> None:
    token = relay_token(api)
    rid = api.client.get("/api/relay-tokens", headers=api.h("admin")).json()[0]["id"]
    r = api.client.post(f"/api/relay-tokens/{rid}/revoke", headers=api.h("admin"))
    assert r.status_code == 200 and r.json()["revoked_by"] == "ada(admin)"
    h = {"Authorization": f"Bearer {token}"}
    assert api.client.get("/api/relay/bands", headers=h).status_code == 401
    r = _upload(api, token, _csv())
    assert r.status_code == 401 and "revoked" in r.json()["detail"]
    assert "relay.revoke" in [e.action for e in api.store.list_audit(limit=20)]


def test_admin_page_has_the_relay_section(api: Api, tmp_path: Path) -> None:
    relay_token(api)
    api.login("ada")
    page = api.client.get("/admin")
    assert page.status_code == 200
    assert 'id="relays"' in page.text and "the Robins&#39; home" in page.text
    assert "mrr_" not in page.text
