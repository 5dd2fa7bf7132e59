"""``movereg import``: the CLI path, and one clear line + exit 2 for each bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from imports_support import AX3, cut_cwa

from movereg.cli import main
from movereg.storage import Store


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    d = tmp_path / "data"
    with Store(d / "movereg.sqlite3") as st:
        st.create_child(code="C-AAAAAA")
    return d


def _run(data_dir: Path, *files: Path, extra: tuple[str, ...] = ()) -> int:
    return main(["import", *map(str, files), "--data-dir", str(data_dir), "--child",
                 "C-AAAAAA", "--tz", "Europe/London", *extra])


def _held(data_dir: Path) -> tuple[int, list[str]]:
    with Store(data_dir / "movereg.sqlite3") as st:
        child = st.find_child("C-AAAAAA")
        assert child is not None
        n = int(st.timeline(child.id)["epoch_start"].shape[0])
        return n, [s.status for s in st.list_sources(child_id=child.id)]


def test_import_then_again(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(data_dir, AX3) == 0
    err = capsys.readouterr().err
    assert "176 epochs from Axivity AX3 into C-AAAAAA" in err and "17,400 samples read" in err
    assert _held(data_dir) == (176, ["done"])
    assert _run(data_dir, AX3) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "already in the record of C-AAAAAA" in err[0]
    assert _held(data_dir) == (176, ["done"])


def _csv(path: Path, start_s: float, n: int = 3000, fs: float = 50.0) -> Path:
    t = start_s + np.arange(n) / fs
    rows = [f"{v:.3f},0.0,0.0,1.0" for v in t]
    path.write_text("time,x,y,z\n" + "\n".join(rows) + "\n")
    return path


def _bad_inputs(tmp: Path) -> dict[str, tuple[Path, str]]:
    junk = tmp / "junk.cwa"
    junk.write_bytes(b"not a recording at all " * 100)
    other = tmp / "week.xyz"
    other.write_bytes(b"1,2,3\n")
    empty = tmp / "empty.cwa"
    empty.write_bytes(b"")
    cut = tmp / "cut.cwa"
    cut.write_bytes(AX3.read_bytes()[:1300])  # header + part of one sector
    return {
        "not a recording": (junk, "not a CWA file"),
        "unknown format": (other, "unknown recording type"),
        "empty": (empty, "empty file"),
        "truncated beyond use": (cut, "no readable data"),
        "clock years off": (_csv(tmp / "old.csv", 788_918_400.0), "years off"),
    }


@pytest.mark.parametrize("case", ["not a recording", "unknown format", "empty",
                                  "truncated beyond use", "clock years off"])
def test_bad_input_is_one_line_exit_2_nothing_stored(
        case: str, data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path, words = _bad_inputs(tmp_path)[case]
    assert _run(data_dir, path) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith("movereg import: error: ") and words in err[0]
    assert "Traceback" not in err[0]
    n, statuses = _held(data_dir)
    assert n == 0 and set(statuses) <= {"failed"}


def test_over_the_size_limit(data_dir: Path, monkeypatch: pytest.MonkeyPatch,
                             capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("MOVEREG_IMPORT_MAX_BYTES", "10000")
    assert _run(data_dir, AX3) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "over the import limit" in err[0]
    assert _held(data_dir) == (0, [])


def test_span_inside_an_earlier_import(data_dir: Path, tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(data_dir, AX3) == 0
    capsys.readouterr()
    assert _run(data_dir, cut_cwa(tmp_path / "part.cwa", 50)) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "already in the record from the same device" in err[0]
    assert _held(data_dir) == (176, ["failed", "done"])


def test_unknown_child_and_zone(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["import", str(AX3), "--data-dir", str(data_dir), "--child", "C-ZZZZZZ"]) == 2
    assert "no child with code" in capsys.readouterr().err
    assert _run(data_dir, AX3, extra=("--tz", "Mars/Olympus")) == 2
    assert _held(data_dir) == (0, [])


def test_several_files_one_bad(data_dir: Path, tmp_path: Path,
                               capsys: pytest.CaptureFixture[str]) -> None:
    empty = tmp_path / "e.cwa"
    empty.write_bytes(b"")
    assert _run(data_dir, empty, AX3) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and "empty file" in err[0] and "176 epochs" in err[1]
    assert _held(data_dir)[0] == 176
