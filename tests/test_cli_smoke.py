"""The CLI entry point exists and reports usage errors without a traceback."""

from __future__ import annotations

import subprocess
import sys

import pytest

from movereg.cli import main


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert "movereg" in capsys.readouterr().out


def test_module_entry_point_runs() -> None:
    proc = subprocess.run([sys.executable, "-m", "movereg", "--help"],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0
    assert "not a medical device" in " ".join(proc.stdout.split())
    assert "Traceback" not in proc.stderr
