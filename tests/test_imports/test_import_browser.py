"""A therapist adds the real AX3 file in real Chromium (1024x768), sees the progress, finds
the span on the child's day page labelled with its source, and adding it again says it is
already there; a parent of another child cannot reach the upload. Screenshots go to
``test-artifacts/``. Never downloads a browser."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from e2e_support import ARGS, ARTIFACTS, CHROMIUM  # tests/e2e: the one launch policy
from imports_support import AX3, Server, seed_users
from test_browser import _login as e2e_login

from movereg.storage import Store

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]

PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, dict[str, Any]]]:
    if not Path(CHROMIUM).exists() and shutil.which("chromium") is None:
        pytest.skip("Debian's chromium is not installed (make browser-deps)")
    pytest.importorskip("playwright.sync_api", reason="playwright (Python package) missing")
    data = tmp_path_factory.mktemp("imports") / "data"
    ids = seed_users(data / "movereg.sqlite3", {"tess": "therapist"}, PASSWORD)
    from movereg.dashboard.auth import hash_password

    with Store(data / "movereg.sqlite3") as st:  # paula: the parent of another child
        other = st.create_child(code="KID-B", display_name="Sky")
        uid = st.create_user("paula", hash_password(PASSWORD), "parent").id
        st.link_user_child(uid, other.id)
        st.set_child_settings(ids["child"], by="test", tz="Europe/London")
    server = Server(data).start()
    try:
        yield server, ids
    finally:
        server.stop()


@pytest.fixture(scope="module")
def browser(site: Any) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    exe = CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium")
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=exe, args=ARGS)
        yield b
        b.close()


def _login(page: Any, base: str, path: str, user: str) -> None:
    e2e_login(page, base, path, user, PASSWORD)


_WATCH = """() => { window.__seen = [];
  const bar = document.getElementById('import-progress');
  new MutationObserver(() => window.__seen.push(Number(bar.value)))
    .observe(bar, {attributes: true});
  const phase = document.getElementById('import-phase');
  window.__phases = [];
  new MutationObserver(() => window.__phases.push(phase.textContent))
    .observe(phase, {childList: true, characterData: true, subtree: true}); }"""


def test_therapist_adds_the_ax3_file(site: Any, browser: Any) -> None:
    server, ids = site
    ARTIFACTS.mkdir(exist_ok=True)
    base = server.url
    # the browser is in another zone: the field is the child's setting, not the browser's
    ctx = browser.new_context(viewport={"width": 1024, "height": 768},
                              timezone_id="America/New_York", locale="en-GB")
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    path = f"/children/{ids['child']}/imports"
    _login(page, base, path, "tess")
    assert page.input_value("#import-tz") == "Europe/London"  # the child's setting
    page.screenshot(path=str(ARTIFACTS / "import-0-form.png"), full_page=True)
    page.evaluate(_WATCH)
    page.set_input_files("#import-file", str(AX3))
    page.click("#import-go")
    page.wait_for_function("() => document.getElementById('import-result').textContent"
                           ".includes('Added')", timeout=120_000)
    seen = page.evaluate("window.__seen")
    phases = " | ".join(page.evaluate("window.__phases"))
    assert seen and max(seen) == 100, seen
    assert "Uploading ax3_testfile.cwa" in phases and "Done." in phases, phases
    result = page.inner_text("#import-result")
    assert "176 epochs from the Axivity AX3 file ax3_testfile.cwa added" in result
    page.screenshot(path=str(ARTIFACTS / "import-1-added.png"), full_page=True)

    page.click("#import-result a")  # "Show the day"
    page.wait_for_url(re.compile(r"/day\?child=\d+&day=2019-02-26"))
    sources = page.inner_text("ul.sources")
    assert "10:55–10:58: from the Axivity AX3 file ax3_testfile.cwa added" in sources
    assert "Band worn for" in page.inner_text("#h-data + p, section[aria-labelledby=h-data]")
    page.screenshot(path=str(ARTIFACTS / "import-2-day.png"), full_page=True)
    # the week page names the import on that day (#22)
    page.goto(base + f"/week?child={ids['child']}&end=2019-02-28&tz=Europe/London")
    week_sources = page.inner_text("ul.week-sources")
    assert "Tue 26 Feb: 10:55–10:58 from the Axivity AX3 file ax3_testfile.cwa" in \
        week_sources, week_sources
    page.screenshot(path=str(ARTIFACTS / "import-2b-week.png"), full_page=True)

    page.goto(base + path)
    assert "ax3_testfile.cwa" in page.inner_text("table.imports")
    page.set_input_files("#import-file", str(AX3))
    page.click("#import-go")
    page.wait_for_function("() => document.getElementById('import-result').textContent"
                           ".includes('already')", timeout=60_000)
    assert "already in the record" in page.inner_text("#import-result")
    page.screenshot(path=str(ARTIFACTS / "import-3-again.png"), full_page=True)
    assert page.locator("table.imports tbody tr").count() == 1
    assert errors == []
    ctx.close()


def test_parent_of_another_child_cannot_upload(site: Any, browser: Any) -> None:
    server, ids = site
    ctx = browser.new_context(viewport={"width": 390, "height": 844})
    page = ctx.new_page()
    _login(page, server.url, "/day", "paula")
    resp = page.goto(f"{server.url}/children/{ids['child']}/imports")
    assert resp is not None and resp.status == 404
    status = page.evaluate("""async (id) => {
        const fd = new FormData();
        fd.append('file', new Blob(['x']), 'a.cwa');
        const r = await fetch('/api/children/' + id + '/imports', {method: 'POST', body: fd,
            headers: {'X-CSRF-Token': window.movereg.cookie('movereg_csrf')}});
        return r.status; }""", ids["child"])
    assert status == 404
    ctx.close()
