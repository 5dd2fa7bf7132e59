"""The sync API tests reuse the dashboard tests' app + users fixture builder; the service
tests share one store."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from movereg.storage import Store

_dir = str(Path(__file__).resolve().parents[1] / "test_dashboard")
if _dir not in sys.path:
    sys.path.append(_dir)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "movereg.sqlite3") as st:
        yield st
