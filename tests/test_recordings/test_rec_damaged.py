"""Damaged device files are read, not refused: the good data, each damage in the QC.

Each case is built in the test by damaging a format-conformant file from
``recordings_writers`` (GT3X, GENEActiv) the way real downloads are damaged: a log
record cut off at the end, a record failing its checksum, fewer pages than the header
promises, a page cut off. (Corrupt CWA sectors: ``test_rec_cwa.py``, on the real AX3.)
"""

from __future__ import annotations

import datetime as dt
import zipfile
from pathlib import Path

import numpy as np
import pytest
from recordings_writers import write_cwa, write_geneactiv, write_gt3x

from movereg.errors import InputFileError
from movereg.recordings import open_recording

START = dt.datetime(2024, 3, 1, 10, 0, 0)


def _signal(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 0.3, (n, 3))
    x[:, 2] += 1.0
    return x


def _rezip(p: Path, log: bytes) -> None:
    with zipfile.ZipFile(p) as z:
        info = z.read("info.txt")
    with zipfile.ZipFile(p, "w") as z:
        z.writestr("info.txt", info)
        z.writestr("log.bin", log)


def _log(p: Path) -> bytes:
    with zipfile.ZipFile(p) as z:
        return z.read("log.bin")


def test_gt3x_last_record_cut_off(tmp_path: Path) -> None:
    p = tmp_path / "cut.gt3x"
    expected = write_gt3x(p, _signal(3000), 30, 1_700_000_000)
    _rezip(p, _log(p)[:-20])  # the download stopped 20 bytes before the end
    rec = open_recording(p)
    _t0, x = rec.read_all()
    assert x.shape == (2970, 3)
    np.testing.assert_allclose(x, expected[:2970], atol=1e-6)
    qc = rec.qc
    assert [d.reason for d in qc.damage] == ["truncated"]
    assert qc.warning() == ("the last log record is cut off (116 of 136 bytes); "
                            "30 samples skipped")
    assert qc.samples_read == 2970 and qc.samples_skipped == 30


def test_gt3x_record_failing_its_checksum_is_a_gap(tmp_path: Path) -> None:
    p = tmp_path / "chk.gt3x"
    expected = write_gt3x(p, _signal(3000, 1), 30, 1_700_000_000)
    log = bytearray(_log(p))
    # find record 40 by walking the log (PARAMETERS first, then one ACTIVITY per second)
    off, k = 0, -1
    while True:
        size = int.from_bytes(log[off + 6:off + 8], "little")
        if log[off + 1] == 0x00:
            k += 1
            if k == 40:
                log[off + 8 + 5] ^= 0x40
                break
        off += 8 + size + 1
    _rezip(p, bytes(log))
    rec = open_recording(p)
    t0, x = rec.read_all()
    assert x.shape == (3000, 3)
    assert np.isnan(x[1200:1230]).all() and not np.isnan(x[:1200]).any()
    np.testing.assert_allclose(x[1230:], expected[1230:], atol=1e-6)
    assert rec.qc.warning() == ("1 of 100 activity records failed their checksum; "
                                "30 samples skipped")
    assert rec.qc.gaps == 1 and rec.qc.samples_read == 2970
    # the damaged span, in UTC: the 41st second
    assert rec.qc.damage[0].spans == [(t0 + 40 * 10**9, t0 + 41 * 10**9)]


def test_geneactiv_with_fewer_pages_than_its_header(tmp_path: Path) -> None:
    p = tmp_path / "short.bin"
    expected = write_geneactiv(p, _signal(3000, 2), 50, START)
    lines = p.read_bytes().split(b"\r\n")
    p.write_bytes(b"\r\n".join(lines[:59 + 7 * 10]) + b"\r\n")  # 7 of the 10 pages
    rec = open_recording(p)
    _t0, x = rec.read_all()
    assert x.shape == (2100, 3)
    np.testing.assert_allclose(x, expected[:2100], atol=1e-6)
    assert rec.qc.warning() == ("the header promises 10 pages, the file holds 7; "
                                "900 samples skipped")
    assert rec.qc.skipped_why() == "missing_pages=900"


@pytest.mark.parametrize(("fmt", "cut", "rows", "warning"), [
    ("bin", 1000, 2700, "page 10 is cut off at the end of the file; 300 samples skipped"),
    ("cwa", 100, 2320, "the file ends in a partial sector (412 bytes); 80 samples skipped"),
])
def test_last_page_or_sector_cut_off(tmp_path: Path, fmt: str, cut: int, rows: int,
                                     warning: str) -> None:
    p = tmp_path / f"cut.{fmt}"
    if fmt == "bin":
        expected = write_geneactiv(p, _signal(3000, 3), 50, START)
    else:
        expected = write_cwa(p, _signal(2400, 4), START)
    p.write_bytes(p.read_bytes()[:-cut])  # inside the last page's hex data / sector
    rec = open_recording(p)
    _t0, x = rec.read_all()
    assert x.shape == (rows, 3)
    np.testing.assert_allclose(x, expected[:rows], atol=1e-6)
    assert rec.qc.warning() == warning


def test_no_readable_data_is_an_error(tmp_path: Path) -> None:
    p = tmp_path / "dead.gt3x"
    write_gt3x(p, _signal(300), 30, 1_700_000_000)
    log = _log(p)
    _rezip(p, log[:30])  # the PARAMETERS record and a sliver of the first second
    with pytest.raises(InputFileError, match="no readable acceleration samples"):
        open_recording(p)


def test_geneactiv_page_times_are_the_device_clock(tmp_path: Path) -> None:
    """A GENEActiv that ran at 49.5 Hz (configured 50): page times say so; samples are
    respaced between them and the grid values are the movement at the grid's times."""
    true_hz, n = 49.5, 300 * 40
    t = np.arange(n) / true_hz
    acc = np.stack([0.5 * np.sin(2 * np.pi * 0.8 * t), 0.2 * np.cos(2 * np.pi * 0.3 * t),
                    np.ones(n)], axis=1)
    p = tmp_path / "drift.bin"
    write_geneactiv(p, acc, 50, START, true_hz=true_hz)
    rec = open_recording(p)
    _t0, x = rec.read_all()
    assert abs(rec.qc.measured_fs_hz - true_hz) < 0.02  # the last page: nominal spacing
    assert rec.meta["measured_fs_hz"] == rec.qc.measured_fs_hz
    grid_s = np.arange(x.shape[0]) / 50.0
    body = grid_s < (n - 300) / true_hz  # the last page is spaced at the nominal rate
    want = np.stack([0.5 * np.sin(2 * np.pi * 0.8 * grid_s),
                     0.2 * np.cos(2 * np.pi * 0.3 * grid_s)], axis=1)
    assert np.max(np.abs(x[body, :2] - want[body])) < 0.02  # 12-bit steps + interpolation
    assert x.shape[0] == int(((n - 300) / true_hz + 299 / 50) * 50) + 1
