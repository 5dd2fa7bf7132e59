"""``movereg features`` on real device files: zone line, --tz, damage warning, QC row."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from movereg.cli import main

AX3 = Path(__file__).resolve().parents[1] / "data" / "devices" / "ax3_testfile.cwa"


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_ax3_without_tz_says_utc_was_assumed(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "ax3.csv"
    assert main(["features", str(AX3), "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "device clock read as UTC (assumed; give --tz ZONE" in err
    assert "warning" not in err
    epochs = _rows(out)
    assert epochs[0]["epoch_start"].startswith("2019-02-26T10:55")
    qc = _rows(tmp_path / "ax3.qc.csv")
    assert len(qc) == 1
    row = qc[0]
    assert row["tz"] == "UTC" and row["tz_source"] == "assumed"
    assert 98.8 < float(row["measured_fs_hz"]) < 98.9 and float(row["fs_hz"]) == 100.0
    assert row["samples_read"] == "17400" and row["samples_skipped"] == "0"
    assert row["first_sample_utc"].startswith("2019-02-26T10:55:06.000")
    assert row["last_sample_utc"].startswith("2019-02-26T10:58:01.98")
    assert row["device"] == "Axivity AX3" and row["gaps"] == "0"
    assert row["serial_hash"] and "39434" not in row["serial_hash"]
    assert 0 <= float(row["clipped_share"]) < 0.01


def test_ax3_with_tz_berlin_first_epoch_0955_utc(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "ax3.parquet"
    assert main(["features", str(AX3), "--out", str(out), "--tz", "Europe/Berlin"]) == 0
    assert "assumed" not in capsys.readouterr().err
    table = pq.read_table(out)
    first = table.column("epoch_start")[0].as_py()
    assert (first.hour, first.minute) == (9, 55) and str(first.tzinfo) == "UTC"
    qc = json.loads(table.schema.metadata[b"movereg.qc"])
    assert qc["tz"] == "Europe/Berlin" and qc["tz_source"] == "option"
    assert qc["first_sample_utc"].startswith("2019-02-26T09:55:06")
    # epochs follow the device clock: 176 s of data at 5 s -> 36 epochs, no drift
    starts = np.array(table.column("epoch_start").cast("int64"))
    assert len(starts) == 36 and (starts[-1] - starts[0]) == 35 * 5 * 10**9


def test_damaged_file_one_warning_line_and_counts(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    p = tmp_path / "bad.cwa"
    shutil.copy(AX3, p)
    data = bytearray(p.read_bytes())
    for s in (20, 21, 100):
        data[1024 + s * 512 + 300] ^= 0x01
    p.write_bytes(bytes(data))
    out = tmp_path / "bad.csv"
    assert main(["features", str(p), "--out", str(out), "--tz", "Europe/London"]) == 0
    err = capsys.readouterr().err.splitlines()
    warnings = [line for line in err if "warning" in line]
    assert warnings == [f"movereg features: {p}: warning: 3 of 145 sectors failed their "
                        "checksum; 360 samples skipped"]
    row = _rows(tmp_path / "bad.qc.csv")[0]
    assert row["samples_skipped"] == "360" and row["skipped_why"] == "checksum=360"
    assert row["samples_read"] == "17040" and row["gaps"] == "2"


def test_file_without_readable_data_exit_2(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    p = tmp_path / "dead.cwa"
    data = bytearray(AX3.read_bytes())
    for s in range(145):
        data[1024 + s * 512 + 300] ^= 0x01
    p.write_bytes(bytes(data))
    assert main(["features", str(p), "--out", str(tmp_path / "d.csv")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no readable data sectors" in err[0]


def test_unknown_zone_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["features", str(AX3), "--out", str(tmp_path / "a.csv"),
                 "--tz", "Mars/Olympus"]) == 2
    err = capsys.readouterr().err
    assert "unknown time zone 'Mars/Olympus'" in err and "Traceback" not in err


def test_cohort_summary_has_the_qc_columns(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "in" / "bad.cwa"
    bad.parent.mkdir()
    data = bytearray(AX3.read_bytes())
    data[1024 + 5 * 512 + 300] ^= 0x01
    bad.write_bytes(bytes(data))
    shutil.copy(AX3, tmp_path / "in" / "good.cwa")
    out = tmp_path / "out"
    assert main(["features", str(tmp_path / "in"), "--out", str(out) + "/",
                 "--tz", "Europe/Berlin"]) == 0
    err = capsys.readouterr().err
    assert "bad.cwa: warning: 1 of 145 sectors failed their checksum; 120 samples" in err
    rows = {r["recording"]: r for r in _rows(out / "cohort_summary.csv")}
    assert rows["bad"]["samples_skipped"] == "120" and rows["good"]["samples_skipped"] == "0"
    assert rows["good"]["tz"] == "Europe/Berlin"
    assert rows["good"]["first_sample_utc"].startswith("2019-02-26T09:55:06")
    assert 98.8 < float(rows["good"]["measured_fs_hz"]) < 98.9
    meta = pq.read_metadata(out / "bad.parquet").metadata
    assert json.loads(meta[b"movereg.qc"])["skipped_why"] == "checksum=120"
    summary = pq.read_table(out / "cohort_summary.parquet")
    assert summary.schema.field("samples_read").type == "int64"


def test_progress_bar_per_file_on_a_terminal(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    import io
    import sys

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    err = Tty()
    monkeypatch.setattr(sys, "stderr", err)
    assert main(["features", str(AX3), "--out", str(tmp_path / "a.csv"),
                 "--tz", "UTC"]) == 0
    text = err.getvalue()
    assert "ax3_testfile.cwa:" in text and "/17.6k" in text and "samples/s" in text
