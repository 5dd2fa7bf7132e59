"""Fixtures for the import tests: a store, a child, the real AX3 file (tests/data/devices)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from movereg.storage import Child, Store

AX3 = Path(__file__).resolve().parents[1] / "data" / "devices" / "ax3_testfile.cwa"
#: The AX3 file's first sample with Europe/London (README of tests/data/devices), UTC ns.
AX3_FIRST_NS = 1551178506000488281


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "movereg.sqlite3") as st:
        yield st


@pytest.fixture
def child(store: Store) -> Child:
    return store.create_child(display_name="Ann")


def cut_cwa(dst: Path, sectors: int) -> Path:
    """The real AX3 file cut after ``sectors`` data sectors (at a sector boundary)."""
    data = AX3.read_bytes()
    dst.write_bytes(data[:1024 + 512 * sectors])
    return dst
