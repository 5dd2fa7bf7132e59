"""Research consent: recorded / withdrawn by clinicians (audited, history kept), and
researcher exports limited to consented children (raw samples need the raw scope)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from h5_api_support import T0, Api, epoch_table, make_api

from movereg.models import SampleBlock
from movereg.storage import IngestBatch

KINDS = ("epochs", "breaks", "events", "raw")
#: consent state -> export kinds a researcher may take
STATES: dict[str, frozenset[str]] = {
    "none": frozenset(),
    "refused": frozenset(),
    "features": frozenset({"epochs", "breaks", "events"}),
    "features+raw": frozenset(KINDS),
    "withdrawn": frozenset(),
    "withdrawn-then-features": frozenset({"epochs", "breaks", "events"}),
}


@pytest.fixture
def api(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Api]:
    yield from make_api(tmp_path, monkeypatch)


def _child_c(api: Api) -> int:
    """KID-C on tess's caseload with epochs (incl. a movement break), an event, raw data."""
    s = api.store
    c = s.create_child(code="KID-C", display_name="Jo")
    tess = s.find_user("tess")
    assert tess is not None
    s.link_user_child(tess.id, c.id)
    rng = np.random.default_rng(2)
    s.write_batch(IngestBatch(
        epochs=[("dev-c", epoch_table(T0, 600, enmo=np.r_[np.full(300, 5.0),
                                                          np.full(300, 80.0)]))],
        raw=[("dev-c", SampleBlock("dev-c", T0, 52.0,
                                   rng.normal(0, 0.5, (520, 3)).astype(np.float32)))]))
    s.assign_device("dev-c", c.id, at_ns=T0 - 10**9)
    s.create_event(c.id, "mov.break", started_at=T0 + 100 * 10**9)
    return c.id


def _set_state(api: Api, cid: int, state: str) -> None:
    url = f"/api/children/{cid}/consent"
    h = api.h("tess")
    if state == "none":
        return
    if state == "refused":
        r = api.client.post(url, json={"consented": False}, headers=h)
    elif state in ("features", "features+raw"):
        r = api.client.post(url, json={"consented": True, "scope": state}, headers=h)
    else:
        r = api.client.post(url, json={"consented": True, "scope": "features+raw"}, headers=h)
        assert r.status_code == 201, r.text
        r = api.client.post(url + "/withdraw", headers=h)
        if state == "withdrawn-then-features":
            assert r.status_code == 200, r.text
            r = api.client.post(url, json={"consented": True, "scope": "features"}, headers=h)
    assert r.status_code in (200, 201), r.text


@pytest.mark.parametrize("state", list(STATES))
def test_export_by_consent_role_and_kind(api: Api, state: str) -> None:
    cid = _child_c(api)
    _set_state(api, cid, state)
    for kind in KINDS:
        allowed = kind in STATES[state]
        one = api.client.get(f"/api/export/{kind}", params={"child": "KID-C"},
                             headers=api.h("researcher"))
        every = api.client.get(f"/api/export/{kind}", headers=api.h("researcher"))
        assert every.status_code == 200
        if allowed:
            assert one.status_code == 200, (state, kind, one.text)
            assert "KID-C" in one.text and "KID-C" in every.text, (state, kind)
        else:
            assert one.status_code == 403, (state, kind, one.status_code)
            assert "research consent" in one.json()["detail"], one.json()
            if kind == "raw":
                assert "raw" in one.json()["detail"]
            assert "KID-C" not in every.text, (state, kind)
        # clinicians' own exports do not depend on research consent
        for who in ("tess", "admin"):
            r = api.client.get(f"/api/export/{kind}", params={"child": "KID-C"},
                               headers=api.h(who))
            assert r.status_code == 200 and "KID-C" in r.text, (who, state, kind)
    denied = [e for e in api.store.list_audit(limit=500) if e.action == "export.denied"]
    assert len(denied) == 4 - len(STATES[state])
    assert all(e.child_id == cid and e.outcome == "denied" for e in denied)


def test_researcher_all_children_export_has_only_consented_rows(api: Api) -> None:
    _child_c(api)  # no consent
    r = api.client.get("/api/export/epochs", headers=api.h("researcher"))
    codes = {row["child_code"] for row in csv.DictReader(io.StringIO(r.text))}
    assert codes == {"KID-A", "KID-B"}
    r = api.client.get("/api/export/raw", headers=api.h("researcher"))
    assert r.status_code == 200  # only KID-A has the raw scope (and no raw rows here)
    assert "KID-B" not in r.text and "KID-C" not in r.text
    export = next(e for e in api.store.list_audit(limit=20) if e.action == "export")
    assert json.loads(export.detail)["consent_scope"] == "features+raw"


def test_consent_is_audited_history_kept_and_visible_on_the_child(api: Api) -> None:
    cid = _child_c(api)
    url = f"/api/children/{cid}/consent"
    r = api.client.post(url, json={"consented": True, "scope": "features+raw"},
                        headers=api.h("tess"))
    assert r.status_code == 201 and r.json()["active"] and r.json()["recorded_by"] == \
        "tess(therapist)"
    child = api.client.get(f"/api/children/{cid}", headers=api.h("tess")).json()
    assert child["research_consent"]["scope"] == "features+raw"
    r = api.client.post(url + "/withdraw", headers=api.h("admin"))
    assert r.status_code == 200
    assert r.json()["withdrawn_by"] == "ada(admin)" and not r.json()["active"]
    again = api.client.post(url + "/withdraw", headers=api.h("admin"))
    assert again.status_code == 404  # nothing active to withdraw
    api.client.post(url, json={"consented": False}, headers=api.h("tess"))
    hist = api.client.get(url, headers=api.h("tess")).json()
    assert [(h["consented"], h["withdrawn_at"] is not None) for h in hist] == [
        (True, True), (False, False)]
    listed = {c["code"]: c for c in api.client.get("/api/children",
                                                   headers=api.h("tess")).json()}
    assert listed["KID-C"]["research_consent"]["consented"] is False
    actions = [(e.action, e.actor) for e in reversed(api.store.list_audit(limit=50))
               if e.child_id == cid and e.action.startswith("consent.")]
    assert actions == [("consent.record", "tess(therapist)"),
                       ("consent.withdraw", "ada(admin)"),
                       ("consent.record", "tess(therapist)")]
    assert api.store.verify_audit().ok
    # a therapist cannot record consent for a child outside their caseload
    other = api.client.post(f"/api/children/{api.child_b.id}/consent",
                            json={"consented": True}, headers=api.h("tess"))
    assert other.status_code == 404
    bad = api.client.post(url, json={"consented": True, "scope": "everything"},
                          headers=api.h("tess"))
    assert bad.status_code == 422


def test_withdrawal_is_not_an_edit(api: Api) -> None:
    import sqlite3

    cid = _child_c(api)
    c = api.store.record_consent(cid, consented=True, recorded_by="x")
    api.store.withdraw_consent(cid, withdrawn_by="y")
    con = sqlite3.connect(api.store.path)
    try:
        for sql in ("UPDATE research_consent SET scope = 'features+raw' WHERE id = ?",
                    "UPDATE research_consent SET withdrawn_at = NULL WHERE id = ?",
                    "DELETE FROM research_consent WHERE id = ?"):
            with pytest.raises(sqlite3.DatabaseError):
                con.execute(sql, (c.id,))
    finally:
        con.close()
