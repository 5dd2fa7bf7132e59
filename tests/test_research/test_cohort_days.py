"""A cohort of 3 recording files: the day table equals DuckDB's GROUP BY recording, date."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import numpy as np
import pytest

from movereg.cli import main

FS = 10.0


def _file(path: Path, seed: int, start: datetime, hours: float) -> Path:
    rng = np.random.default_rng(seed)
    n = int(hours * 3600 * FS)
    t_ms = int(start.timestamp() * 1000) + np.arange(n) * 100
    x = np.tile([0.0, 0.0, 1.0], (n, 1)) + rng.normal(0, 0.002, (n, 3))
    moving = (np.arange(n) // int(600 * FS)) % 3 == 0                  # 10 of every 30 min
    x[moving] += rng.normal(0, 0.4, (int(moving.sum()), 3))
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("time,x,y,z\n")
        np.savetxt(fh, np.column_stack([t_ms, x]), fmt=["%d", "%.4f", "%.4f", "%.4f"],
                   delimiter=",")
    return path


def test_cohort_days_equal_group_by(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                    ) -> None:
    files = [_file(tmp_path / f"rec{k}.csv", k, datetime(2025, 6, 6 + k, 22, 30, tzinfo=UTC),
                   2.0 + k * 0.5) for k in range(3)]
    out = tmp_path / "cohort"
    assert main(["features", *map(str, files), "--epoch", "60", "--calibrate", "off",
                 "--valid-day", "1h", "--out", str(out)]) == 0
    capsys.readouterr()
    with open(out / "cohort_days.csv", newline="", encoding="utf-8") as fh:
        days = list(csv.DictReader(fh))
    assert [(d["child_code"], d["date"]) for d in days] == [
        ("rec0", "2025-06-06"), ("rec0", "2025-06-07"), ("rec1", "2025-06-07"),
        ("rec1", "2025-06-08"), ("rec2", "2025-06-08"), ("rec2", "2025-06-09")]
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    worn = "nonwear = 0 AND coverage > 0"
    got = con.execute(f"""
        SELECT regexp_extract(filename, '(rec[0-9])', 1) AS rec,
               CAST(CAST(epoch_start AS DATE) AS VARCHAR) AS day,
               SUM(epoch_s * coverage) / 3600 AS recorded_h,
               SUM(CASE WHEN {worn} THEN epoch_s * coverage ELSE 0 END) / 3600 AS wear_h,
               SUM(CASE WHEN {worn} AND zone = 0 THEN epoch_s * coverage ELSE 0 END) / 60
        FROM read_parquet('{out}/rec*.parquet', filename = true)
        GROUP BY rec, day ORDER BY rec, day""").fetchall()
    assert [g[:2] for g in got] == [(d["child_code"], d["date"]) for d in days]
    want = [(float(d["recorded_h"]), float(d["wear_h"]), float(d["still_min"])) for d in days]
    np.testing.assert_allclose([g[2:] for g in got], want, rtol=1e-9)
    assert [int(d["valid_day"]) for d in days] == [int(w[1] >= 1.0) for w in want]
    persons = json.loads((out / "cohort_persons.json").read_text())["persons"]
    assert [p["child_code"] for p in persons] == ["rec0", "rec1", "rec2"]


def test_three_files_imported_exported_as_hive_and_grouped_by_duckdb(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The issue's acceptance: a cohort of 3 files, as a hive dataset, read back by DuckDB
    with GROUP BY child, date, gives the day table's values."""
    from movereg.config import Settings
    from movereg.storage import Store

    data = tmp_path / "db"
    with Store(Settings(data_dir=data).db_path) as store:
        for k in range(3):
            store.create_child(code=f"KID-{k}")
    for k in range(3):
        f = _file(tmp_path / f"rec{k}.csv", k, datetime(2025, 6, 6 + k, 22, 30, tzinfo=UTC),
                  2.0 + k * 0.5)
        assert main(["import", str(f), "--data-dir", str(data), "--child", f"KID-{k}"]) == 0
    hive, day_csv = tmp_path / "epochs", tmp_path / "days.csv"
    assert main(["export", "--data-dir", str(data), "--what", "epochs", "--format",
                 "parquet", "--out", str(hive)]) == 0
    assert main(["export", "--data-dir", str(data), "--what", "days", "--out", str(day_csv),
                 "--valid-day", "1h"]) == 0
    capsys.readouterr()
    with open(day_csv, newline="", encoding="utf-8") as fh:
        days = list(csv.DictReader(fh))
    assert len(days) == 6 and {d["child_code"] for d in days} == {"KID-0", "KID-1", "KID-2"}
    con = duckdb.connect()
    worn = "nonwear = 0 AND coverage > 0"
    got = con.execute(f"""
        SELECT child, CAST(date AS VARCHAR) AS day,
               SUM(epoch_s * coverage) / 3600 AS recorded_h,
               SUM(CASE WHEN {worn} THEN epoch_s * coverage ELSE 0 END) / 3600 AS wear_h,
               SUM(CASE WHEN {worn} AND zone = 1 THEN epoch_s * coverage ELSE 0 END) / 60
        FROM read_parquet('{hive}/**/*.parquet', hive_partitioning = true)
        GROUP BY child, date ORDER BY child, day""").fetchall()
    assert [g[:2] for g in got] == [(d["child_code"], d["date"]) for d in days]
    want = [(float(d["recorded_h"]), float(d["wear_h"]), float(d["light_min"])) for d in days]
    np.testing.assert_allclose([g[2:] for g in got], want, rtol=1e-9)
    assert any(w[2] > 0 for w in want)          # the movement spells reached light
