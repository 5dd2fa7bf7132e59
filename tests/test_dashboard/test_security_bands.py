"""Hole 1 of issue #21: band takeover across caseloads.

tess has child A (band dev-a), theo has child B (band dev-b). Before the fix tess could
see dev-b's child, disconnect it, reassign it to her child or unassign it, so B's band
data would land in A's record.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from h5_api_support import Api, make_api


@pytest.fixture
def api(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Api]:
    yield from make_api(tmp_path, monkeypatch)


def test_other_caseloads_bands_are_invisible(api: Api) -> None:
    tess = {b["device_id"]: b for b in api.client.get("/api/bands", headers=api.h("tess")).json()}
    assert "dev-a" in tess and "dev-b" not in tess
    admin = {b["device_id"] for b in api.client.get("/api/bands", headers=api.h("admin")).json()}
    assert {"dev-a", "dev-b"} <= admin
    # an unassigned band is visible to every clinician (it can be handed out)
    api.store.unassign_device("dev-b")
    tess2 = {b["device_id"] for b in api.client.get("/api/bands", headers=api.h("tess")).json()}
    assert "dev-b" in tess2


def test_band_of_another_caseload_cannot_be_taken_over(api: Api) -> None:
    h = api.h("tess")
    api.hub.connected["dev-b"] = {"child_id": api.child_b.id}
    # disconnect theo's child's band: 404, still connected
    r = api.client.post("/api/bands/dev-b/disconnect", headers=h)
    assert r.status_code == 404 and "dev-b" in api.hub.connected
    # reassign it to tess's own child: 404, still B's
    r = api.client.post("/api/bands/dev-b/assign", json={"child_id": api.child_a.id}, headers=h)
    assert r.status_code == 404
    assert api.store.device_child("dev-b") == api.child_b.id
    # unassign it: 404, still B's
    assert api.client.post("/api/bands/dev-b/unassign", headers=h).status_code == 404
    assert api.store.device_child("dev-b") == api.child_b.id
    # connect it (by address) for tess's own child: 404, never connected for A
    del api.hub.connected["dev-b"]
    r = api.client.post("/api/bands/connect", json={"target": "dev-b",
                                                    "child_id": api.child_a.id}, headers=h)
    assert r.status_code == 404 and "dev-b" not in api.hub.connected
    # the same answers as for a band that does not exist (no existence leak)
    for url in ("/api/bands/nope/assign", "/api/bands/nope/unassign",
                "/api/bands/nope/disconnect"):
        body = {"child_id": api.child_a.id} if url.endswith("assign") and "un" not in url else None
        r_missing = api.client.post(url, json=body, headers=h)
        r_other = api.client.post(url.replace("nope", "dev-b"), json=body, headers=h)
        assert r_missing.status_code == r_other.status_code == 404
        assert r_missing.json()["detail"].replace("nope", "X") == \
            r_other.json()["detail"].replace("dev-b", "X")
    # theo (B's therapist) and the admin still can
    assert api.client.post("/api/bands/dev-b/assign", json={"child_id": api.child_b.id},
                           headers=api.h("theo")).status_code == 204
    assert api.client.post("/api/bands/dev-b/assign", json={"child_id": api.child_a.id},
                           headers=api.h("admin")).status_code == 204
    assert api.store.device_child("dev-b") == api.child_a.id


def test_band_session_of_another_child_answers_like_a_missing_one(api: Api) -> None:
    h = api.h("tess")
    other = api.store.start_session(api.child_b.id).id
    body = {"target": "sim", "child_id": api.child_a.id}
    r_other = api.client.post("/api/bands/connect", json={**body, "session_id": other},
                              headers=h)
    r_missing = api.client.post("/api/bands/connect", json={**body, "session_id": 999_999},
                                headers=h)
    assert r_other.status_code == r_missing.status_code == 422
    assert r_other.json()["detail"].replace(str(other), "N") == \
        r_missing.json()["detail"].replace("999999", "N")
