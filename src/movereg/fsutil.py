"""Durable files: flush a file (and its directory entry) to disk before acting on it;
the sha256 a file is known by."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from pathlib import Path

__all__ = ["file_sha256", "fsync_path", "write_json_atomic"]


def fsync_path(path: Path, *, with_dir: bool = True) -> None:
    """fsync ``path`` and, when ``with_dir``, its directory (so a rename or a new file
    survives a power cut; skipped where directories cannot be opened)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    if with_dir:
        with contextlib.suppress(OSError):
            dfd = os.open(Path(path).parent, os.O_RDONLY)
            try:
                os.fsync(dfd)
            finally:
                os.close(dfd)


def file_sha256(path: Path) -> str:
    """sha256 (hex) of a file, read in bounded blocks (never whole into memory)."""
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def write_json_atomic(path: Path, data: object) -> None:
    """Write ``data`` as JSON to ``path`` all at once: a ``.tmp`` beside it, flushed to
    disk, then renamed over ``path`` (a reader never sees half a file, a crash keeps the
    old one)."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(data, fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
