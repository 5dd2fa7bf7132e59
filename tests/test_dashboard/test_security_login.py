"""Hole 5 of issue #21 (login throttling) and the session rules (logout, password change
and deactivation end every session and token; lifetimes are settings)."""

from __future__ import annotations

import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from h5_api_support import PASSWORD, Api, make_api

from movereg.dashboard import auth as auth_mod


@pytest.fixture
def api(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Api]:
    yield from make_api(tmp_path, monkeypatch)


def _client_at(api: Api, address: str) -> object:
    from fastapi.testclient import TestClient

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return TestClient(api.client.app, client=(address, 40000))


def _login(client: object, username: str, password: str, **kw: object) -> int:
    r = client.post("/api/auth/login",  # type: ignore[attr-defined]
                    json={"username": username, "password": password}, **kw)
    return int(r.status_code)


# --- hole 5: throttling ----------------------------------------------------------------
def test_failures_never_lock_the_account_or_the_address(api: Api) -> None:
    attacker, clinic, colleague = (_client_at(api, a) for a in
                                   ("198.51.100.7", "192.0.2.10", "198.51.100.7"))
    for _ in range(5):
        assert _login(attacker, "tess", "nope") == 401
    r = attacker.post("/api/auth/login",  # type: ignore[attr-defined]
                      json={"username": "tess", "password": PASSWORD})
    assert r.status_code == 429 and 1 <= int(r.headers["retry-after"]) <= 60
    # the right password from the clinic's own address still works at once
    assert _login(clinic, "tess", PASSWORD) == 200
    # and another account behind the attacker's (shared) address is not affected
    assert _login(colleague, "pat", PASSWORD) == 200


def test_delays_grow_and_are_forgotten() -> None:
    lim = auth_mod.LoginLimiter(max_failures=2, window_s=1000, base_s=1.0, max_delay_s=8.0)
    assert [lim.delay_s(n) for n in range(8)] == [0, 0, 1, 2, 4, 8, 8, 8]
    lim.failed("k")
    lim.failed("k")
    assert 0 < lim.retry_after("k") <= 1.0
    lim.failed("k")
    assert 1.0 < lim.retry_after("k") <= 2.0
    assert lim.retry_after("other") == 0
    lim.succeeded("k")
    assert lim.retry_after("k") == 0
    short = auth_mod.LoginLimiter(max_failures=0, window_s=0.0)
    short.failed("k")
    time.sleep(0.01)
    assert short.retry_after("k") == 0      # forgotten after the window


def test_forwarded_for_is_believed_only_from_configured_proxies(api: Api) -> None:
    client_address = auth_mod.client_address
    assert client_address("203.0.113.5", "1.2.3.4", []) == "203.0.113.5"
    assert client_address("203.0.113.5", "1.2.3.4", ["10.0.0.0/8"]) == "203.0.113.5"
    assert client_address("10.0.0.2", "1.2.3.4, 10.0.0.9", ["10.0.0.0/8"]) == "1.2.3.4"
    assert client_address("10.0.0.2", "not-an-ip", ["10.0.0.0/8"]) == "10.0.0.2"
    # a forged header from a direct client does not buy fresh attempts
    attacker = _client_at(api, "198.51.100.7")
    for i in range(5):
        assert _login(attacker, "tess", "nope", headers={"X-Forwarded-For": f"10.9.9.{i}"}) \
            == 401
    assert _login(attacker, "tess", "nope", headers={"X-Forwarded-For": "10.9.9.99"}) == 429
    # behind a configured proxy, each forwarded client is throttled on its own
    api.settings.trusted_proxies = ["192.0.2.0/24"]
    proxy = _client_at(api, "192.0.2.1")
    for _ in range(5):
        assert _login(proxy, "pat", "nope", headers={"X-Forwarded-For": "203.0.113.1"}) == 401
    assert _login(proxy, "pat", "nope", headers={"X-Forwarded-For": "203.0.113.1"}) == 429
    assert _login(proxy, "pat", PASSWORD, headers={"X-Forwarded-For": "203.0.113.2"}) == 200


def test_refused_logins_are_aggregated_without_attacker_names(api: Api) -> None:
    before = len(api.store.list_audit(limit=1000))
    attacker = _client_at(api, "198.51.100.7")
    for i in range(20):
        _login(attacker, f"=evil{i}" if i % 2 else "tess", "nope")
    written = api.store.list_audit(limit=1000)[: len(api.store.list_audit(limit=1000)) - before]
    assert len(written) <= 4, [(e.action, e.outcome, e.detail) for e in written]
    assert not any("evil" in e.detail for e in written)
    # an admin reading the log flushes the counts so far: every attempt is accounted for
    api.client.get("/api/audit", headers=api.h("admin"))
    rows = [e for e in api.store.list_audit(limit=1000) if e.action == "login"
            and e.outcome in ("failed", "refused")]
    import json

    total = sum(json.loads(e.detail)["attempts"] for e in rows)
    assert total == 20
    assert sum(json.loads(e.detail)["unknown_names"] for e in rows) == 10
    assert all(json.loads(e.detail)["address"] == "198.51.100.7" for e in rows)


# --- sessions ----------------------------------------------------------------------------
def _cookie_client(api: Api, who: str) -> tuple[object, str]:
    c = _client_at(api, "192.0.2.20")
    r = c.post("/api/auth/login", json={"username": who, "password": PASSWORD})  # type: ignore[attr-defined]
    assert r.status_code == 200
    return c, str(r.json()["csrf_token"])


def _me(client: object, headers: dict[str, str] | None = None) -> int:
    return int(client.get("/api/auth/me", headers=headers or {}).status_code)  # type: ignore[attr-defined]


def test_logout_ends_every_session_and_token(api: Api) -> None:
    tablet, csrf = _cookie_client(api, "tess")
    phone, _ = _cookie_client(api, "tess")
    bearer = api.h("tess")
    assert _me(tablet) == _me(phone) == _me(api.client, bearer) == 200
    r = tablet.post("/api/auth/logout", headers={"X-CSRF-Token": csrf})  # type: ignore[attr-defined]
    assert r.status_code == 204
    assert _me(tablet) == _me(phone) == _me(api.client, bearer) == 401
    assert _me(api.client, api.h("pat")) == 200            # other users untouched


def test_password_change_ends_every_session_and_token(api: Api) -> None:
    tablet, csrf = _cookie_client(api, "pat")
    phone, _ = _cookie_client(api, "pat")
    url, h = "/api/auth/password", {"X-CSRF-Token": csrf}
    new = "a different long passphrase"
    r = tablet.post(url, json={"current_password": "wrong one!!", "new_password": new},  # type: ignore[attr-defined]
                    headers=h)
    assert r.status_code == 401 and _me(tablet) == 200
    r = tablet.post(url, json={"current_password": PASSWORD, "new_password": "short"},  # type: ignore[attr-defined]
                    headers=h)
    assert r.status_code == 422 and "10 characters" in r.json()["detail"]
    r = tablet.post(url, json={"current_password": PASSWORD, "new_password": new})  # type: ignore[attr-defined]
    assert r.status_code == 403                                 # CSRF header required
    r = tablet.post(url, json={"current_password": PASSWORD, "new_password": new}, headers=h)  # type: ignore[attr-defined]
    assert r.status_code == 204
    assert _me(tablet) == _me(phone) == _me(api.client, api.h("pat")) == 401
    assert _login(api.client, "pat", PASSWORD) == 401
    assert _login(api.client, "pat", new) == 200
    assert any(e.action == "password.change" for e in api.store.list_audit(limit=5))


def test_deactivation_ends_every_session_and_token(api: Api) -> None:
    phone, _ = _cookie_client(api, "pat")
    r = api.client.patch("/api/users/pat", json={"disabled": True}, headers=api.h("admin"))
    assert r.status_code == 200
    assert _me(phone) == _me(api.client, api.h("pat")) == 401


def test_lifetimes_are_settings(api: Api) -> None:
    api.settings.session_ttl_hours = 2.0
    r = api.client.post("/api/auth/login", json={"username": "tess", "password": PASSWORD})
    from datetime import datetime

    left = datetime.fromisoformat(r.json()["expires_at"]).timestamp() - time.time()
    assert 2 * 3600 - 60 < left <= 2 * 3600
    api.settings.bearer_ttl_max_hours = 24.0
    r = api.client.post("/api/auth/tokens", json={"password": PASSWORD, "ttl_hours": 48},
                        headers=api.h("tess"))
    assert r.status_code == 422 and "24 h" in r.json()["detail"]
    r = api.client.post("/api/auth/tokens", json={"password": PASSWORD, "ttl_hours": 12},
                        headers=api.h("tess"))
    token = r.json()["token"]
    assert _me(api.client, {"Authorization": f"Bearer {token}"}) == 200
    # a bearer token idle for longer than the setting ends
    api.settings.bearer_idle_timeout_min = 5.0
    import sqlite3

    con = sqlite3.connect(api.settings.db_path)
    con.execute("UPDATE api_tokens SET last_seen = last_seen - ?", (6 * 60 * 10**9,))
    con.commit()
    con.close()
    assert _me(api.client, {"Authorization": f"Bearer {token}"}) == 401


def test_password_page(api: Api) -> None:
    r = api.client.get("/account/password", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    api.login("pat")
    r = api.client.get("/account/password")
    assert r.status_code == 200 and 'id="pw-form"' in r.text
    assert '<script src="/static/password.js"></script>' in r.text
    assert "<script>" not in r.text                   # no inline script under the CSP
    assert api.client.get("/static/password.js").status_code == 200
    assert 'href="/account/password"' in api.client.get("/day").text
