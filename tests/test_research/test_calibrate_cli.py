"""``movereg features --calibrate``: the sphere fit applied before every feature."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from research_support import still_spells

from movereg.cli import main
from movereg.signal.calibration import ACCEPT_ERROR_MG, fit_recording

FS = 10.0
OFFSET = np.array([0.04, -0.03, 0.02])   # g: what the distorted sensor adds ...
SCALE = np.array([1.03, 0.96, 1.02])      # ... and how it scales: raw = truth * SCALE + OFFSET


def _truth(seed: int, n_orient: int = 30, still_s: float = 60.0,
           move_s: float = 20.0) -> np.ndarray:
    return still_spells(seed, FS, n_orient, still_s, move_s)


def _write(path: Path, x: np.ndarray) -> Path:
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(f"# fs_hz={FS:g}\nx,y,z\n")
        np.savetxt(fh, x, fmt="%.6f", delimiter=",")
    return path


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _enmo(path: Path) -> np.ndarray:
    return np.array([float(r["enmo_mg"] or "nan") for r in _rows(path)])


def test_known_offset_and_scale_corrected_within_1_mg(tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]
                                                      ) -> None:
    truth = _truth(1)
    raw = truth * SCALE + OFFSET
    true_csv = _write(tmp_path / "truth.csv", truth)
    raw_csv = _write(tmp_path / "raw.csv", raw)
    assert main(["features", str(true_csv), "--calibrate", "off",
                 "--out", str(tmp_path / "t.csv")]) == 0
    assert main(["features", str(raw_csv), "--calibrate", "off",
                 "--out", str(tmp_path / "r.csv")]) == 0
    assert main(["features", str(raw_csv), "--calibrate", "on",
                 "--out", str(tmp_path / "c.csv")]) == 0
    assert "calibration applied" in capsys.readouterr().err
    qc = _rows(tmp_path / "c.qc.csv")[0]
    assert qc["calibration"] == "applied" and qc["calibration_reason"] == ""
    assert int(qc["calibration_windows"]) >= 30 * 5
    before, after = float(qc["calibration_error_before_mg"]), \
        float(qc["calibration_error_after_mg"])
    assert before > 20.0 and after < 1.0 < ACCEPT_ERROR_MG
    # calibrated = offset + scale * raw recovers the truth within 1 mg, sample by sample
    off = np.array([float(v) for v in qc["calibration_offset_g"].split(";")])
    sc = np.array([float(v) for v in qc["calibration_scale"].split(";")])
    assert np.max(np.abs(off + sc * raw - truth)) < 1e-3 * 1.5  # movement up to 1.5 g
    np.testing.assert_allclose(off + sc * OFFSET, 0.0, atol=1e-3)
    np.testing.assert_allclose(sc * SCALE, 1.0, atol=1e-3)
    # every feature sees calibrated data: ENMO within 1 mg of the undistorted file's
    t, r, c = _enmo(tmp_path / "t.csv"), _enmo(tmp_path / "r.csv"), _enmo(tmp_path / "c.csv")
    assert np.nanmax(np.abs(c - t)) < 1.0
    assert np.nanmax(np.abs(r - t)) > 10.0   # the distortion was real
    assert _rows(tmp_path / "r.qc.csv")[0]["calibration"] == "off"


def test_too_few_still_periods_left_uncalibrated_with_reason(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]
                                                             ) -> None:
    truth = _truth(2, n_orient=3, still_s=30.0, move_s=120.0)   # 9 still windows
    raw_csv = _write(tmp_path / "few.csv", truth * SCALE + OFFSET)
    assert main(["features", str(raw_csv), "--calibrate", "on",
                 "--out", str(tmp_path / "few_out.csv")]) == 0
    qc = _rows(tmp_path / "few_out.qc.csv")[0]
    assert qc["calibration"] == "rejected"
    assert "still windows (need 10)" in qc["calibration_reason"]
    assert qc["calibration_offset_g"] == "0;0;0" and qc["calibration_scale"] == "1;1;1"
    assert "calibration rejected (only" in capsys.readouterr().err
    assert len(_rows(tmp_path / "few_out.csv")) > 0   # features still written, as read


def test_auto_skips_short_recordings(tmp_path: Path) -> None:
    raw_csv = _write(tmp_path / "short.csv", _truth(3, n_orient=12) * SCALE + OFFSET)
    assert main(["features", str(raw_csv), "--out", str(tmp_path / "s.csv")]) == 0
    qc = _rows(tmp_path / "s.qc.csv")[0]
    assert qc["calibration"] == "skipped" and "shorter than 24 h" in qc["calibration_reason"]


class _FakeRec:
    """A 25-h, 1-Hz recording of still orientations whose length is unknown up front."""

    fs_hz = 1.0
    n_samples_estimate = None

    def chunks(self, n: int):  # type: ignore[no-untyped-def]
        rng = np.random.default_rng(4)
        hour = 3600
        for _h in range(25):
            v = rng.normal(size=3)
            v /= np.linalg.norm(v)
            yield 0, np.tile(v * SCALE + OFFSET, (hour, 1)) + rng.normal(0, 1e-4, (hour, 3))


def test_auto_fits_a_day_long_recording() -> None:
    cal, status = fit_recording(_FakeRec, "auto")
    assert status == "applied", cal.reason
    np.testing.assert_allclose(cal.scale * SCALE, 1.0, atol=1e-3)
    assert cal.error_after_mg < 1.0 < cal.error_before_mg


def test_cohort_mode_calibrates_each_recording(tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    truth = _truth(5)
    a = _write(tmp_path / "a.csv", truth * SCALE + OFFSET)
    b = _write(tmp_path / "b.csv", _truth(6, n_orient=3, still_s=30.0, move_s=120.0))
    t = _write(tmp_path / "t.csv", truth)
    out = tmp_path / "cohort"
    assert main(["features", str(a), str(b), "--calibrate", "on", "--out", str(out)]) == 0
    rows = {Path(r["input"]).name: r for r in _rows(out / "cohort_summary.csv")}
    assert rows["a.csv"]["calibration"] == "applied"
    assert float(rows["a.csv"]["calibration_error_after_mg"]) < 1.0
    assert rows["b.csv"]["calibration"] == "rejected"
    assert "need 10" in rows["b.csv"]["calibration_reason"]
    assert main(["features", str(t), "--calibrate", "off", "--out", str(tmp_path / "t.csv.o.csv")
                 ]) == 0
    cal = pq.read_table(out / rows["a.csv"]["output"]).column("enmo_mg").to_numpy()
    assert np.nanmax(np.abs(cal - _enmo(tmp_path / "t.csv.o.csv"))) < 1.0


def _count_passes(monkeypatch: pytest.MonkeyPatch, module: object) -> list[int]:
    """Patch ``module.open_recording`` so each pass over a file is counted (``chunks``
    and ``gapped_chunks`` both read through ``_chunks``)."""
    real = module.open_recording  # type: ignore[attr-defined]
    passes = [0]

    def counting(*args, **kwargs):  # type: ignore[no-untyped-def]
        rec = real(*args, **kwargs)
        chunks = rec._chunks

        def counted(n: int):  # type: ignore[no-untyped-def]
            passes[0] += 1
            yield from chunks(n)

        rec._chunks = counted
        return rec

    monkeypatch.setattr(module, "open_recording", counting)
    return passes


def test_auto_reads_a_short_file_of_unknown_length_once(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import movereg.recordings
    import movereg.recordings._worker as worker

    raw_csv = _write(tmp_path / "short.csv", _truth(3, n_orient=12) * SCALE + OFFSET)
    passes = _count_passes(monkeypatch, movereg.recordings)
    assert main(["features", str(raw_csv), "--out", str(tmp_path / "s.csv")]) == 0
    assert passes[0] == 1                               # was 2: a fit pass, then features
    assert _rows(tmp_path / "s.qc.csv")[0]["calibration"] == "skipped"
    assert main(["features", str(raw_csv), "--calibrate", "on",
                 "--out", str(tmp_path / "on.csv")]) == 0
    assert passes[0] == 1 + 2                           # on: fit first, then features
    # the cohort path (one worker per file) likewise
    passes = _count_passes(monkeypatch, worker)
    row = worker.process_recording(raw_csv, str(tmp_path), "short", epoch_s=60.0,
                                   fs_hz=None, salt=b"s", calibrate="auto")
    assert row["status"] == "ok" and row["calibration"] == "skipped" and passes[0] == 1


def test_collected_during_features_equals_a_fit_pass() -> None:
    from movereg.signal.calibration import StillWindows, fit_collected

    col = StillWindows(_FakeRec.fs_hz)
    for _t0, x in _FakeRec().chunks(1 << 16):
        col.add(x)
    cal, status = fit_collected(col, _FakeRec.fs_hz, "auto")
    ref, ref_status = fit_recording(_FakeRec, "auto")
    assert status == ref_status == "applied"
    np.testing.assert_array_equal(cal.offset, ref.offset)
    np.testing.assert_array_equal(cal.scale, ref.scale)
