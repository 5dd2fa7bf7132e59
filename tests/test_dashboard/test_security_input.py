"""Holes 3, 4, 8 and 9 of issue #21: dates out of range, body limits, CSV formula
injection, input hygiene and the API contract."""

from __future__ import annotations

import csv
import io
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from h5_api_support import Api, make_api
from hypothesis import given
from hypothesis import strategies as st

from movereg.storage import Store

OUT_OF_RANGE = ("0001-01-01T00:00:00+00:00", "1600-06-01T00:00:00+00:00",
                "2300-01-01T00:00:00+00:00", "9999-12-31T23:59:59+00:00")


@pytest.fixture
def api(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Api]:
    yield from make_api(tmp_path, monkeypatch)


# --- hole 3: dates out of range ----------------------------------------------------------
def test_dates_out_of_range_are_422_everywhere(api: Api) -> None:
    a = api.child_a.id
    h = api.h("tess")
    ev = api.store.create_event(a, "mov.break")
    ok = "2025-06-15T12:00:00+00:00"
    for bad in OUT_OF_RANGE:
        for url, params in (
                ("/api/events", {"child_id": a, "from": bad}),
                ("/api/events", {"child_id": a, "to": bad}),
                (f"/api/children/{a}/epochs", {"from": bad, "to": ok}),
                (f"/api/children/{a}/epochs", {"from": ok, "to": bad}),
                (f"/api/children/{a}/gaps", {"from": bad, "to": ok}),
                (f"/api/children/{a}/breaks", {"from": bad, "to": ok}),
                (f"/api/children/{a}/summary", {"day": bad[:10]}),
                ("/api/export/epochs", {"from": bad}),
                ("/api/export/events", {"to": bad})):
            r = api.client.get(url, params=params, headers=h)
            assert r.status_code == 422, (url, params, r.status_code, r.text)
            assert "range" in r.json()["detail"], r.text
        for field in ("started_at", "ended_at"):
            r = api.client.put(f"/api/events/{ev.id}", json={"reason": "fix", field: bad},
                               headers=h)
            assert r.status_code == 422 and "range" in r.json()["detail"], r.text
    # the day and week pages too (cookie login as the parent)
    api.login("pat")
    for url in (f"/day?child={a}&day=0001-01-01", f"/day?child={a}&day=9999-12-31",
                f"/week?child={a}&end=0001-01-01", f"/week?child={a}&end=9999-12-31"):
        assert api.client.get(url).status_code == 422, url
    # the edges that are inside the span still work
    r = api.client.get(f"/api/children/{a}/summary", params={"day": "2261-12-30"},
                       headers=h)
    assert r.status_code == 200


# --- hole 4: request body limits --------------------------------------------------------
def test_bodies_over_the_limit_are_413_before_reading(api: Api) -> None:
    big = b'{"username": "' + b"a" * (api.settings.max_json_body_bytes + 10) + b'"}'
    r = api.client.post("/api/auth/login", content=big,
                        headers={"Content-Type": "application/json"})
    assert r.status_code == 413 and "larger than" in r.json()["detail"]
    assert r.headers["content-security-policy"].startswith("default-src 'none'")

    def chunks() -> Iterator[bytes]:    # no Content-Length: counted as it arrives
        yield b'{"username": "'
        for _ in range(200):
            yield b"a" * 1024
        yield b'", "password": "x"}'

    r = api.client.post("/api/auth/login", content=chunks(),
                        headers={"Content-Type": "application/json"})
    assert r.status_code == 413
    r = api.client.post("/api/events", headers=api.h("tess"),
                        json={"child_id": api.child_a.id, "strategy": "mov.break",
                              "note": "x" * 1500})
    assert r.status_code == 201             # ordinary bodies pass


def test_upload_routes_get_the_larger_limit(api: Api, monkeypatch: pytest.MonkeyPatch
                                            ) -> None:
    from movereg.dashboard import limits

    monkeypatch.setattr(limits, "UPLOAD_PREFIXES", ["/api/events"])
    body = b'{"note": "' + b"a" * (api.settings.max_json_body_bytes + 10) + b'"}'
    r = api.client.post("/api/events", content=body, headers={**api.h("tess"),
                                                                 "Content-Type": "application/json"})
    assert r.status_code == 422             # read and validated, not refused for size
    r = api.client.post("/api/auth/login", content=body,
                        headers={"Content-Type": "application/json"})
    assert r.status_code == 413


# --- hole 8: CSV formula injection -----------------------------------------------------
def test_csv_cells_that_look_like_formulas_are_neutralised(api: Api) -> None:
    evil = "=cmd|' /C calc'!A0"
    for strategy in (evil, "+1+1", "-2+3", "@SUM(A1)", "ok"):
        r = api.client.post("/api/events", headers=api.h("tess"),
                            json={"child_id": api.child_a.id, "strategy": strategy})
        assert r.status_code == 201, r.text
    r = api.client.get("/api/export/events", params={"child": "KID-A"},
                       headers=api.h("researcher"))
    assert r.status_code == 200
    rows = list(csv.DictReader(io.StringIO(r.text)))
    got = {row["strategy"] for row in rows}
    assert {"'" + evil, "'+1+1", "'-2+3", "'@SUM(A1)", "ok"} <= got
    assert not any(v[:1] in "=+-@\t\r" for row in rows for v in row.values() if v)
    d = api.client.get("/api/export/dictionary", headers=api.h("researcher")).json()
    assert any("leading apostrophe" in e["definition"] for e in d)
    api.login("rae")    # and the export page's dictionary says so too
    assert "leading apostrophe" in api.client.get("/export").text


@given(st.text(max_size=20))
def test_neutralised_cells_never_start_like_a_formula(text: str) -> None:
    from movereg.storage.export import neutralise_cell

    out = neutralise_cell(text)
    assert not out.startswith(("=", "+", "-", "@", "\t", "\r"))
    assert out in (text, "'" + text)


# --- hole 9: input hygiene and the API contract ----------------------------------------
@pytest.mark.parametrize("bad", ["Rob\x00in", "Robin\u202egnp.exe", "Ro\u2066bin", "Ro\x1bin"])
def test_control_and_bidi_characters_are_refused_in_names(api: Api, bad: str) -> None:
    r = api.client.post("/api/children", json={"display_name": bad}, headers=api.h("tess"))
    assert r.status_code == 422 and "not allowed" in r.json()["detail"]
    r = api.client.put("/api/strategies/my.thing", json={"label": bad, "category": "x"},
                       headers=api.h("tess"))
    assert r.status_code == 422
    r = api.client.post("/api/events", json={"child_id": api.child_a.id, "strategy": bad},
                        headers=api.h("tess"))
    assert r.status_code == 422
    r = api.client.post("/api/events", headers=api.h("tess"),
                        json={"child_id": api.child_a.id, "strategy": "mov.break",
                              "note": "line one\nline two\t" + bad})
    assert r.status_code == 422
    r = api.client.post("/api/events", headers=api.h("tess"),
                        json={"child_id": api.child_a.id, "strategy": "mov.break",
                              "note": "line one\nline two\tok"})
    assert r.status_code == 201            # newlines and tabs stay allowed in notes


def test_another_childs_session_answers_like_a_missing_one(api: Api) -> None:
    other = api.store.start_session(api.child_b.id).id
    body = {"child_id": api.child_a.id, "strategy": "mov.break"}
    r_other = api.client.post("/api/events", json={**body, "session_id": other},
                              headers=api.h("tess"))
    r_missing = api.client.post("/api/events", json={**body, "session_id": 987_654},
                                headers=api.h("tess"))
    assert r_other.status_code == r_missing.status_code == 422
    assert r_other.json()["detail"].replace(str(other), "N") == \
        r_missing.json()["detail"].replace("987654", "N")


def test_openapi_documents_the_real_error_answers(api: Api) -> None:
    doc = api.client.get("/openapi.json").json()
    err = doc["components"]["schemas"]["ErrorOut"]
    assert err["properties"]["detail"]["type"] == "string"
    assert "HTTPValidationError" not in doc["components"]["schemas"]
    ops = {op["operationId"]: op for p in doc["paths"].values() for op in p.values()}
    for op_id, op in ops.items():
        assert "422" in op["responses"], op_id
        assert op["responses"]["422"]["content"]["application/json"]["schema"]["$ref"] \
            .endswith("/ErrorOut")
    assert {"401", "403", "404"} <= set(ops["get_child"]["responses"])
    assert {"401", "429"} <= set(ops["login"]["responses"])
    assert {"401", "429"} <= set(ops["change_password"]["responses"])
    assert "413" in ops["create_event"]["responses"]
    assert "401" not in ops["health"]["responses"]
    # and a real 422 has that shape
    r = api.client.post("/api/events", json={"child_id": "x"}, headers=api.h("tess"))
    assert r.status_code == 422 and isinstance(r.json()["detail"], str)
    assert isinstance(r.json()["problems"], list)


def test_database_file_is_owner_only(tmp_path: Path) -> None:
    with Store(tmp_path / "new.sqlite3") as s:
        s.count_users()
        modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in tmp_path.iterdir()}
    assert modes["new.sqlite3"] == 0o600, modes
    assert all(m & 0o077 == 0 for m in modes.values()), modes
    old = tmp_path / "old.sqlite3"
    with Store(old):
        pass
    os.chmod(old, 0o644)
    with Store(old):
        pass
    assert stat.S_IMODE(old.stat().st_mode) == 0o600
