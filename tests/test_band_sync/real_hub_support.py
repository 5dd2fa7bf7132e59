"""A real app with the real hub and the demo's simulated bands (not a test module)."""

from __future__ import annotations

import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from h5_api_support import PASSWORD

from movereg.config import Settings
from movereg.dashboard import auth as auth_mod
from movereg.dashboard.app import create_app
from movereg.storage import Store

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

__all__ = ["RealHub", "real_hub"]


@dataclass
class RealHub:
    """The running app: client, a therapist's headers, one child on her caseload."""

    client: TestClient
    h: dict[str, str]
    kid: int
    store: Store

    @property
    def hub(self) -> Any:
        return self.client.app.state.hub  # type: ignore[attr-defined]

    @property
    def links(self) -> Any:
        """The hub's band factory and the sync service's opener (BandLinks)."""
        return self.client.app.state.band_sync.opener  # type: ignore[attr-defined]

    def connect_as_demo(self, seed: int, device_id: str, **options: Any) -> str:
        """Connect a simulated band as ``movereg demo`` does (seed and device id apart)."""
        return str(self.client.portal.call(partial(  # type: ignore[union-attr]
            self.hub.connect, f"sim:{seed}", child_id=self.kid, device_id=device_id,
            options=options)))

    def status(self, dev: str) -> Any:
        return {s.device_id: s for s in self.hub.status()}[dev]

    def wait_streaming(self, dev: str, timeout_s: float = 30.0) -> Any:
        """The band's status once it streams (with its battery read), or the last one."""
        deadline = time.monotonic() + timeout_s
        while True:
            st = self.status(dev)
            if (st.state == "streaming" and st.battery_pct is not None) \
                    or time.monotonic() > deadline:
                return st
            time.sleep(0.2)

    def sync(self, dev: str) -> dict[str, Any]:
        """Sync now, waited for: the finished progress."""
        r = self.client.post(f"/api/bands/{dev}/sync", headers=self.h)
        assert r.status_code == 202, r.text
        for _ in range(600):
            s: dict[str, Any] = self.client.get(f"/api/bands/{dev}/sync", headers=self.h).json()
            if not s["running"]:
                break
            time.sleep(0.05)
        return s


@contextmanager
def real_hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[RealHub]:
    """The app on a real store and hub; therapist ``tess`` with child Kai."""
    from argon2 import PasswordHasher

    monkeypatch.setattr(auth_mod, "_hasher",
                        PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    settings = Settings(data_dir=tmp_path / "data", band_sync_interval_min=0)
    store = Store(settings.db_path)
    kid = store.create_child(display_name="Kai").id
    ther = store.create_user("tess", auth_mod.hash_password(PASSWORD), "therapist")
    store.link_user_child(ther.id, kid)
    token = store.create_token(ther.id, "bearer", 3600)[0]
    try:
        with TestClient(create_app(settings, store=store)) as c:
            yield RealHub(c, {"Authorization": f"Bearer {token}"}, kid, store)
    finally:
        store.close()
