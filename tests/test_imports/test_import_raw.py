"""Raw samples of an import (#22): kept where the raw-retention setting keeps live raw, in
the raw table live data uses, under the import's source; removed with the import and the
child's erasure; exported with the device's own clock like live raw."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pytest
from imports_support import AX3, AX3_FIRST_NS, long_cwa

from movereg.pipeline.importer import (
    ImportCancelled,
    file_sha256,
    import_file,
    raw_from_ns,
    run_import,
)
from movereg.recordings import open_recording
from movereg.storage import Child, Store
from movereg.storage.export import export_chunks

#: the AX3 file is from 2019: a retention this long keeps its raw samples
_KEEP_DAYS = 365 * 50


def _count(store: Store, sql: str, *args: object) -> int:
    return int(store._read().execute(sql, args).fetchone()[0])


def _raw_export(store: Store, child: Child) -> dict[str, np.ndarray]:
    parts = list(export_chunks(store, "raw", [child.id]))
    if not parts:
        return {"time": np.zeros(0, np.int64)}
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def test_raw_samples_are_stored_exported_and_equal_the_file(store: Store, child: Child) -> None:
    src = import_file(store, child.id, AX3, actor="tester", tz="Europe/London",
                      raw_retention_days=_KEEP_DAYS)
    n_blocks = _count(store, "SELECT COUNT(*) FROM raw_blocks WHERE device_id = ?",
                      src.device_id)
    assert n_blocks >= 3  # 174 s of samples in blocks of at most a minute
    _, want = open_recording(AX3, tz="Europe/London").read_all()
    out = _raw_export(store, child)
    # the samples on the 100 Hz grid the engine read (the device's 17,400 at ~98.9 Hz)
    assert out["time"].shape[0] == want.shape[0] > (src.samples_read or 0)
    assert out["time"][0] == AX3_FIRST_NS
    np.testing.assert_allclose(np.column_stack([out["x_g"], out["y_g"], out["z_g"]]),
                               want.astype(np.float32), rtol=0, atol=0)
    # the device's own clock: London time (GMT in February) = UTC here, per sample
    np.testing.assert_array_equal(out["device_time"], out["time"])
    # a block never spans more than a minute
    ns = store._read().execute("SELECT n, fs_hz FROM raw_blocks WHERE device_id = ?",
                               (src.device_id,)).fetchall()
    assert max(n / fs for n, fs in ns) <= 60.0


def test_device_clock_is_the_local_clock_where_the_zone_has_an_offset(
        store: Store, child: Child) -> None:
    src = import_file(store, child.id, AX3, actor="tester", tz="Asia/Tokyo",
                      raw_retention_days=_KEEP_DAYS)
    out = _raw_export(store, child)
    assert out["time"][0] == src.first_sample_ns
    np.testing.assert_array_equal(out["device_time"] - out["time"], 9 * 3600 * 10**9)


def test_no_raw_outside_the_retention(store: Store, child: Child) -> None:
    src = import_file(store, child.id, AX3, actor="tester", tz="Europe/London",
                      raw_retention_days=90)
    assert src.n_epochs == 176
    assert _count(store, "SELECT COUNT(*) FROM raw_blocks WHERE device_id = ?",
                  src.device_id) == 0


def test_raw_from_ns_is_the_retention_cutoff() -> None:
    assert raw_from_ns(None) is None
    assert raw_from_ns(2, now_ns=10 * 86_400 * 10**9) == 8 * 86_400 * 10**9


def test_removal_and_erasure_remove_the_raw_samples(store: Store, child: Child) -> None:
    other = store.create_child(display_name="Bo")
    mine = import_file(store, child.id, AX3, actor="tester", tz="Europe/London",
                       raw_retention_days=_KEEP_DAYS)
    theirs = import_file(store, other.id, AX3, actor="tester", tz="Europe/London",
                         raw_retention_days=_KEEP_DAYS)
    store.remove_import(mine.id, reason="wrong child", actor="tester")
    assert _raw_export(store, child)["time"].shape[0] == 0
    assert _count(store, "SELECT COUNT(*) FROM raw_blocks WHERE device_id = ?",
                  mine.device_id) == 0
    kept = _count(store, "SELECT COUNT(*) FROM raw_blocks WHERE device_id = ?",
                  theirs.device_id)
    assert kept > 0
    # an unfinished import's raw blocks go with the child too
    pending = store.begin_import(other.id, file_name="x.cwa", size_bytes=1,
                                 sha256="cd" * 32, imported_by="tester")
    store.stage_import_raw(pending.id, [])
    from movereg.models import SampleBlock
    store.stage_import_raw(pending.id, [SampleBlock(pending.device_id, AX3_FIRST_NS, 100.0,
                                                    np.zeros((10, 3), np.float32))])
    store.delete_child(other.id, actor="tester")
    for dev in (theirs.device_id, pending.device_id):
        assert _count(store, "SELECT COUNT(*) FROM raw_blocks WHERE device_id = ?", dev) == 0
    assert store.verify_audit().ok


def test_a_cancelled_import_leaves_no_raw(store: Store, child: Child, tmp_path: Path) -> None:
    path = long_cwa(tmp_path / "half-hour.cwa", 0.5, start=dt.datetime(2026, 5, 12, 9))
    src = store.begin_import(child.id, file_name=path.name, size_bytes=path.stat().st_size,
                             sha256=file_sha256(path), imported_by="tester")

    class _After:  # cancels at the second chunk: the first one's raw blocks were written
        def __init__(self) -> None:
            self.calls = 0

        def is_set(self) -> bool:
            self.calls += 1
            return self.calls > 1

    cancel = _After()
    with pytest.raises(ImportCancelled):
        run_import(store, src.id, path, tz="UTC", cancel=cancel, raw_retention_days=_KEEP_DAYS)
    assert cancel.calls == 2
    assert _count(store, "SELECT COUNT(*) FROM raw_blocks WHERE device_id = ?",
                  src.device_id) == 0
    assert _raw_export(store, child)["time"].shape[0] == 0
    again = import_file(store, child.id, path, actor="tester", tz="UTC",
                        raw_retention_days=_KEEP_DAYS)
    assert _raw_export(store, child)["time"].shape[0] == 0.5 * 3600 * 100
    assert again.status == "done"


def test_the_start_up_purge_keeps_what_an_import_keeps(store: Store, tmp_path: Path) -> None:
    """The start-up purge cuts raw samples at the import's cutoff (one function): a block
    an import kept survives it, one just before the cutoff goes; the audit names both."""
    from movereg.config import Settings
    from movereg.dashboard.app import apply_retention
    from movereg.models import SampleBlock
    from movereg.storage import IngestBatch

    settings = Settings(data_dir=tmp_path, raw_retention_days=7)
    lo = raw_from_ns(7)
    blocks = [SampleBlock("dev", t0, 52.0, np.zeros((52, 3), np.float32))
              for t0 in (lo - 2 * 10**9, lo + 60 * 10**9)]
    store.write_batch(IngestBatch(raw=[("dev", b) for b in blocks]))
    assert apply_retention(settings, store) == 1
    hi = raw_from_ns(7)
    assert [c.t0_ns for c in store.iter_raw(device_id="dev")] == [lo + 60 * 10**9]
    (entry,) = [e for e in store.list_audit(limit=5) if e.action == "retention.raw"]
    detail = json.loads(entry.detail)
    assert entry.actor == "system" and sorted(detail) == ["before_ns", "blocks", "days"]
    assert detail["blocks"] == 1 and detail["days"] == 7
    assert lo <= detail["before_ns"] <= hi
