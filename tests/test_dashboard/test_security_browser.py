"""The change-password page in real headless Chromium (a parent's phone, 390x844)."""

from __future__ import annotations

import asyncio
import contextlib
import re
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from benchmarks.demo_proc import free_port
from h5_api_support import PASSWORD, make_api

from movereg.dashboard.app import create_app

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    if not Path(CHROMIUM).exists() and shutil.which("chromium") is None:
        pytest.skip("Debian's chromium is not installed (make browser-deps)")
    pytest.importorskip("playwright.sync_api", reason="playwright (Python package) missing")
    gen = make_api(tmp_path, monkeypatch)
    api = next(gen)
    app = create_app(api.settings, hub=api.hub, store=api.store)
    port = free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                        log_level="warning", lifespan="on"))
    thread = threading.Thread(target=lambda: asyncio.run(srv.serve()), daemon=True)
    thread.start()
    while not srv.started:
        thread.join(0.02)
        assert thread.is_alive()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        srv.should_exit = True
        thread.join(10)
        with contextlib.suppress(StopIteration):
            next(gen)


def _sign_in(page: Any, base: str, user: str, password: str) -> None:
    page.goto(base + "/login?next=%2Faccount%2Fpassword")
    page.fill("#username", user)
    page.fill("#password", password)
    page.click("button[type=submit]")


def test_parent_changes_password_in_the_browser(server: str) -> None:
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    new = "blue kite over the hill"
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM if Path(CHROMIUM).exists()
                                     else shutil.which("chromium"), args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 390, "height": 844})
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            _sign_in(page, server, "pat", PASSWORD)
            page.wait_for_url(re.compile(r"/account/password$"))
            page.fill("#current", "not my password")
            page.fill("#new1", new)
            page.fill("#new2", new)
            page.click("#pw-form button[type=submit]")
            page.wait_for_selector("#pw-msg:not([hidden])")
            assert "not right" in page.inner_text("#pw-msg")
            page.fill("#current", PASSWORD)
            page.fill("#new2", new + "x")
            page.click("#pw-form button[type=submit]")
            page.wait_for_function(
                "document.getElementById('pw-msg').textContent.includes('not the same')")
            page.fill("#new2", new)
            page.screenshot(path=str(ARTIFACTS / "password-change-phone.png"), full_page=True)
            page.click("#pw-form button[type=submit]")
            page.wait_for_url(re.compile(r"/login\?error=changed"))
            assert "password was changed" in page.inner_text("main")
            _sign_in(page, server, "pat", PASSWORD)          # the old one no longer works
            page.wait_for_url(re.compile(r"/login\?error=1"))
            _sign_in(page, server, "pat", new)
            page.wait_for_url(re.compile(r"/account/password$"))
            assert not errors, errors
        finally:
            browser.close()
