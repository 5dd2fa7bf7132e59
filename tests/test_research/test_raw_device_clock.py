"""Raw blocks keep the device clock and frame sequence (migration 0006_raw_device_clock), exported per sample."""

from __future__ import annotations

import csv
import sqlite3
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from movereg.cli import main
from movereg.config import Settings
from movereg.models import RawBlock, SampleBlock
from movereg.sensors.clock import DeviceClock
from movereg.storage import IngestBatch, Store
from movereg.storage._db import SCHEMA_VERSION

T0 = 1_750_000_000 * 10**9
DEV = "AA:BB:CC:DD:EE:FF"


def test_an_old_database_gains_the_columns_and_keeps_its_blocks(tmp_path: Path) -> None:
    from movereg.storage import encode_samples
    from movereg.storage._db import _migrations, _split_sql

    db = Settings(data_dir=tmp_path).db_path
    db.parent.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(db)          # a database from before 0006: migrations 1-5 only
    for _num, _name, sql in _migrations()[:5]:
        for stmt in _split_sql(sql):
            con.execute(stmt)
    con.execute("PRAGMA user_version = 5")
    con.execute("INSERT INTO devices(device_id, created_at) VALUES (?, 0)", (DEV,))
    con.execute("INSERT INTO raw_blocks(device_id, t0_ns, fs_hz, n, data) "
                "VALUES (?, ?, 50.0, 5, ?)", (DEV, T0, encode_samples(
                    np.zeros((5, 3), "float32"))))
    con.commit()
    con.close()
    with Store(db) as store:
        assert store.schema_version == SCHEMA_VERSION >= 6
        (old,) = list(store.iter_raw(device_id=DEV))
        assert old.n == 5 and old.device_time_ns is None and old.frame_seq is None
    cols = [r[1] for r in sqlite3.connect(db).execute("PRAGMA table_info(raw_blocks)")]
    assert cols[-2:] == ["device_time_ns", "frame_seq"]


def test_clock_store_and_export_keep_device_time_and_seq(tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]
                                                         ) -> None:
    clock = DeviceClock(DEV, 50.0, has_device_time=True)
    dev_last = T0 + 49 * 20_000_000 + 123_456          # the band's clock, a little off
    blk = clock.push(RawBlock(np.ones((50, 3), "float32"), 50.0, device_time_ns=dev_last,
                              seq=4711), T0 + 10**9)
    assert blk is not None and blk.device_time_ns == dev_last and blk.seq == 4711
    with Store(Settings(data_dir=tmp_path).db_path) as store:
        child = store.create_child(code="KID-1")
        store.write_batch(IngestBatch(raw=[(DEV, blk), (DEV, SampleBlock(
            DEV, blk.t0_ns + 10**9, 50.0, np.zeros((50, 3), "float32")))]))
        store.assign_device(DEV, child.id, at_ns=T0 - 10**10)
    out = tmp_path / "raw.parquet"
    assert main(["export", "--data-dir", str(tmp_path), "--what", "raw", "--format",
                 "parquet", "--out", str(out)]) == 0
    t = pq.read_table(out)
    dev_t = t.column("device_time").cast("int64").to_pylist()
    seq = t.column("frame_seq").to_pylist()
    assert dev_t[49] == dev_last and dev_t[0] == dev_last - 49 * 20_000_000
    assert seq[:50] == [4711] * 50
    assert dev_t[50:] == [None] * 50 and seq[50:] == [None] * 50   # no device time: null
    csv_out = tmp_path / "raw.csv"
    assert main(["export", "--data-dir", str(tmp_path), "--what", "raw", "--out",
                 str(csv_out)]) == 0
    with csv_out.open() as fh:
        rows = list(csv.DictReader(fh))
    assert rows[0]["frame_seq"] == "4711" and rows[0]["device_time"].endswith("+00:00")
    assert rows[99]["frame_seq"] == "" and rows[99]["device_time"] == ""
    capsys.readouterr()
