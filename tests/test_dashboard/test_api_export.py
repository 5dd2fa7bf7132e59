"""Exports: pseudonymous, correct values, CSV and Parquet, streamed with bounded memory."""

from __future__ import annotations

import csv
import io
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from fastapi.responses import StreamingResponse
from h5_api_support import T0, Api, make_api

from movereg.dashboard.deps import Principal
from movereg.dashboard.routes.export import export_data
from movereg.models import SampleBlock
from movereg.storage import IngestBatch
from movereg.storage.export import device_hash


@pytest.fixture
def api(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Api]:
    yield from make_api(tmp_path, monkeypatch)


def _raw(api: Api, n_blocks: int, per_block: int = 520, fs: float = 52.0) -> np.ndarray:
    rng = np.random.default_rng(1)
    data = rng.normal(0, 0.7, (n_blocks * per_block, 3)).astype(np.float32)
    step = round(per_block * 1e9 / fs)
    for lo in range(0, n_blocks, 100):
        api.store.write_batch(IngestBatch(raw=[
            ("dev-a", SampleBlock("dev-a", T0 + i * step, fs,
                                  data[i * per_block:(i + 1) * per_block]))
            for i in range(lo, min(n_blocks, lo + 100))]))
    return data


def test_epochs_csv_is_pseudonymous_and_complete(api: Api) -> None:
    r = api.client.get("/api/export/epochs", params={"format": "csv", "child": "KID-A"},
                       headers=api.h("researcher"))
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert len(rows) == 600
    assert {row["child_code"] for row in rows} == {"KID-A"}
    salt = api.store.export_salt()
    assert {row["device"] for row in rows} == {device_hash("dev-a", salt)}
    assert "dev-a" not in r.text and "Robin" not in r.text
    assert rows[0]["epoch_start"].endswith("+00:00")
    stored = api.store.epochs(child_id=api.child_a.id)
    np.testing.assert_allclose([float(x["enmo_mg"]) for x in rows], stored["enmo_mg"])
    np.testing.assert_array_equal([int(x["counts_y"]) for x in rows], stored["counts_y"])
    done = [e for e in api.store.list_audit(limit=5) if e.action == "export.done"]
    assert done and '"sha256"' in done[0].detail and "KID-A" in done[0].detail


def test_epochs_parquet_round_trips(api: Api) -> None:
    r = api.client.get("/api/export/epochs", params={"format": "parquet"},
                       headers=api.h("researcher"))
    assert r.status_code == 200
    table = pq.read_table(io.BytesIO(r.content))
    assert table.num_rows == 1200  # both children
    assert table.schema.field("epoch_start").type == pa.timestamp("ns", tz="UTC")
    assert set(table.column("child_code").to_pylist()) == {"KID-A", "KID-B"}
    a = table.filter(pa.compute.equal(table.column("child_code"), "KID-A"))
    stored = api.store.epochs(child_id=api.child_a.id)
    np.testing.assert_array_equal(a.column("epoch_start").cast(pa.int64()).to_numpy(),
                                  stored["epoch_start"])
    np.testing.assert_array_equal(a.column("zone").to_numpy(), stored["zone"])


def test_raw_parquet_is_lossless_and_time_stamped(api: Api) -> None:
    data = _raw(api, 40)
    r = api.client.get("/api/export/raw", params={"format": "parquet", "child": "KID-A"},
                       headers=api.h("researcher"))
    t = pq.read_table(io.BytesIO(r.content))
    got = np.stack([t.column(c).to_numpy() for c in ("x_g", "y_g", "z_g")], axis=1)
    assert got.dtype == np.float32 and np.array_equal(got, data)
    times = t.column("time").cast(pa.int64()).to_numpy()
    assert times[0] == T0 and np.all(np.diff(times) > 0)
    assert abs((times[-1] - times[0]) / 1e9 - (len(data) - 1) / 52.0) < 1e-6


def test_raw_csv_values_parse_back_exactly(api: Api) -> None:
    data = _raw(api, 3)
    r = api.client.get("/api/export/raw", params={"format": "csv", "child": "KID-A"},
                       headers=api.h("tess"))
    rows = list(csv.reader(io.StringIO(r.text)))[1:]
    got = np.array([[float(v) for v in row[3:6]] for row in rows], dtype=np.float32)
    assert np.array_equal(got, data)


def test_breaks_and_events_exports(api: Api) -> None:
    api.client.post("/api/events", headers=api.h("tess"),
                    json={"child_id": api.child_a.id, "strategy": "mov.break",
                          "note": "Robin loved it"})
    r = api.client.get("/api/export/events", params={"format": "csv"}, headers=api.h("tess"))
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert [x["strategy"] for x in rows] == ["mov.break"] and rows[0]["session_id"] == ""
    assert "Robin" not in r.text  # notes are never exported
    r = api.client.get("/api/export/breaks", params={"format": "parquet"},
                       headers=api.h("tess"))
    t = pq.read_table(io.BytesIO(r.content))
    assert t.column("duration_s").to_pylist() == [300.0]
    assert t.column("child_code").to_pylist() == ["KID-A"]  # tess's caseload only


def test_export_scope_per_role(api: Api) -> None:
    r = api.client.get("/api/export/epochs", params={"child": "KID-B"}, headers=api.h("pat"))
    assert r.status_code == 404
    r = api.client.get("/api/export/epochs", headers=api.h("pat"))
    assert {row["child_code"] for row in csv.DictReader(io.StringIO(r.text))} == {"KID-A"}
    r = api.client.get("/api/export/epochs", params={"child": "bad code!"},
                       headers=api.h("researcher"))
    assert r.status_code == 422
    r = api.client.get("/api/export/nonsense", headers=api.h("researcher"))
    assert r.status_code == 422


def test_data_dictionary(api: Api) -> None:
    d = api.client.get("/api/export/dictionary", headers=api.h("researcher")).json()
    names = [e["name"] for e in d]
    assert "enmo_mg" in names and all(e["definition"] for e in d)


def test_export_route_returns_a_streaming_response(api: Api) -> None:
    rae = api.store.find_user("rae")
    assert rae is not None
    resp = export_data("raw", api.store, Principal(rae, "bearer"), format="parquet",
                       child="KID-A")
    assert isinstance(resp, StreamingResponse)
    assert "content-length" not in resp.headers


def test_streamed_raw_export_memory_is_bounded(api: Api) -> None:
    n_blocks = 580  # 301,600 samples at 52 Hz (about 1 h 37 min)
    _raw(api, n_blocks)
    # warm-up: Arrow's first time-zone-aware array loads ~30 MB of tables once per process
    api.client.get("/api/export/epochs", params={"format": "parquet", "child": "KID-B"},
                   headers=api.h("researcher"))
    for fmt, min_total in (("csv", 20e6), ("parquet", 3e6)):
        total = 0
        tracemalloc.start()
        try:
            with api.client.stream("GET", "/api/export/raw",
                                   params={"format": fmt, "child": "KID-A"},
                                   headers=api.h("researcher")) as r:
                assert r.status_code == 200
                for part in r.iter_bytes():
                    total += len(part)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert total > min_total
        # the whole export would need >= total bytes; streaming keeps a few chunks only
        assert peak < 12e6, (fmt, peak, total)


def test_epoch_export_re_aggregated_to_a_longer_epoch(api: Api) -> None:
    from movereg.analysis import aggregate_epochs

    stored = api.store.epochs(device_id="dev-a")
    want = aggregate_epochs(stored, 60.0)
    for fmt in ("csv", "parquet"):
        r = api.client.get("/api/export/epochs", params={"format": fmt, "child": "KID-A",
                                                         "epoch_s": 60},
                           headers=api.h("researcher"))
        assert r.status_code == 200 and r.headers["x-movereg-epoch-s"] == "60"
        if fmt == "csv":
            rows = list(csv.DictReader(io.StringIO(r.text)))
            got_enmo = [float(x["enmo_mg"]) for x in rows]
            got_impacts = [int(x["impacts"]) for x in rows]
            assert {x["epoch_s"] for x in rows} == {"60.0"}
        else:
            t = pq.read_table(io.BytesIO(r.content))
            got_enmo = t.column("enmo_mg").to_pylist()
            got_impacts = t.column("impacts").to_pylist()
            meta = t.schema.metadata
            assert meta[b"movereg.epoch_s"] == b"60"
            assert b"maximum" in meta[b"movereg.aggregation"]  # jerk_p95 rule is stated
            starts = t.column("epoch_start").cast(pa.int64()).to_numpy()
            np.testing.assert_array_equal(starts, want["epoch_start"])
            assert np.all(starts % (60 * 10**9) == 0)
        np.testing.assert_allclose(got_enmo, want["enmo_mg"])
        assert got_impacts == want["impacts"].tolist()
        assert sum(got_impacts) == int(stored["impacts"].sum())
    done = [e for e in api.store.list_audit(limit=5) if e.action == "export.done"]
    assert '"epoch_s":60.0' in done[0].detail


def test_epoch_export_feature_subset(api: Api) -> None:
    r = api.client.get("/api/export/epochs", params={"child": "KID-A",
                                                     "features": "impacts,enmo_mg"},
                       headers=api.h("researcher"))
    assert r.status_code == 200
    header = r.text.splitlines()[0].split(",")
    assert header == ["child_code", "device", "epoch_start", "epoch_s", "coverage",
                      "enmo_mg", "impacts"]
    assert len(r.text.splitlines()) == 601
    r = api.client.get("/api/export/epochs", params={"child": "KID-A", "format": "parquet",
                                                     "features": "zone", "epoch_s": 5},
                       headers=api.h("tess"))
    t = pq.read_table(io.BytesIO(r.content))
    assert t.column_names == ["child_code", "device", "epoch_start", "epoch_s", "coverage",
                              "zone"]
    assert t.num_rows == 120


@pytest.mark.parametrize(("params", "needle"), [
    ({"features": "enmo_mg,bogus"}, "valid: counts_x"),
    ({"features": ","}, "no features"),
    ({"epoch_s": 1.5}, "whole multiple"),
    ({"epoch_s": 0.5}, "whole multiple"),
    ({"epoch_s": -5}, "epoch_s"),
])
def test_bad_epoch_choices_are_422_with_a_clear_message(api: Api, params: dict[str, object],
                                                        needle: str) -> None:
    r = api.client.get("/api/export/epochs", params={"child": "KID-A", **params},
                       headers=api.h("researcher"))
    assert r.status_code == 422 and needle in r.json()["detail"], r.json()


def test_epoch_choices_refused_for_other_tables(api: Api) -> None:
    for params in ({"epoch_s": 5}, {"features": "enmo_mg"}):
        r = api.client.get("/api/export/raw", params={"child": "KID-A", **params},
                           headers=api.h("researcher"))
        assert r.status_code == 422 and "epoch exports only" in r.json()["detail"]


@pytest.mark.parametrize("epoch_s", [5.0, 15.0, 60.0])
def test_aggregated_export_windows_never_split_an_epoch(api: Api, monkeypatch: pytest.MonkeyPatch,
                                                        epoch_s: float) -> None:
    """Small read windows (7 s) and a mid-epoch time range give the same rows as
    aggregating the whole range at once."""
    from datetime import UTC, datetime

    from movereg.analysis import aggregate_epochs
    from movereg.storage import export as export_mod

    monkeypatch.setattr(export_mod, "_EPOCH_WINDOW_NS", 7 * 10**9)
    lo, hi = T0 + 33 * 10**9, T0 + 517 * 10**9
    stored = api.store.epochs(device_id="dev-a", start_ns=lo, end_ns=hi)
    want = aggregate_epochs(stored, epoch_s)
    r = api.client.get("/api/export/epochs", headers=api.h("researcher"), params={
        "child": "KID-A", "format": "parquet", "epoch_s": epoch_s,
        "from": datetime.fromtimestamp(lo / 1e9, tz=UTC).isoformat(),
        "to": datetime.fromtimestamp(hi / 1e9, tz=UTC).isoformat()})
    t = pq.read_table(io.BytesIO(r.content))
    np.testing.assert_array_equal(t.column("epoch_start").cast(pa.int64()).to_numpy(),
                                  want["epoch_start"])
    for name in ("coverage", "enmo_mg", "counts_vm", "impacts", "jerk_p95_g_s", "zone"):
        np.testing.assert_allclose(t.column(name).to_numpy(), want[name], err_msg=name)
