"""Fixtures for the import tests: a store and a child."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from movereg.storage import Child, Store

# the API tests reuse the dashboard tests' app + users fixture builder (h5_api_support)
_DASHBOARD_TESTS = str(Path(__file__).resolve().parents[1] / "test_dashboard")
if _DASHBOARD_TESTS not in sys.path:
    sys.path.append(_DASHBOARD_TESTS)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "movereg.sqlite3") as st:
        yield st


@pytest.fixture
def child(store: Store) -> Child:
    return store.create_child(display_name="Ann")
