"""The pages in real headless Chromium (Debian's /usr/bin/chromium via Playwright).

Starts ``movereg demo`` (real app, real Store, real Hub with two simulated bands) on a
free loopback port, then: a therapist signs in, watches the live page receive epochs from
the simulated bands, taps a strategy, sees its marker at once, reloads and finds it
persisted, pauses and resumes updates; a parent signs in and the day summary shows only
their child. Screenshots go to ``test-artifacts/``. Never downloads a browser.
"""

from __future__ import annotations

import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    if not Path(CHROMIUM).exists() and shutil.which("chromium") is None:
        pytest.skip("Debian's chromium is not installed (make browser-deps)")
    pytest.importorskip("playwright.sync_api", reason="playwright (Python package) missing")
    from benchmarks.demo_proc import DemoProcess

    proc = DemoProcess(data_dir=tmp_path_factory.mktemp("demo"), bands=2, seed=3)
    proc.start(timeout_s=120)
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture(scope="module")
def browser(demo: Any) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM if Path(CHROMIUM).exists()
                               else shutil.which("chromium"), args=ARGS)
        try:
            yield b
        finally:
            b.close()


def _children(demo: Any) -> list[tuple[str, str]]:
    out = []
    for line in demo.lines:
        m = re.match(r"^\s*child (\S+) \(nickname (.+)\)\s*$", line)
        if m:
            out.append((m.group(1), m.group(2)))
    return out


def _login(page: Any, base: str, path: str, user: str, password: str) -> None:
    page.goto(base + path)
    assert "/login" in page.url
    page.fill("#username", user)
    page.fill("#password", password)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(re.escape(base + path)))


def _points(page: Any, child_id: str) -> int:
    return int(page.evaluate(
        "id => (document.getElementById('plot-' + id).data[0].x || []).length", child_id))


def _external_requests(page: Any, base: str) -> list[str]:
    seen: list[str] = []
    page.on("request", lambda r: seen.append(r.url) if not (
        r.url.startswith(base) or r.url.startswith(("data:", "blob:", "ws://127.0.0.1")))
        else None)
    return seen


def test_therapist_live_session_and_parent_day(demo: Any, browser: Any) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    base = demo.url
    kids = _children(demo)
    assert len(kids) == 2
    ctx = browser.new_context(viewport={"width": 1180, "height": 900},
                              timezone_id="Europe/London", locale="en-GB")
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    external = _external_requests(page, base)
    therapist, tpw = demo.logins["therapist"]
    _login(page, base, "/live", therapist, tpw)

    # --- live data arrives from the simulated bands -------------------------------------
    page.wait_for_function("document.getElementById('feed-state').textContent.includes('connected')",
                           timeout=15_000)
    tile = page.locator(".tile").first
    child_id = tile.get_attribute("data-child-id")
    assert child_id
    page.wait_for_function(
        "id => document.getElementById('plot-' + id).data[0].x.length >= 3", arg=child_id,
        timeout=30_000)
    page.wait_for_function(
        "id => document.getElementById('band-' + id).textContent.includes('streaming')",
        arg=child_id, timeout=15_000)
    n0 = _points(page, child_id)
    page.wait_for_function("([id, n]) => document.getElementById('plot-' + id).data[0].x.length > n",
                           arg=[child_id, n0], timeout=15_000)
    now_text = page.inner_text(f"#now-{child_id} .zone-now")
    assert now_text.startswith("Now: ") and " mg)" in now_text
    page.click(f"#tile-{child_id} .table-toggle")                # chart as a table
    page.wait_for_function("id => document.querySelectorAll('#table-' + id + ' tbody tr')"
                           ".length >= 1", arg=child_id, timeout=5_000)
    assert " mg" not in page.inner_text(f"#table-{child_id} tbody")  # numbers, units in header

    # --- one tap logs a strategy; the marker shows at once -------------------------------
    tile.locator(".who-select").select_option("child")
    button = tile.locator("button.strat").first
    label = button.inner_text().strip()
    button.focus()                      # keyboard-reachable: Enter activates it
    page.keyboard.press("Enter")
    page.wait_for_function(
        "([id, label]) => (document.getElementById('plot-' + id).layout.annotations || [])"
        ".some(a => a.text === '▼ ' + label.split(' (')[0])", arg=[child_id, label], timeout=5_000)
    assert button.get_attribute("aria-pressed") == "true"
    assert label in tile.locator(".running-list").inner_text()
    tile.locator(".note-input").fill("asked for it himself")     # a note on the running span
    tile.locator(".note-save").click()
    page.wait_for_function(
        "id => document.querySelector('#tile-' + id + ' .note-msg').textContent"
        ".startsWith('Note added')", arg=child_id, timeout=5_000)
    event = page.evaluate(
        "async id => (await window.movereg.api('/api/events?child_id=' + id)).slice(-1)[0]",
        child_id)
    assert event["session_id"] is not None and event["note"] == "asked for it himself"
    assert event["initiated_by"] == "child"
    box = button.bounding_box()
    assert box and box["height"] >= 44 and box["width"] >= 44
    page.click("button.win[data-win='60']")            # zoom to the last minute
    assert page.get_attribute("button.win[data-win='60']", "aria-pressed") == "true"
    page.wait_for_function("id => document.getElementById('plot-' + id).layout.title.text"
                           ".endsWith('movement, last minute')", arg=child_id, timeout=5_000)
    page.wait_for_timeout(1500)
    page.screenshot(path=str(ARTIFACTS / "live-after-tap.png"), full_page=True)

    # --- pause stops chart updates (WCAG 2.2.2), resume catches up ------------------------
    page.click("#pause")
    assert page.get_attribute("#pause", "aria-pressed") == "true"
    frozen = _points(page, child_id)
    time.sleep(2.5)
    assert _points(page, child_id) == frozen
    page.click("#pause")
    page.wait_for_function("([id, n]) => document.getElementById('plot-' + id).data[0].x.length > n",
                           arg=[child_id, frozen], timeout=15_000)

    # --- reload: the marker was persisted by the server -----------------------------------
    page.reload()
    page.wait_for_function(
        "([id, label]) => (document.getElementById('plot-' + id).layout.annotations || [])"
        ".some(a => a.text === '▼ ' + label.split(' (')[0])", arg=[child_id, label], timeout=10_000)
    assert page.locator(f"#tile-{child_id} button.strat").first.get_attribute(
        "aria-pressed") == "true"
    # end it again with a second tap
    page.locator(f"#tile-{child_id} button.strat").first.click()
    page.wait_for_function(
        "id => document.querySelector('#tile-' + id + ' .running-list').textContent"
        ".includes('Nothing running')", arg=child_id, timeout=5_000)
    page.screenshot(path=str(ARTIFACTS / "live-after-reload.png"), full_page=True)

    # --- the strategy explorer renders (descriptive, with its limits) ---------------------
    page.goto(f"{base}/strategies?child={child_id}")
    assert "Descriptive, not proof" in page.inner_text("body")
    page.screenshot(path=str(ARTIFACTS / "strategies.png"), full_page=True)

    # --- the parent sees their own child only ---------------------------------------------
    page.click("#signout")
    page.wait_for_url(re.compile(r".*/login.*"))
    parent, ppw = demo.logins["parent"]
    _login(page, base, "/day", parent, ppw)
    page.wait_for_url(re.compile(r".*tz=Europe.*"))       # the page asks for the local zone
    page.wait_for_selector("#ribbon .main-svg", timeout=10_000)
    body = page.inner_text("body")
    (own_code, own_nick), (other_code, other_nick) = kids
    assert own_nick in page.inner_text("h1") and own_code in body
    assert other_nick not in body and other_code not in body
    assert "This band measures movement, not feelings." in body
    assert "not a medical device" in body
    page.click("#ribbon-cap ~ .table-toggle")
    assert page.locator("#ribbon-table").is_visible()
    page.screenshot(path=str(ARTIFACTS / "parent-day.png"), full_page=True)
    page.emulate_media(media="print")
    page.screenshot(path=str(ARTIFACTS / "parent-day-print.png"), full_page=True)
    pdf = page.pdf(format="A4", print_background=False)
    (ARTIFACTS / "parent-day.pdf").write_bytes(pdf)
    n_pages = len(re.findall(rb"/Type\s*/Page[^s]", pdf))
    assert n_pages == 1, n_pages                          # one printed page for the day
    page.emulate_media(media="screen")
    page.click("text=Week view")
    page.wait_for_selector("#week .main-svg", timeout=10_000)
    week = page.inner_text("body")
    assert own_nick in week and other_nick not in week and "Band worn on" in week
    page.screenshot(path=str(ARTIFACTS / "parent-week.png"), full_page=True)
    other = page.goto(f"{base}/day?child=999999")
    assert other is not None and other.status == 404

    assert external == [], external
    assert errors == [], errors
    ctx.close()


def test_researcher_export_streams_with_progress(demo: Any, browser: Any) -> None:
    import subprocess
    import sys

    password = "research passphrase 42"
    done = subprocess.run(
        [sys.executable, "-m", "movereg", "user", "--data-dir", str(demo.data_dir), "add",
         "researcher1", "--role", "researcher", "--password-stdin"],
        input=password + "\n", text=True, capture_output=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    ctx = browser.new_context(viewport={"width": 1024, "height": 1366}, accept_downloads=True)
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    _login(page, demo.url, "/export", "researcher1", password)
    body = page.inner_text("body")
    codes = [code for code, _ in _children(demo)]
    assert all(code in body for code in codes)
    assert all(nick not in body for _, nick in _children(demo))   # codes only
    assert page.locator("table.dict tbody tr").count() >= 20       # the data dictionary
    assert "agreed to research use" in body                        # consent is said
    page.uncheck(f"input[name=child][value='{codes[1]}']")         # one child only
    deadline = time.monotonic() + 30        # the simulated band has stored a few epochs
    while len(page.request.get(f"{demo.url}/api/export/epochs?child={codes[0]}"
                               ).text().splitlines()) < 12 and time.monotonic() < deadline:
        time.sleep(0.5)
    # epoch length and features by keyboard: focus, arrow / space
    page.focus("#epoch_s")
    page.select_option("#epoch_s", "5.0")
    assert page.eval_on_selector("#epoch_s", "e => e.labels.length") == 1
    page.focus("input[name=feature][value='mad_mg']")
    page.keyboard.press("Space")
    assert not page.is_checked("input[name=feature][value='mad_mg']")
    with page.expect_download(timeout=30_000) as info:
        page.click("#export-go")
    download = info.value
    assert download.suggested_filename == f"movereg-epochs-{codes[0]}.csv"
    text = Path(download.path()).read_text(encoding="utf-8")
    header = text.splitlines()[0].split(",")
    assert "epoch_start" in header and "coverage" in header and "enmo_mg" in header
    assert "mad_mg" not in header
    rows = [dict(zip(header, line.split(","), strict=True)) for line in text.splitlines()[1:]]
    assert rows and {r["epoch_s"] for r in rows} == {"5.0"}
    page.wait_for_function("document.getElementById('export-status').textContent"
                           ".startsWith('Done: 1 file')", timeout=10_000)
    page.screenshot(path=str(ARTIFACTS / "researcher-export.png"), full_page=False)
    assert errors == [], errors
    ctx.close()


def test_live_break_timer_and_status_from_a_scripted_feed(demo: Any, browser: Any) -> None:
    """The live page's own logic (zone words, break-in-progress timer, band status) fed
    a scripted /api/live stream through Playwright's WebSocket routing."""
    import json

    ctx = browser.new_context(viewport={"width": 1180, "height": 900})
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    sent: dict[str, Any] = {}

    def feed(ws: Any) -> None:
        cid = int(sent["child"])
        now_ms = int(time.time() * 1000) + 120_000   # after anything the real feed had
        ws.send(json.dumps({"type": "hello", "children": [cid], "epoch_s": 1.0}))
        ws.send(json.dumps({"type": "status", "bands": [{
            "device_id": "sim-x", "child_id": cid, "state": "reconnecting",
            "battery_pct": 64, "last_data_ms": int(time.time() * 1000) - 4000,
            "samples_lost": 12}]}))
        for k in range(75):                          # 75 s of light movement
            ws.send(json.dumps({"type": "epoch", "child_id": cid, "epoch_s": 1.0,
                                "epoch_start_ms": now_ms + k * 1000, "enmo_mg": 150.0,
                                "rhythmic_fraction": 0.6, "impacts": k % 2, "zone": 1}))
        sent["last_ms"] = now_ms + 74_000

    therapist, tpw = demo.logins["therapist"]
    _login(page, demo.url, "/live", therapist, tpw)
    cid = page.locator(".tile").first.get_attribute("data-child-id")
    sent["child"] = cid
    page.route_web_socket(re.compile(r".*/api/live.*"), feed)
    page.reload()
    try:
        page.wait_for_function(
            "id => document.querySelector('#now-' + id + ' .break-now').textContent"
            ".startsWith('Movement break in progress: 1 min 15 s')", arg=cid, timeout=10_000)
    except Exception as exc:
        raise AssertionError(page.inner_text(f"#tile-{cid}")[:600]) from exc
    assert "light movement (150 mg)" in page.inner_text(f"#now-{cid} .zone-now")
    assert page.inner_text(f"#tile-{cid} .breaks-count") == "1"
    page.wait_for_function(
        "id => document.getElementById('band-' + id).textContent.includes('reconnecting')",
        arg=cid, timeout=5_000)
    status = page.inner_text(f"#band-{cid}")
    assert "battery 64%" in status and "12 samples lost" in status and "last data" in status
    page.screenshot(path=str(ARTIFACTS / "live-scripted-break.png"), full_page=False)
    assert errors == [], errors
    ctx.close()
