"""Fixtures for the relay tests: the dashboard tests' app (h5_api_support) and the band-sync
tests' fake bands (band_fakes)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

for _sub in ("test_dashboard", "test_band_sync", "test_imports"):
    _dir = str(Path(__file__).resolve().parents[1] / _sub)
    if _dir not in sys.path:
        sys.path.append(_dir)

from h5_api_support import Api, make_api  # noqa: E402


@pytest.fixture
def api(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Api]:
    yield from make_api(tmp_path, monkeypatch)
