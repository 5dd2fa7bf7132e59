"""Helpers for the relay tests (not a test module)."""

from __future__ import annotations

import time
from typing import Any

from h5_api_support import Api

from movereg.relay import RelayClient


def relay_token(api: Api, *children: int) -> str:
    """A relay token for ``children`` (default: child A), made by the admin's API."""
    kids = list(children) or [api.child_a.id]
    r = api.client.post("/api/relay-tokens", headers=api.h("admin"),
                        json={"name": "the Robins' home", "child_ids": kids})
    assert r.status_code == 201, r.text
    return str(r.json()["token"])


def client_for(api: Api, token: str, **kw: Any) -> RelayClient:
    """A relay client that talks to the in-process app."""
    return RelayClient("http://testserver", token,
                       transport=api.client._transport, **kw)  # type: ignore[attr-defined]


def wait_imports(api: Api, child_id: int, n: int, timeout_s: float = 120.0) -> list[Any]:
    """Wait until ``n`` of the child's imports are no longer pending/running."""
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        srcs = api.store.list_sources(child_id=child_id, kind="file")
        if len(srcs) >= n and all(s.status not in ("pending", "running") for s in srcs):
            return srcs
        time.sleep(0.1)
    raise AssertionError(f"imports not finished: {api.store.list_sources(child_id=child_id)}")
