"""Fixtures for the API tests (not a test module): a real app on a real SQLite file in
tmp_path, a fake hub, and one user per role with bearer tokens."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from argon2 import PasswordHasher

with warnings.catch_warnings():  # starlette asks for httpx2; httpx works
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from movereg.config import Settings
from movereg.dashboard import auth as auth_mod
from movereg.dashboard.app import create_app
from movereg.models import BandState, BandStatus
from movereg.signal import EpochTable
from movereg.signal.schema import EPOCH_COLUMNS
from movereg.storage import Child, IngestBatch, Store

__all__ = ["PASSWORD", "Api", "FakeHub", "epoch_table", "make_api"]

PASSWORD = "correct horse battery staple"
T0 = 1_750_000_000 * 10**9


class FakeHub:
    """Records calls; behaves like movereg.pipeline.Hub for the routes."""

    def __init__(self) -> None:
        self.connected: dict[str, dict[str, Any]] = {}
        self.published: list[dict[str, Any]] = []
        self.n = 0

    async def connect(self, target: str, *, child_id: int | None = None,
                      session_id: int | None = None) -> str:
        self.n += 1
        dev = target if not target.startswith("sim") else f"sim-{self.n}"
        self.connected[dev] = {"child_id": child_id, "session_id": session_id}
        return dev

    async def disconnect(self, device_id: str) -> None:
        from movereg.errors import NotFoundError

        if self.connected.pop(device_id, None) is None:
            raise NotFoundError(f"device {device_id} is not connected")

    def status(self) -> list[BandStatus]:
        return [BandStatus(device_id=d, family="simulated", state=BandState.STREAMING,
                           rate_hz=52.0, battery_pct=80, last_data_ns=T0)
                for d in self.connected]

    def publish_event(self, message: dict[str, Any]) -> None:
        self.published.append(message)

    async def scan(self, timeout_s: float) -> list[Any]:
        return [SimpleNamespace(address="AA:BB:CC:DD:EE:FF", name="Polar Verity",
                                family="polar_pmd", rssi=-60)]


@dataclass
class Api:
    client: TestClient
    store: Store
    hub: FakeHub
    settings: Settings
    child_a: Child      # on tess's caseload; pat's child
    child_b: Child      # on theo's caseload; paula's child
    tokens: dict[str, str] = field(default_factory=dict)   # username -> bearer token
    role_user: dict[str, str] = field(default_factory=dict)  # role -> username

    def h(self, who: str | None) -> dict[str, str]:
        """Bearer headers for a role name or username (None: anonymous)."""
        if who is None:
            return {}
        name = self.role_user.get(who, who)
        return {"Authorization": f"Bearer {self.tokens[name]}"}

    def login(self, username: str) -> str:
        """Cookie login on the client; returns the CSRF token."""
        r = self.client.post("/api/auth/login", json={"username": username,
                                                      "password": PASSWORD})
        assert r.status_code == 200, r.text
        return str(r.json()["csrf_token"])


def epoch_table(t0_ns: int, n: int, *, enmo: np.ndarray | None = None) -> EpochTable:
    """Schema-complete epochs of 1 s."""
    rng = np.random.default_rng(0)
    cols: dict[str, np.ndarray] = {}
    for name, dtype in EPOCH_COLUMNS:
        cols[name] = (rng.random(n) if np.dtype(dtype).kind == "f"
                      else rng.integers(0, 3, n)).astype(dtype)
    cols["epoch_start"] = t0_ns + np.arange(n, dtype=np.int64) * 10**9
    cols["epoch_s"] = np.ones(n)
    cols["coverage"] = np.ones(n)
    if enmo is not None:
        cols["enmo_mg"] = np.asarray(enmo, dtype=float)
    return EpochTable(cols)


USERS = {"ada": "admin", "tess": "therapist", "theo": "therapist", "pat": "parent",
         "paula": "parent", "rae": "researcher"}


def make_api(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
             **app_kw: Any) -> Iterator[Api]:
    """Build, seed and yield an Api (``app_kw``: more :func:`create_app` arguments);
    closes on exit."""
    monkeypatch.setattr(auth_mod, "_hasher",
                        PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    settings = Settings(data_dir=tmp_path / "data")
    store = Store(settings.db_path)
    ids = {}
    for name, role in USERS.items():
        ids[name] = store.create_user(name, auth_mod.hash_password(PASSWORD), role).id
    a = store.create_child(code="KID-A", display_name="Robin")
    b = store.create_child(code="KID-B", display_name="Sky")
    for user, child in (("tess", a), ("pat", a), ("theo", b), ("paula", b)):
        store.link_user_child(ids[user], child.id)
    # research consent: A's family agreed to features and raw samples, B's to features
    store.record_consent(a.id, consented=True, scope="features+raw", recorded_by="tess")
    store.record_consent(b.id, consented=True, scope="features", recorded_by="theo")
    store.write_batch(IngestBatch(epochs=[
        ("dev-a", epoch_table(T0, 600, enmo=np.r_[np.full(300, 5.0), np.full(300, 80.0)])),
        ("dev-b", epoch_table(T0, 600))]))
    store.assign_device("dev-a", a.id, at_ns=T0 - 10**9)
    store.assign_device("dev-b", b.id, at_ns=T0 - 10**9)
    hub = FakeHub()
    app = create_app(settings, hub=hub, store=store, **app_kw)
    tokens = {name: store.create_token(uid, "bearer", 3600)[0] for name, uid in ids.items()}
    role_user = {"admin": "ada", "therapist": "tess", "parent": "pat", "researcher": "rae"}
    with TestClient(app) as client:
        # bands that record on their own (#23): the test bands answer as fake recorders
        from band_fakes import FakeOpener, FakeRecorder

        app.state.band_sync.opener = FakeOpener(*(FakeRecorder(d) for d in
                                                  ("dev-a", "dev-b", "dev-free")))
        yield Api(client, store, hub, settings, a, b, tokens, role_user)
    store.close()
