"""The import API: upload, progress, same file again, who may, counted once, removal."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from h5_api_support import Api, epoch_table, make_api
from imports_support import AX3, AX3_FIRST_NS

from movereg.storage import IngestBatch

_NS = 10**9
_HOUR = 3600 * _NS


@pytest.fixture
def api(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Api]:
    yield from make_api(tmp_path, monkeypatch)


def _upload(api: Api, who: str, child_id: int, path: Path = AX3, name: str | None = None,
            tz: str = "Europe/London") -> object:
    with open(path, "rb") as fh:
        return api.client.post(f"/api/children/{child_id}/imports", headers=api.h(who),
                               files={"file": (name or path.name, fh,
                                               "application/octet-stream")},
                               data={"tz": tz})


def _wait(api: Api, who: str, import_id: int) -> dict:
    for _ in range(600):
        r = api.client.get(f"/api/imports/{import_id}", headers=api.h(who))
        assert r.status_code == 200, r.text
        body = r.json()
        assert 0.0 <= body["progress"] <= 1.0
        if body["status"] not in ("pending", "running"):
            return body
        time.sleep(0.05)
    raise AssertionError("the import did not finish")


def test_upload_progress_day_page_and_again(api: Api) -> None:
    a = api.child_a.id
    r = _upload(api, "therapist", a)
    assert r.status_code == 202, r.text
    first = r.json()
    assert first["file_name"] == "ax3_testfile.cwa" and first["status"] in ("pending",
                                                                             "running", "done")
    done = _wait(api, "therapist", first["id"])
    assert done["status"] == "done", done
    assert done["n_epochs"] == 176 and done["samples_read"] == 17_400
    assert done["device_type"] == "Axivity AX3" and done["imported_by"] == "tess(therapist)"
    assert done["day_url"] == f"/day?child={a}&day=2019-02-26&tz=Europe/London"
    page = api.client.get(done["day_url"], headers=api.h("therapist"))
    assert page.status_code == 200
    assert "10:55–10:58: from the Axivity AX3 file ax3_testfile.cwa added" in page.text
    # the week page says which day and hours come from the import
    week = api.client.get(f"/week?child={a}&end=2019-02-28&tz=Europe/London",
                          headers=api.h("therapist"))
    assert week.status_code == 200
    assert "Where each day&#39;s data comes from" in week.text or \
        "Where each day's data comes from" in week.text
    assert ("<strong>Tue 26 Feb</strong>: <span class=\"source source-file\">10:55–10:58 "
            "from the Axivity AX3 file ax3_testfile.cwa added") in week.text
    later = api.client.get(f"/week?child={a}&end=2019-03-20&tz=Europe/London",
                           headers=api.h("therapist"))
    assert "data comes from" not in later.text
    # the same file again (another name): says so, nothing changes
    again = _upload(api, "therapist", a, name="copy.cwa")
    assert again.status_code == 200 and again.json()["already_imported"] is True
    assert again.json()["id"] == first["id"]
    listed = api.client.get(f"/api/children/{a}/imports", headers=api.h("parent")).json()
    assert [i["id"] for i in listed] == [first["id"]]
    actions = [e.action for e in api.store.list_audit(limit=50)]
    assert "import.add" in actions
    # the upload is not kept once stored
    uploads = api.settings.data_dir / "imports" / "uploads"
    assert not list(uploads.glob("*"))


@pytest.mark.parametrize(("who", "status"), [("paula", 404), ("theo", 404), ("rae", 403),
                                             (None, 401)])
def test_who_may_not_upload(api: Api, who: str | None, status: int) -> None:
    r = _upload(api, who, api.child_a.id) if who else api.client.post(
        f"/api/children/{api.child_a.id}/imports", files={"file": ("a.cwa", b"x")})
    assert r.status_code == status, r.text
    assert api.store.list_sources(child_id=api.child_a.id) == []


def test_parent_uploads_for_own_child_and_others_cannot_see_it(api: Api) -> None:
    r = _upload(api, "pat", api.child_a.id)
    assert r.status_code == 202
    iid = r.json()["id"]
    assert _wait(api, "pat", iid)["status"] == "done"
    assert api.client.get(f"/api/imports/{iid}", headers=api.h("paula")).status_code == 404
    assert api.client.get(f"/api/imports/{iid}", headers=api.h("rae")).status_code == 403


def test_bad_uploads_are_one_sentence(api: Api, tmp_path: Path) -> None:
    junk = tmp_path / "junk.cwa"
    junk.write_bytes(b"not a recording " * 64)
    r = _upload(api, "therapist", api.child_a.id, junk)
    assert r.status_code == 202
    body = _wait(api, "therapist", r.json()["id"])
    assert body["status"] == "failed" and "not a CWA file" in body["message"]
    other = tmp_path / "notes.docx"
    other.write_bytes(b"x")
    r = _upload(api, "therapist", api.child_a.id, other)
    assert r.status_code == 422 and "unknown recording type" in r.json()["detail"]
    api.settings.import_max_bytes = 1000
    r = _upload(api, "therapist", api.child_a.id)
    assert r.status_code == 413 and "import limit" in r.json()["detail"]
    empty = tmp_path / "e.cwa"
    empty.write_bytes(b"")
    assert _upload(api, "therapist", api.child_a.id, empty).status_code == 422
    tl = api.store.timeline(api.child_a.id, AX3_FIRST_NS - _HOUR, AX3_FIRST_NS + _HOUR)
    assert tl["epoch_start"].shape[0] == 0


def test_live_and_file_counted_once_then_removal_restores_live(api: Api) -> None:
    a = api.child_a.id
    hour0 = AX3_FIRST_NS // _HOUR * _HOUR
    api.store.assign_device("band-old", a, at_ns=hour0 - _HOUR)
    api.store.unassign_device("band-old", at_ns=hour0 + 3 * _HOUR)
    live_start = AX3_FIRST_NS // _NS * _NS
    api.store.write_batch(IngestBatch(epochs=[
        ("band-old", epoch_table(live_start, 60, enmo=np.full(60, 999.0))),
        ("band-old", epoch_table(hour0 + _HOUR, 100, enmo=np.full(100, 20.0)))]))
    r = _upload(api, "therapist", a)
    iid = r.json()["id"]
    assert _wait(api, "therapist", iid)["status"] == "done"
    q = {"from": "2019-02-26T10:00:00Z", "to": "2019-02-26T12:00:00Z"}
    ep = api.client.get(f"/api/children/{a}/epochs", params=q, headers=api.h("therapist"))
    body = ep.json()
    assert body["n"] == len(set(body["epoch_start"]))  # each moment once
    assert 999.0 not in body["columns"]["enmo_mg"]
    assert body["n"] == 176 + 100
    spans = api.client.get(f"/api/children/{a}/sources", params=q,
                           headers=api.h("therapist")).json()
    assert [(s["kind"], s["source_id"] == iid) for s in spans] == [("file", True),
                                                                   ("live", False)]
    summ = api.client.get(f"/api/children/{a}/summary", headers=api.h("therapist"),
                          params={"day": "2019-02-26", "tz": "UTC"}).json()
    page = api.client.get(f"/day?child={a}&day=2019-02-26&tz=UTC", headers=api.h("therapist"))
    assert "from the Axivity AX3 file" in page.text and "from the live band" in page.text
    r = api.client.request("DELETE", f"/api/imports/{iid}", headers=api.h("therapist"),
                           json={"reason": "lent to the wrong child"})
    assert r.status_code == 200 and r.json()["status"] == "removed"
    ep = api.client.get(f"/api/children/{a}/epochs", params=q, headers=api.h("therapist"))
    assert ep.json()["n"] == 160 and 999.0 in ep.json()["columns"]["enmo_mg"]
    after = api.client.get(f"/api/children/{a}/summary", headers=api.h("therapist"),
                           params={"day": "2019-02-26", "tz": "UTC"}).json()
    assert after["wear_s"] < summ["wear_s"]
    page = api.client.get(f"/day?child={a}&day=2019-02-26&tz=UTC", headers=api.h("therapist"))
    assert "from the Axivity AX3 file" not in page.text
    assert "import.remove" in [e.action for e in api.store.list_audit(limit=20)]


def test_imports_page_renders_for_the_therapist(api: Api) -> None:
    r = api.client.get(f"/children/{api.child_a.id}/imports", headers=api.h("therapist"))
    assert r.status_code == 200 and 'id="import-form"' in r.text
    r = api.client.get(f"/children/{api.child_a.id}/imports", headers=api.h("paula"))
    assert r.status_code == 404


def test_time_zone_field_is_the_childs_setting(api: Api) -> None:
    a = api.child_a.id
    r = api.client.get(f"/children/{a}/imports", headers=api.h("therapist"))
    assert 'value=""' in r.text and "has no time zone setting yet" in r.text
    api.store.set_child_settings(a, by="test", tz="Australia/Perth")
    r = api.client.get(f"/children/{a}/imports", headers=api.h("therapist"))
    assert 'id="import-tz"' in r.text and 'value="Australia/Perth"' in r.text
    assert "time zone setting; change it" in r.text
