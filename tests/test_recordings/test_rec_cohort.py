"""Cohort extraction: streaming == batch, resume, bad files, a real 2-worker LocalCluster,
bounded memory."""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import shutil
import tracemalloc
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from recordings_writers import write_cwa, write_gt3x

from movereg.recordings import SyntheticSpec, open_recording, run_cohort
from movereg.recordings._worker import extract_to_parquet
from movereg.signal.features import extract_features
from movereg.signal.schema import EPOCH_COLUMNS
from movereg.signal.table import EpochTable

DATA = Path(__file__).resolve().parents[1] / "data" / "actilife"

# distributed's own start-up/shutdown chatter, only from its modules
DASK_WARNINGS = [
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning:distributed"),
    pytest.mark.filterwarnings("ignore::UserWarning:distributed"),
    pytest.mark.filterwarnings("ignore::RuntimeWarning:distributed"),
    pytest.mark.filterwarnings("ignore:.*[Pp]ort.*:UserWarning"),
]


def _table(path: Path) -> EpochTable:
    t = pq.read_table(path)
    cols = {}
    for name, dtype in EPOCH_COLUMNS:
        col = t.column(name)
        if name == "epoch_start":
            col = col.cast("int64")
        cols[name] = np.asarray(col.to_numpy(), dtype=dtype)
    return EpochTable(cols)


def _batch(path: Path, epoch_s: float = 5.0) -> EpochTable:
    rec = open_recording(path)
    t0, x = rec.read_all()
    return extract_features(x, rec.fs_hz, t0_ns=t0, epoch_s=epoch_s)


def _signal(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n) / 30.0
    x = rng.normal(0, 0.05, (n, 3))
    x[:, 2] += 1.0
    x[:, 0] += 0.6 * np.sin(2 * np.pi * 1.2 * t) * (np.sin(2 * np.pi * t / 60) > 0)
    return x


def _small_csv(path: Path, seconds: int, seed: int, fs: int = 30) -> Path:
    x = _signal(seconds * fs, seed)
    with gzip.open(path, "wt") as fh:
        fh.write(f"# fs_hz={fs}\n# start=2024-02-01T08:00:00Z serial=SER{seed}\nx,y,z\n")
        for a, b, c in np.round(x, 5).tolist():
            fh.write(f"{a},{b},{c}\n")
    return path


# --- the same numbers from the batch path and the streaming (cohort) path ------------------


@pytest.mark.parametrize("chunk", [977, 30_000])
def test_streaming_file_equals_batch_real_r4(tmp_path: Path, chunk: int) -> None:
    path = DATA / "R4_raw.csv.gz"
    rec = open_recording(path)
    out = tmp_path / "r4.parquet"
    summary = extract_to_parquet(rec, out, epoch_s=5.0, chunk=chunk)
    got = _table(out)
    want = _batch(path)
    assert got.n == want.n == summary["n_epochs"] == 540
    assert got.equals(want)


def test_cohort_outputs_equal_batch_for_each_format(tmp_path: Path) -> None:
    inp = tmp_path / "in"
    inp.mkdir()
    shutil.copy(DATA / "R1_raw.csv.gz", inp / "r1.csv.gz")
    write_gt3x(inp / "g.gt3x", _signal(30 * 120, 5), 30, 1_700_000_000)
    write_cwa(inp / "c.cwa", _signal(100 * 64, 6) , dt.datetime(2024, 3, 1, 9))
    res = run_cohort([inp], tmp_path / "out", epoch_s=5.0, progress=False)
    assert res.n_ok == 3, res.errors
    for stem, name in (("r1", "r1.csv.gz"), ("g", "g.gt3x"), ("c", "c.cwa")):
        got = _table(tmp_path / "out" / f"{stem}.parquet")
        want = _batch(inp / name)
        assert got.n == want.n > 0
        assert got.equals(want), stem


# --- summary, resume, bad files ------------------------------------------------------------


def _summary_rows(out: Path) -> list[dict[str, str]]:
    with open(out / "cohort_summary.csv", newline="") as fh:
        return list(csv.DictReader(fh))


def test_summary_values_and_hashed_serial(tmp_path: Path) -> None:
    p = _small_csv(tmp_path / "kid1.csv.gz", 300, 1)
    res = run_cohort([p], tmp_path / "out", progress=False)
    row = res.rows[0]
    assert row["status"] == "ok" and row["output"] == "kid1.parquet"
    tab = _table(tmp_path / "out" / "kid1.parquet")
    md = pq.read_schema(tmp_path / "out" / "kid1.parquet").metadata
    assert md[b"movereg.fs_hz"] == b"30.0" and md[b"movereg.format"] == b"csv.gz"
    worn = (tab["nonwear"] == 0) & (tab["coverage"] > 0)
    assert row["n_epochs"] == tab.n == 60
    assert row["wear_h"] == pytest.approx(float(np.sum(5.0 * tab["coverage"][worn])) / 3600)
    assert row["coverage"] == pytest.approx(float(np.mean(tab["coverage"])))
    w = tab["coverage"][worn]
    assert row["mean_enmo_mg"] == pytest.approx(
        float(np.sum(tab["enmo_mg"][worn] * w) / np.sum(w)))
    zones = sum(row[f"{z}_min"] for z in ("still", "light", "moderate", "vigorous"))
    assert zones == pytest.approx(row["wear_h"] * 60)
    assert row["start"] == "2024-02-01T08:00:00.000000+00:00"
    text = (tmp_path / "out" / "cohort_summary.csv").read_text()
    assert "SER1" not in text and len(row["serial_hash"]) == 16
    assert pq.read_table(tmp_path / "out" / "cohort_summary.parquet").num_rows == 1


def test_bad_file_is_reported_and_the_rest_finish(tmp_path: Path) -> None:
    good1 = _small_csv(tmp_path / "a.csv.gz", 60, 1)
    bad = tmp_path / "b.csv"
    bad.write_text("# fs_hz=30\nx,y,z\n0,0,1\n0,zz,1\n")
    trunc = tmp_path / "c.gt3x"
    write_gt3x(trunc, _signal(300, 2), 30, 1_700_000_000)
    trunc.write_bytes(trunc.read_bytes()[:200])
    good2 = _small_csv(tmp_path / "d.csv.gz", 60, 2)
    res = run_cohort([good1, bad, trunc, good2], tmp_path / "out", progress=False)
    assert [r["status"] for r in res.rows] == ["ok", "error", "error", "ok"]
    assert str(bad) in res.rows[1]["message"] and ":4:" in res.rows[1]["message"]
    assert str(trunc) in res.rows[2]["message"]
    rows = _summary_rows(tmp_path / "out")
    assert [r["status"] for r in rows] == ["ok", "error", "error", "ok"]
    assert sorted(p.name for p in (tmp_path / "out").glob("*.parquet")) == [
        "a.parquet", "cohort_summary.parquet", "d.parquet"]
    assert not list((tmp_path / "out").glob(".*.tmp"))


def test_resume_skips_finished_and_redoes_changed(tmp_path: Path) -> None:
    files = [_small_csv(tmp_path / f"k{i}.csv.gz", 60, i) for i in range(3)]
    out = tmp_path / "out"
    first = run_cohort(files, out, progress=False)
    assert first.n_ok == 3 and first.n_skipped == 0
    mtimes = {p.name: p.stat().st_mtime_ns for p in out.glob("k*.parquet")}

    again = run_cohort(files, out, progress=False)
    assert again.n_skipped == 3 and again.n_ok == 3
    assert {p.name: p.stat().st_mtime_ns for p in out.glob("k*.parquet")} == mtimes
    assert [r["wear_h"] for r in again.rows] == [r["wear_h"] for r in first.rows]

    _small_csv(files[1], 90, 7)  # changed content
    third = run_cohort(files, out, progress=False)
    assert [r["skipped"] for r in third.rows] == [True, False, True]
    assert third.rows[1]["n_epochs"] == 18

    (out / "k2.parquet").unlink()  # output lost -> redo
    assert [r["skipped"] for r in run_cohort(files, out, progress=False).rows] == [
        True, True, False]

    other = run_cohort(files, out, epoch_s=10.0, progress=False)  # new parameters
    assert other.n_skipped == 0 and other.rows[0]["n_epochs"] == 6


def test_resume_retries_failed(tmp_path: Path) -> None:
    bad = tmp_path / "x.csv"
    bad.write_text("x,y,z\n0,0,1\n")
    out = tmp_path / "out"
    assert run_cohort([bad], out, progress=False).rows[0]["status"] == "error"
    bad.write_text("# fs_hz=10\nx,y,z\n" + "0,0,1\n" * 50)
    row = run_cohort([bad], out, progress=False).rows[0]
    assert row["status"] == "ok" and row["skipped"] is False


def test_duplicate_stems_are_reported(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    p1 = _small_csv(tmp_path / "a" / "same.csv.gz", 30, 1)
    p2 = _small_csv(tmp_path / "b" / "same.csv.gz", 30, 2)
    res = run_cohort([p1, p2], tmp_path / "out", progress=False)
    assert [r["status"] for r in res.rows] == ["ok", "error"]
    assert "already used" in res.rows[1]["message"]


# --- Dask ----------------------------------------------------------------------------------


@pytest.mark.timeout(120)
def test_local_cluster_two_workers(tmp_path: Path) -> None:
    files = [_small_csv(tmp_path / f"w{i}.csv.gz", 120, i) for i in range(4)]
    bad = tmp_path / "w9.csv"
    bad.write_text("time,x,y\n1,2,3\n")
    local = run_cohort(files, tmp_path / "local", progress=False)
    res = run_cohort([*files, bad], tmp_path / "dask", workers=2, progress=False)
    assert [r["status"] for r in res.rows] == ["ok"] * 4 + ["error"]
    assert "z axis" in res.rows[4]["message"]
    for p in files:
        stem = p.name.split(".")[0]
        assert _table(tmp_path / "dask" / f"{stem}.parquet").equals(
            _table(tmp_path / "local" / f"{stem}.parquet"))
    for a, b in zip(local.rows, res.rows[:4], strict=True):
        assert a["wear_h"] == b["wear_h"] and a["mean_enmo_mg"] == b["mean_enmo_mg"]
    assert all(r["peak_rss_mb"] > 0 for r in res.rows)


for _m in DASK_WARNINGS:
    test_local_cluster_two_workers = _m(test_local_cluster_two_workers)


@pytest.mark.timeout(120)
def test_existing_scheduler_address(tmp_path: Path) -> None:
    from distributed import LocalCluster

    files = [_small_csv(tmp_path / f"s{i}.csv.gz", 30, i) for i in range(2)]
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                      dashboard_address=None) as cluster:
        res = run_cohort(files, tmp_path / "out", scheduler=cluster.scheduler_address,
                         progress=False)
    assert res.n_ok == 2


for _m in DASK_WARNINGS:
    test_existing_scheduler_address = _m(test_existing_scheduler_address)


# --- bounded memory -------------------------------------------------------------------------


def _peak_bytes(days: float, tmp: Path) -> tuple[int, int]:
    rec = SyntheticSpec("m", days=days, fs_hz=30.0, seed=3).open()
    tracemalloc.start()
    try:
        row = extract_to_parquet(rec, tmp / f"m{days}.parquet", epoch_s=5.0, chunk=1 << 16)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak, int(row["n_epochs"])


def test_memory_does_not_grow_with_recording_length(tmp_path: Path) -> None:
    """Peak traced allocations for 2 h and for 16 h of 30 Hz data are about the same.

    The 8x longer recording holds 8x more samples (16 h: 1.7 M samples, 41 MB as float64)
    and epochs; a streaming path must not hold either.
    """
    extract_to_parquet(SyntheticSpec("w", days=0.01).open(), tmp_path / "w.parquet",
                       epoch_s=5.0)  # warm-up: JIT, imports
    short, n_short = _peak_bytes(2 / 24, tmp_path)
    long, n_long = _peak_bytes(16 / 24, tmp_path)
    assert n_long == 8 * n_short
    assert long < 1.25 * short + 2_000_000, (short, long)
    assert long < 20_000_000


def test_missing_inputs(tmp_path: Path) -> None:
    from movereg.errors import InputFileError

    (tmp_path / "empty").mkdir()
    with pytest.raises(InputFileError, match="no recording files"):
        run_cohort([tmp_path / "empty"], tmp_path / "out", progress=False)
    good = _small_csv(tmp_path / "g.csv.gz", 30, 1)
    res = run_cohort([tmp_path / "gone.csv", good], tmp_path / "out", progress=False)
    assert [r["status"] for r in res.rows] == ["error", "ok"]
    assert "no such file" in res.rows[0]["message"]


def _gap_csv(tmp_path: Path, fs: int, n1: int, gap: int, n2: int,
             seed: int) -> tuple[Path, np.ndarray]:
    """A timestamped CSV: ``n1`` samples, ``gap`` missing, ``n2`` more; (path, times)."""
    t = np.r_[np.arange(n1), np.arange(n1 + gap, n1 + gap + n2)] * (10**9 // fs) + 10**18
    x = _signal(n1 + n2, seed)
    p = tmp_path / "gap.csv"
    with open(p, "w") as fh:
        fh.write("t_ns,x,y,z\n")
        for tt, (a, b, c) in zip(t.tolist(), x.tolist(), strict=True):
            fh.write(f"{tt},{a!r},{b!r},{c!r}\n")
    return p, t


@pytest.mark.parametrize("chunk", [64, 1000])
def test_streaming_equals_batch_across_a_time_gap(tmp_path: Path, chunk: int) -> None:
    fs = 25
    n1, gap, n2 = 1530, 377, 2210
    p, _ = _gap_csv(tmp_path, fs, n1, gap, n2, 9)
    rec = open_recording(p)
    extract_to_parquet(rec, tmp_path / "gap.parquet", epoch_s=5.0, chunk=chunk)
    got = _table(tmp_path / "gap.parquet")
    want = _batch(p)
    assert got.equals(want)
    assert want.n == -(-(n1 + gap + n2) // (5 * fs))
    assert (want["coverage"] < 1).any()


def test_the_recording_names_its_gaps(tmp_path: Path) -> None:
    """gapped_chunks: one "recording_gap" where the time jumps; read_all fills exactly it."""
    fs = 25
    n1, gap, n2 = 130, 77, 210
    p, t = _gap_csv(tmp_path, fs, n1, gap, n2, 4)
    rec = open_recording(p)
    got = [(t0, xx.shape[0], gaps) for t0, xx, gaps in rec.gapped_chunks(100)]
    named = [g for _, _, gaps in got for g in gaps]
    assert [(g.start_ns, g.end_ns, g.samples_missing, g.reason) for g in named] == [
        (int(t[n1 - 1]) + 10**9 // fs, int(t[n1]), gap, "recording_gap")]
    assert sum(m for _, m, _ in got) == n1 + n2
    t0, whole = rec.read_all(64)
    assert t0 == int(t[0]) and whole.shape[0] == n1 + gap + n2
    assert np.isnan(whole[n1:n1 + gap]).all() and not np.isnan(whole[:n1]).any()
