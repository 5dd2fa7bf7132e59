"""A family's data in their hands: the bundle (every table, manifest sha256s and row
counts, bounded memory) and erasure (password + name, tombstone, chain verifies, other
children untouched, 404 everywhere after)."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import tracemalloc
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from h5_api_support import PASSWORD, T0, Api, epoch_table, make_api

from movereg.models import Gap, SampleBlock
from movereg.storage import IngestBatch, Store
from movereg.storage.bundle import BUNDLE_TABLES, stream_bundle


@pytest.fixture
def api(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Api]:
    yield from make_api(tmp_path, monkeypatch)


def _fill(api: Api) -> None:
    s, a = api.store, api.child_a
    s.write_batch(IngestBatch(
        raw=[("dev-a", SampleBlock("dev-a", T0 + 10**9, 50.0,
                                   np.full((100, 3), 0.5, dtype=np.float32)))],
        gaps=[("dev-a", Gap(T0 + 100 * 10**9, T0 + 160 * 10**9, 3000, "radio"))]))
    s.create_event(a.id, "pro.wall_push", started_at=T0 + 60 * 10**9, note="after tea")
    s.start_session(a.id, kind="wear", started_at=T0)
    s.add_plan_item(a.id, "pro.carry", by="tess", when_text="heavy work after school")
    s.set_child_settings(a.id, by="pat", checkins_enabled=True, tz="Europe/London")
    s.add_checkin(a.id, rating=4, note="a calm bath time", part="evening")


def _zip(api: Api, who: str, child: int) -> zipfile.ZipFile:
    r = api.client.get(f"/api/children/{child}/bundle", headers=api.h(who))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/zip"
    assert "KID-A" in r.headers["content-disposition"]
    return zipfile.ZipFile(io.BytesIO(r.content))


def test_bundle_has_every_table_and_a_true_manifest(api: Api) -> None:
    _fill(api)
    z = _zip(api, "parent", api.child_a.id)
    manifest = json.loads(z.read("manifest.json"))
    names = {f["name"] for f in manifest["files"]}
    for stem, _, formats in BUNDLE_TABLES:
        for fmt in formats:
            assert f"{stem}.{fmt}" in names
    assert {"README.txt", "child.json"} <= names
    assert set(z.namelist()) == names | {"manifest.json"}
    for f in manifest["files"]:
        body = z.read(f["name"])
        assert hashlib.sha256(body).hexdigest() == f["sha256"] and len(body) == f["bytes"]
        if f["name"].endswith(".csv"):
            assert len(list(csv.DictReader(io.StringIO(body.decode())))) == f["rows"]
        elif f["name"].endswith(".parquet"):
            assert pq.read_table(io.BytesIO(body)).num_rows == f["rows"]
    rows = {f["name"]: f["rows"] for f in manifest["files"]}
    stored = api.store.child_row_counts(api.child_a.id)
    assert rows["epochs.csv"] == rows["epochs.parquet"] == stored["epochs"] == 600
    assert rows["events.csv"] == 1 and rows["sessions.csv"] == 1 and rows["gaps.csv"] == 1
    assert rows["raw_samples.parquet"] == 100 and rows["consent_history.csv"] == 1
    assert rows["home_plan.csv"] == 1 and rows["checkins.csv"] == 1
    assert rows["access_log.csv"] >= 1
    events = z.read("events.csv").decode()
    assert "after tea" in events   # the family's own notes come with their data
    access = list(csv.DictReader(io.StringIO(z.read("access_log.csv").decode())))
    assert any(r["in_words"] == "downloaded the data bundle" for r in access)
    assert "Sky" not in z.read("child.json").decode() and "KID-B" not in events
    assert "Robin" in z.read("README.txt").decode()
    assert "dev-a" not in z.read("epochs.csv").decode()   # band ids hashed


def test_bundle_is_for_the_guardian_and_admins(api: Api) -> None:
    assert _zip(api, "admin", api.child_a.id)
    for who, status in (("therapist", 403), ("researcher", 403), (None, 401)):
        r = api.client.get(f"/api/children/{api.child_a.id}/bundle", headers=api.h(who))
        assert r.status_code == status, who
    r = api.client.get(f"/api/children/{api.child_b.id}/bundle", headers=api.h("parent"))
    assert r.status_code == 404


def _peak(store: Store, child: int) -> tuple[int, int]:
    tracemalloc.start()
    try:
        size = 0
        for part in stream_bundle(store, child, at_ns=T0):
            size += len(part)
        return tracemalloc.get_traced_memory()[1], size
    finally:
        tracemalloc.stop()


def test_bundle_memory_does_not_grow_with_the_data(tmp_path: Path) -> None:
    """Peak Python memory for 36 h of 1-s epochs stays that of 6 h (chunks, not
    tables, are held); benchmarks/bench_bundle.py measures RSS for longer spans."""
    store = Store(tmp_path / "db.sqlite3")
    small = store.create_child(code="KID-S")
    big = store.create_child(code="KID-L")
    store.assign_device("dev-s", small.id, at_ns=T0 - 10**9)
    store.assign_device("dev-l", big.id, at_ns=T0 - 10**9)
    n_small, n_big = 6 * 3600, 36 * 3600
    store.write_batch(IngestBatch(epochs=[("dev-s", epoch_table(T0, n_small))]))
    for k in range(0, n_big, 21_600):
        store.write_batch(IngestBatch(epochs=[("dev-l", epoch_table(T0 + k * 10**9, 21_600))]))
    peak_s, size_s = _peak(store, small.id)
    peak_b, size_b = _peak(store, big.id)
    store.close()
    assert size_b > 5 * size_s   # 6x the rows really went out
    assert peak_b < 1.25 * peak_s + (4 << 20), (peak_s, peak_b)


# --- erasure ---------------------------------------------------------------------------
def _delete(api: Api, who: str, child: int, password: str, confirm: str) -> int:
    r = api.client.request("DELETE", f"/api/children/{child}", headers=api.h(who),
                           json={"password": password, "confirm": confirm})
    return r.status_code


def test_wrong_password_or_name_refuses(api: Api) -> None:
    a = api.child_a.id
    assert _delete(api, "parent", a, "not my password", "Robin") == 403
    assert _delete(api, "parent", a, PASSWORD, "Robyn") == 422
    assert _delete(api, "therapist", a, PASSWORD, "Robin") == 403
    assert _delete(api, "parent", api.child_b.id, PASSWORD, "Sky") == 404
    assert api.store.get_child(a).code == "KID-A"
    assert api.store.child_row_counts(a)["epochs"] == 600
    refused = [e for e in api.store.list_audit(limit=10) if e.action == "child.delete.refused"]
    assert len(refused) == 2 and all(e.outcome == "denied" for e in refused)


def test_erasure_removes_everything_and_keeps_the_rest(api: Api) -> None:
    from movereg.cli import main

    _fill(api)
    a, b = api.child_a, api.child_b
    api.store.create_event(b.id, "ves.bounce", started_at=T0)
    before_b = api.store.child_row_counts(b.id)
    before_a = api.store.child_row_counts(a.id)
    epochs_b = api.store.epochs(child_id=b.id)
    assert _delete(api, "parent", a.id, PASSWORD, " robin ") == 200
    # the other child keeps every row, value for value
    assert api.store.child_row_counts(b.id) == before_b
    after_b = api.store.epochs(child_id=b.id)
    for k, v in epochs_b.items():
        np.testing.assert_array_equal(after_b[k], v)
    # nothing of A is left in any table
    con = api.store._read()
    for table in ("strategy_events", "sessions", "research_consent", "home_plan", "checkins",
                  "assignments", "user_children", "child_settings", "child_names"):
        assert con.execute(f"SELECT COUNT(*) FROM {table} WHERE child_id = ?",
                           (a.id,)).fetchone()[0] == 0, table
    for table in ("epochs", "raw_blocks", "gaps"):
        assert con.execute(f"SELECT COUNT(*) FROM {table} WHERE device_id = 'dev-a'"
                           ).fetchone()[0] == 0, table
    # the tombstone: pseudonymous code, who, row counts; the chain still verifies
    (tomb,) = [e for e in api.store.list_audit(limit=20) if e.action == "child.delete"]
    detail = json.loads(tomb.detail)
    assert tomb.actor == "pat(parent)" and detail["code"] == "KID-A"
    assert detail["rows_removed"]["epochs"] == before_a["epochs"] == 600
    assert detail["rows_removed"]["raw_blocks"] == 1 and "Robin" not in tomb.detail
    assert api.store.verify_audit().ok
    assert main(["user", "--data-dir", str(api.settings.data_dir), "verify-audit"]) == 0
    # 404 everywhere: API, pages, exports, bundle, live
    h = api.h("admin")
    for url in (f"/api/children/{a.id}", f"/api/children/{a.id}/bundle",
                f"/api/children/{a.id}/consent", f"/api/children/{a.id}/settings",
                f"/api/children/{a.id}/plan", f"/api/events?child_id={a.id}",
                "/api/export/epochs?child=KID-A", f"/day?child={a.id}",
                f"/week?child={a.id}", f"/home?child={a.id}", f"/live?child={a.id}",
                f"/family/data?child={a.id}", f"/api/children/{a.id}/day.pdf",
                f"/api/live/sse?child_id={a.id}"):
        r = api.client.get(url, headers=h)
        assert r.status_code == 404, (url, r.status_code)
    assert _delete(api, "admin", a.id, PASSWORD, "Robin") == 404


def test_erasing_a_group_sessions_first_child_keeps_the_group(api: Api) -> None:
    """Sessions started together share the first one's id; erasing that child re-leads
    the group with the next child's session instead of failing or orphaning it."""
    third = api.store.create_child(code="KID-C", display_name="Kit")
    lead, *rest = api.store.start_group([(api.child_a.id, None), (api.child_b.id, None),
                                         (third.id, None)])
    assert api.store.group_id(rest[0].id) == lead.id
    api.store.delete_child(api.child_a.id, actor="ada(admin)")
    group = api.store.group_sessions(rest[1].id)
    assert [s.id for s in group] == [r.id for r in rest]
    assert api.store.group_id(rest[1].id) == rest[0].id
    assert api.store.verify_audit().ok
