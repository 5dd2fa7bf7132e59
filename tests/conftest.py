"""Fixtures shared across test folders."""

from __future__ import annotations

import contextlib
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

__all__ = ["fill_disk", "small_fs"]

FillDisk = Callable[[Path], Path]


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path]:
    """A 12 MiB tmpfs mounted for the test (skipped, with the reason, where this process
    may not mount file systems)."""
    mnt = tmp_path / "fs"
    mnt.mkdir()
    try:
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=12m,mode=0700", "tmpfs",
                            str(mnt)], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        pytest.skip(f"cannot mount a small tmpfs here ({exc}): disk-full test skipped")
    if r.returncode != 0:
        pytest.skip("cannot mount a small tmpfs here (needs root or CAP_SYS_ADMIN: "
                    f"{r.stderr.strip()}): disk-full test skipped")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True, timeout=30,
                       check=False)


@pytest.fixture
def fill_disk() -> FillDisk:
    """``fill_disk(where)`` writes a file in ``where`` until the file system is full and
    returns its path."""
    return _fill


def _fill(where: Path) -> Path:
    filler = where / f"filler-{uuid.uuid4().hex}"
    with open(filler, "wb", buffering=0) as fh:
        for size in (65536, 512, 1):
            with contextlib.suppress(OSError):
                while True:
                    fh.write(b"\0" * size)
    return filler
