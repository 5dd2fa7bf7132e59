"""Helpers for the import tests (not a test module): the real AX3 file and cuts of it."""

from __future__ import annotations

from pathlib import Path

AX3 = Path(__file__).resolve().parents[1] / "data" / "devices" / "ax3_testfile.cwa"
#: The AX3 file's first sample with Europe/London (README of tests/data/devices), UTC ns.
AX3_FIRST_NS = 1551178506000488281


def cut_cwa(dst: Path, sectors: int) -> Path:
    """The real AX3 file cut after ``sectors`` data sectors (at a sector boundary)."""
    data = AX3.read_bytes()
    dst.write_bytes(data[:1024 + 512 * sectors])
    return dst
