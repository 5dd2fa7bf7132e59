"""Imports into the store: one transaction, provenance, counted once, removable."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
from imports_support import AX3, AX3_FIRST_NS, cut_cwa

from movereg.errors import InputFileError, ValidationError
from movereg.models import Gap
from movereg.pipeline.importer import ImportCancelled, file_sha256, import_file, run_import
from movereg.storage import AlreadyImported, Child, IngestBatch, Store

_NS = 10**9


def _import(store: Store, child: Child, path: Path = AX3) -> object:
    return import_file(store, child.id, path, actor="tester", tz="Europe/London")


def test_import_stores_epochs_with_provenance(store: Store, child: Child) -> None:
    src = _import(store, child)
    assert src.status == "done" and src.kind == "file"
    assert src.sha256 == file_sha256(AX3) and src.size_bytes == AX3.stat().st_size
    assert src.device_type == "Axivity AX3" and src.serial_hash and "39434" not in src.serial_hash
    assert src.fs_hz == 100.0 and 98.5 < (src.measured_fs_hz or 0) < 99.2
    assert src.first_sample_ns == AX3_FIRST_NS
    assert src.samples_read == 17_400 and src.samples_skipped == 0
    assert src.imported_by == "tester" and src.tz == "Europe/London"
    tl = store.timeline(child.id, include_source=True)
    starts = tl["epoch_start"]
    # 1-s epochs on the live grid over the file's 176 s
    assert starts.shape[0] == src.n_epochs == 176
    assert starts[0] == AX3_FIRST_NS // _NS * _NS and np.all(np.diff(starts) == _NS)
    assert set(tl["source_id"].tolist()) == {src.id}
    assert np.nanmean(tl["enmo_mg"]) > 0
    # the same rows the live readers see for the child, tagged with the source
    raw = store.epochs(child_id=child.id, include_device=True)
    assert set(raw["device_id"].tolist()) == {src.device_id}
    # the import's device is not a band
    assert all(d.device_id != src.device_id for d in store.list_devices())
    actions = [e.action for e in store.list_audit(limit=10)]
    assert "import.add" in actions
    assert "Axivity AX3 file ax3_testfile.cwa added" in src.label


def test_same_file_twice_is_a_no_op(store: Store, child: Child, tmp_path: Path) -> None:
    first = _import(store, child)
    copy = tmp_path / "renamed.cwa"
    copy.write_bytes(AX3.read_bytes())
    with pytest.raises(AlreadyImported) as info:
        _import(store, child, copy)
    assert info.value.source.id == first.id
    assert len(store.list_sources(child_id=child.id)) == 1
    assert store.timeline(child.id)["epoch_start"].shape[0] == 176


def test_span_inside_an_earlier_import_of_the_device_is_refused(
        store: Store, child: Child, tmp_path: Path) -> None:
    _import(store, child)
    part = cut_cwa(tmp_path / "part.cwa", 60)
    with pytest.raises(ValidationError, match="already in the record from the same device"):
        _import(store, child, part)
    failed = store.list_sources(child_id=child.id)[0]
    assert failed.status == "failed"
    assert store.count_epochs(failed.device_id) == (0, 0)
    assert store.timeline(child.id)["epoch_start"].shape[0] == 176


def test_a_cancelled_import_leaves_nothing_and_can_run_again(store: Store, child: Child) -> None:
    src = store.begin_import(child.id, file_name=AX3.name, size_bytes=AX3.stat().st_size,
                             sha256=file_sha256(AX3), imported_by="tester")
    stop = threading.Event()
    stop.set()
    with pytest.raises(ImportCancelled):
        run_import(store, src.id, AX3, tz="Europe/London", cancel=stop)
    assert store.get_source(src.id).status == "cancelled"
    assert store.epochs(child_id=child.id)["epoch_start"].shape[0] == 0
    assert store.count_epochs(src.device_id) == (0, 0)
    again = _import(store, child)
    assert again.status == "done" and again.id != src.id


def test_a_failure_while_storing_rolls_everything_back(store: Store, child: Child) -> None:
    src = store.begin_import(child.id, file_name="x.cwa", size_bytes=1, sha256="ab" * 32,
                             imported_by="tester")

    def tables():  # one good table, then the disk "fails"
        yield _epochs(AX3_FIRST_NS // _NS * _NS, 10)
        raise OSError("disk full")

    with pytest.raises(OSError):
        store.commit_import(src.id, meta={"device_type": "AX3"}, epochs=tables(), gaps=[],
                            span=(0, 1), actor="t")
    assert store.count_epochs(src.device_id) == (0, 0)
    assert store.get_source(src.id).status == "pending"
    assert store.epochs(child_id=child.id)["epoch_start"].shape[0] == 0


def _epochs(t0: int, n: int, *, coverage: float = 1.0, enmo: float = 50.0) -> object:
    class _T:
        pass

    t = _T()
    t.columns = {"epoch_start": t0 + np.arange(n, dtype=np.int64) * _NS,  # type: ignore[attr-defined]
                 "epoch_s": np.ones(n), "coverage": np.full(n, coverage),
                 "enmo_mg": np.full(n, enmo), "nonwear": np.zeros(n, dtype=np.int8)}
    t.n = n  # type: ignore[attr-defined]
    return t


def test_live_and_file_overlap_counted_once_and_removal_restores_live(
        store: Store, child: Child) -> None:
    hour0 = AX3_FIRST_NS // (3600 * _NS) * 3600 * _NS
    store.assign_device("band-1", child.id, at_ns=hour0 - 3600 * _NS)
    # live data: 60 s in the AX3's hour (less wear than the file's 176 s) and the next hour
    store.write_batch(IngestBatch(epochs=[("band-1", _epochs(AX3_FIRST_NS // _NS * _NS, 60,
                                                             enmo=999.0)),
                                          ("band-1", _epochs(hour0 + 3600 * _NS, 30))]))
    live = store.sources_by_device(["band-1"])["band-1"]
    assert live.kind == "live"
    src = _import(store, child)
    tl = store.timeline(child.id, include_source=True)
    starts = tl["epoch_start"]
    assert np.unique(starts).shape[0] == starts.shape[0]  # each moment once
    in_hour = starts < hour0 + 3600 * _NS
    assert set(tl["source_id"][in_hour].tolist()) == {src.id}  # more wear: the file
    assert set(tl["source_id"][~in_hour].tolist()) == {live.id}
    assert not np.any(tl["enmo_mg"] == 999.0)
    spans = store.timeline_sources(child.id, hour0, hour0 + 7200 * _NS)
    assert [s.source.id for s in spans] == [src.id, live.id]
    removed = store.remove_import(src.id, reason="wrong child", actor="tester")
    assert removed.status == "removed" and removed.removed_reason == "wrong child"
    tl = store.timeline(child.id, include_source=True)
    assert set(tl["source_id"].tolist()) == {live.id} and tl["epoch_start"].shape[0] == 90
    assert store.count_epochs(src.device_id) == (0, 0)
    assert "import.remove" in [e.action for e in store.list_audit(limit=5)]
    # removed: the same file may come in again
    assert _import(store, child).status == "done"


def test_equal_wear_prefers_the_live_band(store: Store, child: Child) -> None:
    t0 = 1_700_000_000 * _NS // (3600 * _NS) * 3600 * _NS
    store.assign_device("band-2", child.id, at_ns=t0 - _NS)
    store.write_batch(IngestBatch(epochs=[("band-2", _epochs(t0, 10, enmo=1.0))]))
    src = store.begin_import(child.id, file_name="f.csv", size_bytes=1, sha256="cd" * 32,
                             imported_by="t")
    store.commit_import(src.id, meta={"device_type": "CSV"},
                        epochs=[_epochs(t0 + 100 * _NS, 10, enmo=2.0)], gaps=[
                            Gap(start_ns=t0, end_ns=t0 + _NS, samples_missing=100,
                                reason="recording_gap")],
                        span=(t0, t0 + 200 * _NS), actor="t")
    tl = store.timeline(child.id)
    assert tl["epoch_start"].shape[0] == 10 and np.all(tl["enmo_mg"] == 1.0)
    gaps = store.gaps(device_id=src.device_id)
    assert [g.reason for g in gaps] == ["recording_gap"]


def test_live_rows_belong_to_the_bands_live_source(store: Store) -> None:
    store.write_batch(IngestBatch(epochs=[("band-3", _epochs(10 * _NS, 3))],
                                  gaps=[("band-3", Gap(start_ns=0, end_ns=_NS,
                                                       samples_missing=1, reason="x"))]))
    con = store._read()
    sids = {r[0] for r in con.execute("SELECT source_id FROM epochs UNION ALL "
                                      "SELECT source_id FROM gaps")}
    live = store.sources_by_device(["band-3"])["band-3"]
    assert sids == {live.id} and live.status == "live"


def test_not_a_recording_stores_nothing(store: Store, child: Child, tmp_path: Path) -> None:
    bad = tmp_path / "notes.cwa"
    bad.write_bytes(b"hello, this is not a recording" * 40)
    with pytest.raises(InputFileError):
        _import(store, child, bad)
    assert store.list_sources(child_id=child.id)[0].status == "failed"
    assert store.epochs(child_id=child.id)["epoch_start"].shape[0] == 0


def test_damaged_sectors_are_read_and_counted(store: Store, child: Child,
                                              tmp_path: Path) -> None:
    data = bytearray(AX3.read_bytes())
    for k in (10, 11, 40):  # break three data sectors' checksums
        data[1024 + 512 * k + 100] ^= 0xFF
    bad = tmp_path / "damaged.cwa"
    bad.write_bytes(bytes(data))
    src = _import(store, child, bad)
    assert src.status == "done"
    assert src.samples_skipped == 360 and src.samples_read == 17_400 - 360
    assert [d["reason"] for d in src.damage_list] == ["checksum"]
    assert "3 of 145 sectors failed their checksum" in src.damage_list[0]["message"]
    reasons = {g.reason for g in store.gaps(child_id=child.id)}
    assert reasons == {"damaged_checksum"}
