"""Fixtures for the import tests: a store and a child."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from movereg.storage import Child, Store

# the API tests reuse the dashboard tests' app + users fixture builder (h5_api_support),
# the browser tests' launch policy (tests/e2e/test_browser.py) and the relay tests' helpers
for _sub in ("test_dashboard", "e2e", "test_relay"):
    _dir = str(Path(__file__).resolve().parents[1] / _sub)
    if _dir not in sys.path:
        sys.path.append(_dir)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "movereg.sqlite3") as st:
        yield st


@pytest.fixture
def child(store: Store) -> Child:
    return store.create_child(display_name="Ann")
