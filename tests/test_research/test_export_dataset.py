"""Hive-partitioned Parquet, provenance, empty exports and the day table."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import duckdb
import numpy as np
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
from research_support import cohort as _cohort

from movereg.cli import main


def _run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    rc = main(args)
    return rc, capsys.readouterr().out


def test_hive_dataset_read_back_and_days_by_group_by(tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]
                                                     ) -> None:
    d = _cohort(tmp_path / "db")
    out = tmp_path / "epochs"
    rc, text = _run(["export", "--data-dir", d, "--what", "epochs", "--format", "parquet",
                     "--out", str(out)], capsys)
    assert rc == 0 and "rows" in text
    parts = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.parquet"))
    assert parts[0] == "child=KID-1/date=2025-06-06/part-00000.parquet"
    assert {p.split("/")[0] for p in parts} == {"child=KID-1", "child=KID-2", "child=KID-3"}
    assert len(parts) == 3 + 4 + 2          # days touched per child
    # pyarrow: one dataset; provenance in every file's key-value metadata
    table = ds.dataset(str(out), format="parquet", partitioning="hive").to_table()
    n_epochs = int((2.5 + 3.0 + 1.7) * 1440)
    assert table.num_rows == n_epochs
    meta = pq.read_schema(out / parts[0]).metadata
    prov = json.loads(meta[b"movereg.provenance"])
    assert prov["movereg_version"] and prov["feature_definitions_version"]
    assert prov["parameters"]["tz"] == "UTC" and len(prov["sources"][0]["sha256"]) == 64
    # Dask: the same dataset, partition columns included, filtered by child
    import dask.dataframe as dd

    frame = dd.read_parquet(str(out), dataset={"partitioning": "hive"},
                            filters=[("child", "==", "KID-2")])
    assert len(frame) == 3 * 1440 and "date" in frame.columns
    side = json.loads((out / "_provenance.json").read_text())
    assert side["rows"] == n_epochs and side["why_empty"] is None
    # the day table, as a hive dataset too
    days_dir = tmp_path / "days"
    assert _run(["export", "--data-dir", d, "--what", "days", "--format", "parquet",
                 "--out", str(days_dir)], capsys)[0] == 0
    con = duckdb.connect()
    worn = "nonwear = 0 AND coverage > 0"
    got = con.execute(f"""
        SELECT child, CAST(date AS VARCHAR) AS day,
               SUM(CASE WHEN {worn} THEN epoch_s * coverage ELSE 0 END) / 3600 AS wear_h,
               SUM(CASE WHEN {worn} AND zone = 2 THEN epoch_s * coverage ELSE 0 END) / 60
                 AS moderate_min,
               SUM(CASE WHEN {worn} THEN counts_vm ELSE 0 END) /
                 (SUM(CASE WHEN {worn} THEN epoch_s * coverage ELSE 0 END) / 60) AS cpm
        FROM read_parquet('{out}/**/*.parquet', hive_partitioning = true)
        GROUP BY child, date ORDER BY child, day""").fetchall()
    want = con.execute(f"""
        SELECT child_code, CAST(date AS VARCHAR), wear_h, moderate_min, counts_per_min
        FROM read_parquet('{days_dir}/**/*.parquet', hive_partitioning = true)
        ORDER BY child_code, date""").fetchall()
    assert [g[:2] for g in got] == [w[:2] for w in want] and len(got) == 9
    np.testing.assert_allclose([g[2:] for g in got], [w[2:] for w in want], rtol=1e-9)
    # valid days: full worn days only (>= 16 h); the rule is the user's to change
    rows = con.execute(f"SELECT wear_h, valid_day FROM read_parquet('{days_dir}/**/*.parquet')"
                       ).fetchall()
    assert all(v == int(w >= 16) for w, v in rows) and 0 < sum(v for _, v in rows) < 9
    persons = json.loads((days_dir / "_persons.json").read_text())["persons"]
    assert [p["child_code"] for p in persons] == ["KID-1", "KID-2", "KID-3"]
    assert sum(p["valid_days"] for p in persons) == sum(v for _, v in rows)


def test_days_csv_valid_day_rule_and_provenance_side_file(tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]
                                                         ) -> None:
    d = _cohort(tmp_path / "db")
    out16, out10 = tmp_path / "d16.csv", tmp_path / "d10.csv"
    assert _run(["export", "--data-dir", d, "--what", "days", "--out", str(out16)],
                capsys)[0] == 0
    assert _run(["export", "--data-dir", d, "--what", "days", "--out", str(out10),
                 "--valid-day", "10h", "--tz", "America/New_York"], capsys)[0] == 0
    with out16.open() as fh:
        r16 = list(csv.DictReader(fh))
    with out10.open() as fh:
        r10 = list(csv.DictReader(fh))
    assert sum(int(r["valid_day"]) for r in r10) > sum(int(r["valid_day"]) for r in r16)
    assert all(r["tz"] == "America/New_York" for r in r10)
    assert r10[0]["date"] == "2025-06-05"        # 00:00 UTC is the evening before in NY
    prov = json.loads((tmp_path / "d10.csv.json").read_text())
    assert prov["parameters"]["valid_day_h"] == 10.0 and prov["rows"] == len(r10)
    assert (tmp_path / "d16.persons.json").exists()
    used = {r["date"]: r["strategies_used"] for r in r16 if r["child_code"] == "KID-1"}
    assert used["2025-06-06"] == "mov.break;sen.weighted" and used["2025-06-07"] == ""
    assert next(int(r["strategies_n"]) for r in r16 if r["date"] == "2025-06-06") == 3


def test_an_empty_export_says_why(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = _cohort(tmp_path / "db")
    out = tmp_path / "raw.parquet"
    rc, text = _run(["export", "--data-dir", d, "--what", "raw", "--format", "parquet",
                     "--out", str(out)], capsys)
    assert rc == 0 and "no rows: no raw samples stored" in text
    prov = json.loads(pq.read_schema(out).metadata[b"movereg.provenance"])
    assert "no raw samples stored" in prov["why_empty"]
    rc, text = _run(["export", "--data-dir", d, "--what", "epochs", "--child", "KID-EMPTY",
                     "--out", str(tmp_path / "e.csv")], capsys)
    assert "no rows: no epochs stored" in text and "no band yet" in text
    assert json.loads((tmp_path / "e.csv.json").read_text())["rows"] == 0
    rc, text = _run(["export", "--data-dir", d, "--what", "events", "--format", "parquet",
                     "--child", "KID-2", "--out", str(tmp_path / "ev")], capsys)
    assert "no rows: no strategy events" in text
    assert not list((tmp_path / "ev").rglob("*.parquet"))
    assert json.loads((tmp_path / "ev" / "_provenance.json").read_text())["why_empty"]


def test_a_research_export_without_consent_says_why(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    d = _cohort(tmp_path / "db")
    rc, text = _run(["export", "--data-dir", d, "--what", "raw", "--research",
                     "--out", str(tmp_path / "r.csv")], capsys)
    assert rc == 0 and "no rows: no child has current research consent" in text
    prov = json.loads((tmp_path / "r.csv.json").read_text())
    assert prov["rows"] == 0 and "consent" in prov["why_empty"]
    assert (tmp_path / "r.csv").read_text().startswith("child_code,device,time,")


@pytest.mark.parametrize("what", ["events", "raw"])
def test_every_table_as_a_hive_dataset_equals_its_single_file(
        what: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from research_support import T0

    from movereg.config import Settings
    from movereg.models import SampleBlock
    from movereg.storage import IngestBatch, Store

    d = _cohort(tmp_path / "db")
    with Store(Settings(data_dir=tmp_path / "db").db_path) as store:   # raw over midnight
        x = np.zeros((120, 3), "float32")
        store.write_batch(IngestBatch(raw=[("AA:BB:CC:DD:EE:00", SampleBlock(
            "AA:BB:CC:DD:EE:00", T0 + 86_400 * 10**9 - 10**9, 50.0, x))]))
    one, many = tmp_path / f"{what}.parquet", tmp_path / what
    for out in (one, many):
        assert _run(["export", "--data-dir", d, "--what", what, "--format", "parquet",
                     "--out", str(out)], capsys)[0] == 0
    single = pq.read_table(one)
    table = ds.dataset(str(many), format="parquet", partitioning="hive").to_table()
    assert table.num_rows == single.num_rows > 0
    assert table.drop_columns(["child", "date"]).sort_by(
        [(c, "ascending") for c in single.column_names if c != "child_code"][:3]
    ).to_pylist() == single.sort_by(
        [(c, "ascending") for c in single.column_names if c != "child_code"][:3]).to_pylist()
    dates = {p.parent.name for p in many.rglob("*.parquet")}
    if what == "raw":
        assert dates == {"date=2025-06-06", "date=2025-06-07"}    # split at midnight
