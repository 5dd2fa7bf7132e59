"""Migration 0011 (``sources.import_device``): a database at 0010 holding imports a
stopped server left pending gains the column, every row unchanged and its device NULL;
such an import still runs again at the next start as it did before (its device named
from the file's own serial)."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path

from band_fakes import NS, csv_bytes, movement
from movereg.config import Settings
from movereg.recordings.base import hash_serial
from movereg.storage import SCHEMA_VERSION, Store, upload_path

_T0 = (time.time_ns() - 3600 * NS) // NS * NS


def _database_at_0010(settings: Settings) -> None:
    """A database migrated to 0010 only, as a server before 0011 left it: import 1
    pending with its upload kept, 2 running whose upload is gone, 3 stored."""
    from movereg.storage._db import _migrations, _split_sql

    db = settings.db_path
    db.parent.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(db)
    for _num, _name, sql in _migrations()[:10]:
        for stmt in _split_sql(sql):
            con.execute(stmt)
    con.execute("PRAGMA user_version = 10")
    con.execute("INSERT INTO children(id, code, created_at) VALUES (1, 'KID-1', 0)")
    for sid, status in ((1, "pending"), (2, "running"), (3, "done")):
        con.execute("INSERT INTO sources(id, kind, device_id, child_id, file_name, size_bytes, "
                    "sha256, imported_by, tz, created_at, status) VALUES (?, 'file', ?, 1, ?, "
                    "1, ?, 'tess(therapist)', 'Europe/London', 1, ?)",
                    (sid, f"import-{sid}", f"rec{sid}.csv", f"{sid:02d}" * 32, status))
    con.commit()
    con.close()
    path = upload_path(settings.data_dir, 1, ".csv")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(csv_bytes(_T0, 52.0, movement(60 * 52, 52.0, 1), "SN-IN-FILE"))


def test_0011_applies_to_pending_imports_which_resume_as_before(tmp_path: Path) -> None:
    from movereg.dashboard.import_jobs import ImportJobs

    settings = Settings(data_dir=tmp_path)
    _database_at_0010(settings)
    before = sqlite3.connect(settings.db_path).execute(
        "SELECT * FROM sources ORDER BY id").fetchall()
    with Store(settings.db_path) as store:
        assert store.schema_version == SCHEMA_VERSION > 10
        con = sqlite3.connect(settings.db_path)
        cols = [r[1] for r in con.execute("PRAGMA table_info(sources)")]
        assert cols[-1] == "import_device"
        after = con.execute("SELECT * FROM sources ORDER BY id").fetchall()
        con.close()
        assert [r[:-1] for r in after] == before and {r[-1] for r in after} == {None}
        assert [(s.id, s.import_device) for s in store.interrupted_imports()] == \
            [(1, None), (2, None)]

        async def restart() -> None:
            jobs = ImportJobs(store, settings)
            assert jobs.resume() == 1
            for _ in range(600):
                if not jobs.running(1):
                    break
                await asyncio.sleep(0.05)

        asyncio.run(restart())
        done, lost, kept = (store.get_source(i) for i in (1, 2, 3))
        assert done.status == "done", done.message
        assert done.serial_hash == hash_serial("SN-IN-FILE", store.export_salt().encode())
        assert done.imported_by == "tess(therapist)" and done.n_epochs == 60
        assert done.first_sample_ns == _T0
        assert lost.status == "failed" and "upload was lost" in lost.message
        assert kept.status == "done" and kept.n_epochs is None   # untouched
        assert store.timeline(1)["epoch_start"].shape[0] == 60
