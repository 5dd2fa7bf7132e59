"""Login, cookies, CSRF, bearer tokens, rate limiting, logout, the public-bind guard."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from h5_api_support import PASSWORD, Api, make_api

from movereg.config import Settings
from movereg.dashboard.app import check_bind
from movereg.dashboard.auth import (
    CSRF_COOKIE,
    SESSION_COOKIE,
    LoginLimiter,
    hash_password,
    verify_password,
)
from movereg.errors import ConfigError, ValidationError
from movereg.storage import Store


@pytest.fixture
def api(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Api]:
    yield from make_api(tmp_path, monkeypatch)


def test_login_sets_hardened_cookies(api: Api) -> None:
    r = api.client.post("/api/auth/login", json={"username": "tess", "password": PASSWORD})
    assert r.status_code == 200
    cookies = r.headers.get_list("set-cookie")
    session = next(c for c in cookies if c.startswith(SESSION_COOKIE + "="))
    csrf = next(c for c in cookies if c.startswith(CSRF_COOKIE + "="))
    assert "HttpOnly" in session and "SameSite=strict" in session
    assert "HttpOnly" not in csrf and "SameSite=strict" in csrf
    assert "Secure" not in session  # settings.secure_cookies is off in tests
    assert r.json()["user"]["role"] == "therapist"
    assert api.client.get("/api/auth/me").json()["username"] == "tess"


def test_cookie_posts_need_the_csrf_header(api: Api) -> None:
    csrf = api.login("tess")
    body = {"child_id": api.child_a.id, "strategy": "mov.break"}
    r = api.client.post("/api/events", json=body)
    assert r.status_code == 403 and "CSRF" in r.json()["detail"]
    r = api.client.post("/api/events", json=body, headers={"X-CSRF-Token": "wrong"})
    assert r.status_code == 403
    r = api.client.post("/api/events", json=body, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 201
    assert api.client.cookies.get(CSRF_COOKIE) == csrf


def test_bearer_needs_no_csrf_and_bad_tokens_are_401(api: Api) -> None:
    body = {"child_id": api.child_a.id, "strategy": "mov.break"}
    assert api.client.post("/api/events", json=body, headers=api.h("tess")).status_code == 201
    for header in ("Bearer nope", "Basic abc", "Bearer "):
        r = api.client.get("/api/children", headers={"Authorization": header})
        assert r.status_code == 401
        assert r.headers["www-authenticate"] == "Bearer"


def test_wrong_password_and_rate_limit(api: Api) -> None:
    for _ in range(5):
        r = api.client.post("/api/auth/login", json={"username": "tess", "password": "nope"})
        assert r.status_code == 401
    r = api.client.post("/api/auth/login", json={"username": "tess", "password": PASSWORD})
    assert r.status_code == 429 and int(r.headers["retry-after"]) > 0
    r = api.client.post("/api/auth/login", json={"username": "ghost", "password": "x"})
    assert r.status_code == 401  # #21: throttled per (account, address), not per address
    outcomes = [(e.action, e.outcome) for e in api.store.list_audit(limit=10)]
    assert ("login", "failed") in outcomes and ("login", "refused") in outcomes


def test_unknown_user_and_disabled_user_cannot_log_in(api: Api) -> None:
    r = api.client.post("/api/auth/login", json={"username": "ghost", "password": PASSWORD})
    assert r.status_code == 401
    api.store.set_user_disabled(api.store.find_user("pat").id, True)  # type: ignore[union-attr]
    r = api.client.post("/api/auth/login", json={"username": "pat", "password": PASSWORD})
    assert r.status_code == 401
    assert api.client.get("/api/children", headers=api.h("pat")).status_code == 401


def test_logout_ends_the_session(api: Api) -> None:
    csrf = api.login("tess")
    assert api.client.post("/api/auth/logout", headers={"X-CSRF-Token": csrf}).status_code == 204
    api.client.cookies.clear()
    assert api.client.get("/api/auth/me").status_code == 401


def test_form_login_redirects_only_within_the_site(api: Api) -> None:
    r = api.client.post("/api/auth/login/form", follow_redirects=False,
                        data={"username": "tess", "password": PASSWORD, "next": "/live"})
    assert r.status_code == 303 and r.headers["location"] == "/live"
    r = api.client.post("/api/auth/login/form", follow_redirects=False,
                        data={"username": "tess", "password": PASSWORD,
                              "next": "//evil.example/"})
    assert r.headers["location"] == "/"
    r = api.client.post("/api/auth/login/form", follow_redirects=False,
                        data={"username": "tess", "password": "wrong"})
    assert r.status_code == 303 and r.headers["location"].startswith("/login?error")


def test_bearer_token_issue_needs_the_password(api: Api) -> None:
    r = api.client.post("/api/auth/tokens", json={"password": "wrong"}, headers=api.h("rae"))
    assert r.status_code == 401
    r = api.client.post("/api/auth/tokens", json={"password": PASSWORD, "ttl_hours": 1},
                        headers=api.h("rae"))
    assert r.status_code == 201
    tok = r.json()["token"]
    me = api.client.get("/api/auth/me", headers={"Authorization": f"Bearer {tok}"})
    assert me.json()["username"] == "rae"


def test_idle_session_logs_out(api: Api) -> None:
    api.login("tess")
    api.settings.session_idle_logout_min = 1e-9
    assert api.client.get("/api/auth/me").status_code == 401


def test_security_headers(api: Api) -> None:
    r = api.client.get("/api/health")
    assert r.status_code == 200
    assert "default-src 'none'" in r.headers["content-security-policy"]
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["cache-control"] == "no-store"


def test_password_rules_and_hashing() -> None:
    with pytest.raises(ValidationError):
        hash_password("short")
    with pytest.raises(ValidationError):
        hash_password("aaaaaaaaaaaaaaa")
    h = hash_password(PASSWORD)
    assert h.startswith("$argon2id$")
    assert verify_password(h, PASSWORD) and not verify_password(h, PASSWORD + "x")
    assert not verify_password(None, PASSWORD)
    assert not verify_password("garbage", PASSWORD)


def test_limiter_window() -> None:
    lim = LoginLimiter(max_failures=2, window_s=1000)
    lim.failed("u:a")
    assert lim.retry_after("u:a") == 0
    lim.failed("u:a")
    assert lim.retry_after("u:a") > 0
    lim.succeeded("u:a")
    assert lim.retry_after("u:a") == 0


def test_public_bind_without_users_is_refused(tmp_path: Path) -> None:
    with Store(tmp_path / "m.sqlite3") as store:
        check_bind(Settings(data_dir=tmp_path, host="127.0.0.1"), store)
        check_bind(Settings(data_dir=tmp_path, host="::1"), store)
        with pytest.raises(ConfigError, match="no users"):
            check_bind(Settings(data_dir=tmp_path, host="0.0.0.0"), store)
        store.create_user("ada", hash_password(PASSWORD), "admin")
        check_bind(Settings(data_dir=tmp_path, host="0.0.0.0"), store)


def test_serve_refuses_public_bind_without_users(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    from movereg.cli import main

    rc = main(["serve", "--host", "0.0.0.0", "--data-dir", str(tmp_path)])
    assert rc == 2
    err = capsys.readouterr().err
    assert "no users" in err and "movereg user add" in err


def test_pages_csp_forbids_other_origins_and_inline_scripts(api: Api) -> None:
    r = api.client.get("/static/does-not-exist.js")
    csp = r.headers["content-security-policy"]
    assert "script-src 'self';" in csp and "unsafe-inline' 'unsafe-eval" not in csp
    assert "frame-ancestors 'none'" in csp and "http" not in csp
