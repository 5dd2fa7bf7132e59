"""``movereg features``: good files give the table; every kind of bad file gives one line, exit 2."""

from __future__ import annotations

import csv
import gzip
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from movereg.cli import main
from movereg.signal import EPOCH_COLUMNS, extract_features

DATA = Path(__file__).resolve().parents[1] / "data"


def _write_csv(path: Path, x: np.ndarray, *, time_s: np.ndarray | None = None,
               fs_line: float | None = None) -> None:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wt") as fh:
        if fs_line is not None:
            fh.write(f"# fs_hz={fs_line:g}\n")
        fh.write("time,x,y,z\n" if time_s is not None else "x,y,z\n")
        for i, row in enumerate(x):
            vals = ",".join("" if np.isnan(v) else repr(float(v)) for v in row)
            fh.write(f"{float(time_s[i])!r},{vals}\n" if time_s is not None else vals + "\n")


def _signal(n: int) -> np.ndarray:
    rng = np.random.default_rng(0)
    x = rng.normal(0, 0.1, (n, 3)) + np.array([0.0, 0.0, 1.0])
    x[50:60] = np.nan
    return np.round(x, 6)


def _read(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_actilife_style_file_to_csv(tmp_path: Path) -> None:
    src = DATA / "actilife" / "R1_raw.csv.gz"
    out = tmp_path / "r1.csv"
    assert main(["features", str(src), "--epoch", "5", "--out", str(out)]) == 0
    rows = _read(out)
    assert len(rows) == 36                       # 3 min at 5 s
    assert list(rows[0]) == [n for n, _ in EPOCH_COLUMNS]
    assert float(rows[0]["coverage"]) == 1.0


def test_time_column_gz_and_parquet_match_the_library(tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    fs = 25.0
    x = _signal(25 * 22)
    src = tmp_path / "rec.csv.gz"
    _write_csv(src, x, time_s=1_767_225_600.0 + np.arange(x.shape[0]) / fs)
    out = tmp_path / "rec.parquet"
    assert main(["features", str(src), "--epoch", "5", "--out", str(out)]) == 0
    t = pq.read_table(out)
    want = extract_features(x, fs, t0_ns=1_767_225_600 * 10**9, epoch_s=5.0)
    assert t.num_rows == want.n
    np.testing.assert_allclose(t.column("enmo_mg").to_numpy(), want["enmo_mg"], rtol=1e-9)
    np.testing.assert_array_equal(t.column("epoch_start").cast("int64").to_numpy(),
                                  want["epoch_start"])


def test_fs_option(tmp_path: Path) -> None:
    x = _signal(300)
    src = tmp_path / "plain.csv"
    _write_csv(src, x)
    out = tmp_path / "o.csv"
    assert main(["features", str(src), "--fs", "30", "--epoch", "1", "--out", str(out)]) == 0
    assert len(_read(out)) == 10


def _bad_files(tmp: Path) -> dict[str, Path]:
    files = {}
    p = tmp / "nocols.csv"
    p.write_text("a,b,c\n1,2,3\n")
    files["missing columns"] = p
    p = tmp / "text.csv"
    p.write_text("# fs_hz=25\nx,y,z\n0,0,1\n0,zero,1\n")
    files["non-numeric"] = p
    p = tmp / "norate.csv"
    p.write_text("x,y,z\n0,0,1\n0,0,1\n")
    files["unknown rate"] = p
    p = tmp / "empty.csv"
    p.write_text("")
    files["empty"] = p
    p = tmp / "broken.csv.gz"
    p.write_bytes(b"\x1f\x8b\x08\x00garbage-not-a-gzip-stream" * 3)
    files["bad gzip"] = p
    files["no such file"] = tmp / "absent.csv"
    return files


@pytest.mark.parametrize("kind", ["missing columns", "non-numeric", "unknown rate", "empty",
                                  "bad gzip", "no such file"])
def test_bad_input_one_line_exit_2(tmp_path: Path, kind: str,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    src = _bad_files(tmp_path)[kind]
    out = tmp_path / "o.csv"
    code = main(["features", str(src), "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2
    assert len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err
    assert src.name in err
    assert not out.exists()


def test_non_numeric_names_the_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = _bad_files(tmp_path)["non-numeric"]
    assert main(["features", str(src), "--out", str(tmp_path / "o.csv")]) == 2
    assert ":4" in capsys.readouterr().err


def test_bad_out_suffix(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "plain.csv"
    _write_csv(src, _signal(100), fs_line=25)
    assert main(["features", str(src), "--out", str(tmp_path / "o.txt")]) == 2
    assert "Traceback" not in capsys.readouterr().err


def test_process_exit_code_and_no_traceback(tmp_path: Path) -> None:
    exe = shutil.which("movereg", path=str(Path(sys.executable).parent))
    src = _bad_files(tmp_path)["missing columns"]
    cmd = [exe] if exe else [sys.executable, "-m", "movereg"]
    res = subprocess.run([*cmd, "features", str(src), "--out", str(tmp_path / "o.csv")],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 2
    assert "Traceback" not in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1


def test_cohort_mode_writes_one_file_per_input(tmp_path: Path) -> None:
    a = tmp_path / "a.csv"
    b = tmp_path / "b.csv.gz"
    _write_csv(a, _signal(25 * 12), fs_line=25)
    _write_csv(b, _signal(25 * 12), fs_line=25)
    out = tmp_path / "out"
    assert main(["features", str(a), str(b), "--epoch", "5", "--out", str(out)]) == 0
    produced = sorted(p.name for p in out.iterdir())
    assert any(name.startswith("a") for name in produced)
    assert any(name.startswith("b") for name in produced)


def test_cohort_mode_reports_a_bad_file(tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    a = tmp_path / "a.csv"
    _write_csv(a, _signal(25 * 12), fs_line=25)
    bad = _bad_files(tmp_path)["non-numeric"]
    code = main(["features", str(a), str(bad), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 1
    assert "Traceback" not in err and "1 failed" in err
