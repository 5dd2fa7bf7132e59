"""A therapist's whole clinic day in real headless Chromium at 1024x768 (issue 15).

``movereg serve`` on an EMPTY data directory with two simulated bands on offer:
setup with the printed one-time link -> add a therapist and two children -> connect and
assign two simulated bands -> sign in as the therapist -> start a group session -> live
data on both tiles -> tap a strategy -> undo -> tap again -> a tap whose answer is lost
(retried with the same Idempotency-Key) -> offline tap -> reload -> online -> each event
stored once, with the tap's own time -> stop -> the review and the note draft name them.
Screenshots go to ``test-artifacts/clinic-*.png``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
PW = "a long clinic passphrase"


class Serve:
    """``movereg serve`` on a fresh data dir; reads the printed setup link."""

    def __init__(self, data_dir: Path) -> None:
        from benchmarks.demo_proc import free_port

        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.lines: list[str] = []
        self.setup_url: str | None = None
        cmd = [sys.executable, "-m", "movereg", "serve", "--port", str(self.port),
               "--data-dir", str(data_dir), "--sim-bands", "2"]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            line = raw.rstrip("\n")
            self.lines.append(line)
            m = re.search(r"(http://\S+/setup\?token=\S+)", line)
            if m:
                self.setup_url = m.group(1)

    def wait_ready(self, timeout_s: float = 120.0) -> None:
        import httpx

        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise RuntimeError("movereg serve exited:\n" + "\n".join(self.lines))
            try:
                if httpx.get(self.base + "/api/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise RuntimeError("movereg serve did not start:\n" + "\n".join(self.lines))

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Serve]:
    if not Path(CHROMIUM).exists() and shutil.which("chromium") is None:
        pytest.skip("Debian's chromium is not installed (make browser-deps)")
    pytest.importorskip("playwright.sync_api", reason="playwright (Python package) missing")
    s = Serve(tmp_path_factory.mktemp("clinic"))
    try:
        s.wait_ready()
        yield s
    finally:
        s.stop()


def _shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"clinic-{name}.png"))


def _submit(page: Any, form: str) -> None:
    page.evaluate("document.getElementById('flash').textContent = ''")
    page.click(f"{form} button[type=submit]")
    page.wait_for_selector("#flash:has-text('Saved')", timeout=10_000)


def _api(page: Any, url: str) -> Any:
    return page.evaluate("async u => await window.movereg.api(u)", url)


def _visible_in_viewport(page: Any, selector: str) -> bool:
    box = page.locator(selector).bounding_box()
    return bool(box) and box["y"] >= 0 and box["y"] + box["height"] <= 768 and \
        box["x"] >= 0 and box["x"] + box["width"] <= 1024


def test_clinic_day_from_empty_data_dir(server: Serve) -> None:
    from playwright.sync_api import sync_playwright

    base = server.base
    deadline = time.monotonic() + 10
    while server.setup_url is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert server.setup_url, "\n".join(server.lines)
    assert server.setup_url.startswith(base + "/setup?token=")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM if Path(CHROMIUM).exists()
                                     else shutil.which("chromium"), args=ARGS)
        ctx = browser.new_context(viewport={"width": 1024, "height": 768},
                                  timezone_id="Europe/London", locale="en-GB")
        page = ctx.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("dialog", lambda d: d.accept())

        # --- first run: / sends to /setup; the printed link creates the administrator ----
        page.goto(base + "/")
        assert page.url.endswith("/setup")
        assert "Open the setup link" in page.inner_text("main")
        page.goto(server.setup_url)
        _shot(page, "01-setup")
        page.fill("#username", "boss")
        page.fill("#password", PW)
        page.fill("#password2", PW)
        page.click("button[type=submit]")
        page.wait_for_url(re.compile(r".*/admin\?welcome=1"))
        assert "Setup is complete" in page.inner_text("#welcome")
        # the link is dead now (signed in, it leads to the usual start page)
        page.goto(server.setup_url)
        assert "/setup" not in page.url
        page.goto(base + "/admin")

        # --- add a therapist and two children, put both on her caseload ------------------
        page.fill("#add-user input[name=username]", "tess")
        page.select_option("#add-user select[name=role]", "therapist")
        page.fill("#add-user input[name=password]", PW)
        _submit(page, "#add-user")
        for nick in ("Robin", "Sky"):
            page.fill("#add-child input[name=display_name]", nick)
            _submit(page, "#add-child")
        kids = {r["display_name"]: r["id"] for r in _api(page, "/api/children")}
        assert set(kids) == {"Robin", "Sky"}
        for nick in ("Robin", "Sky"):
            page.select_option("#add-link select[name=username]", "tess")
            page.select_option("#add-link select[name=child_id]", str(kids[nick]))
            _submit(page, "#add-link")
        assert "tess (therapist)" in page.inner_text("#links")
        _shot(page, "02-admin")

        # --- bands: scan, connect the two simulated bands, assign them -------------------
        page.goto(base + "/bands")
        page.click("#scan")
        page.wait_for_function("() => !document.getElementById('band-msg').textContent"
                               ".startsWith('Scanning')", timeout=20_000)
        for n in (1, 2):
            page.click(f"button.connect[data-target='sim:{n}']")
            page.wait_for_selector(f".band-tile[data-device-id='sim-{n}']", timeout=15_000)
        for dev, nick in (("sim-1", "Robin"), ("sim-2", "Sky")):
            tile = f".band-tile[data-device-id='{dev}']"
            page.select_option(f"{tile} select.assign-to", str(kids[nick]))
            page.click(f"{tile} button.assign")
            page.wait_for_selector(f"{tile} .band-child:has-text('Worn by {nick}')",
                                   timeout=10_000)
        page.wait_for_selector(".band-tile[data-device-id='sim-1'] "
                               ".band-state:has-text('streaming')", timeout=30_000)
        page.click("#identify")     # nobody shakes a band here: every tile says "Still"
        page.wait_for_selector(".band-tile[data-device-id='sim-2'] .band-move:has-text('Still')",
                               timeout=10_000)
        assert page.locator(".band-tile.moving").count() == 0
        assert "Robin" in page.inner_text("#wearing") and "sim-1" in page.inner_text("#wearing")
        _shot(page, "03-bands")

        # --- the therapist starts a group session ------------------------------------------
        page.click("#signout")
        page.wait_for_url(re.compile(r".*/login.*"))
        page.fill("#username", "tess")
        page.fill("#password", PW)
        page.click("button[type=submit]")
        page.wait_for_url(re.compile(r".*/live.*"))
        page.goto(base + "/sessions")
        fav_box = f".fav-editor[data-child-id='{kids['Robin']}']"       # pin two, in her order
        for key in ("ves.bounce", "mov.break"):
            page.select_option(f"{fav_box} select.fav-add", key)
            page.click(f"{fav_box} button.fav-pin")
        page.click(f"{fav_box} li[data-key='mov.break'] button >> nth=0")   # move it up
        page.click(f"{fav_box} button.fav-save")
        page.wait_for_selector(f"{fav_box} .form-msg:has-text('Saved')", timeout=5_000)
        page.click("#start-session")
        page.wait_for_url(re.compile(r".*/sessions/\d+/live"))
        gid = int(re.findall(r"/sessions/(\d+)/live", page.url)[0])
        robin, sky = f"#tile-{kids['Robin']}", f"#tile-{kids['Sky']}"
        for t in (robin, sky):
            page.wait_for_function(
                "s => Number(document.querySelector(s + ' .activity').dataset.epochs) >= 2",
                arg=t, timeout=60_000)
            page.wait_for_selector(f"{t} .band-status[data-state='streaming']", timeout=15_000)
        assert page.inner_text(f"{robin} .activity").startswith("Activity: ")
        t0 = page.inner_text("#timer")
        page.wait_for_timeout(1100)
        assert page.inner_text("#timer") != t0                       # the timer runs
        # at 1024x768 every tile's name, status, activity and pinned buttons are on screen
        for t in (robin, sky):
            for part in (".gname", ".band-status", ".activity", ".favs [data-tap]"):
                for i in range(page.locator(f"{t} {part}").count()):
                    assert _visible_in_viewport(page, f"{t} {part} >> nth={i}"), (t, part, i)
        _shot(page, "04-live")

        # --- tap, undo, tap again ------------------------------------------------------------
        fav = page.locator(f"{robin} .favs [data-tap]")
        assert [fav.nth(i).get_attribute("data-tap") for i in range(fav.count())] == [
            "mov.break", "ves.bounce"]                                  # the order she set
        key0, key1 = fav.nth(0).get_attribute("data-tap"), fav.nth(1).get_attribute("data-tap")
        fav.nth(0).click()
        page.wait_for_selector(f"{robin} .tap-status:has-text('Logged')", timeout=10_000)
        page.click(f"{robin} .tap-undo")
        page.wait_for_selector(f"{robin} .tap-status:has-text('Undone')", timeout=5_000)
        page.wait_for_function("() => window.MoveregTaplog.pending() === 0", timeout=10_000)
        fav.nth(0).focus()
        page.keyboard.press("Enter")                                 # keyboard-usable
        page.wait_for_selector(f"{robin} .tap-status:has-text('Logged')", timeout=10_000)
        page.wait_for_function(                 # the undone one is gone, the new one runs
            "s => document.querySelectorAll(s + ' .end-btn').length === 1", arg=robin,
            timeout=10_000)
        _shot(page, "05-tapped")

        # --- an answer lost on the way back: the retry carries the same key ---------------
        lost: list[str] = []

        def _lose_answer(route: Any) -> None:
            lost.append(route.request.headers.get("idempotency-key", ""))
            route.fetch()                    # the server stores the event...
            route.abort("connectionreset")   # ...and the tablet never hears back

        page.route("**/api/events", _lose_answer, times=1)
        fav.nth(1).click()
        page.wait_for_function("() => window.MoveregTaplog.pending() === 0", timeout=20_000)
        assert len(lost) == 1 and len(lost[0]) >= 8
        page.wait_for_function("s => document.querySelectorAll(s + ' .end-btn').length === 2",
                               arg=robin, timeout=10_000)
        page.locator(f"{robin} .end-btn").nth(1).click()             # end the second one
        page.wait_for_function("s => document.querySelectorAll(s + ' .end-btn').length === 1",
                               arg=robin, timeout=10_000)

        # --- offline: the tap waits on the tablet, survives a reload, is sent once -------
        ctx.set_offline(True)
        sky_fav = page.locator(f"{sky} .favs [data-tap]").first
        key_off = sky_fav.get_attribute("data-tap")
        tap_ms = page.evaluate("Date.now()")
        sky_fav.click()
        page.wait_for_selector("#queue-state:has-text('1 waiting to send')", timeout=5_000)
        assert "Saved on this device" in page.inner_text(f"{sky} .tap-status")
        _shot(page, "06-offline")
        page.wait_for_timeout(3000)
        page.reload()               # still offline: the service worker serves the page
        page.wait_for_selector("#queue-state:has-text('1 waiting to send')", timeout=5_000)
        _shot(page, "06b-offline-reloaded")
        page.wait_for_timeout(1000)
        assert page.evaluate("() => window.MoveregTaplog.pending()") == 1
        ctx.set_offline(False)      # back online: the queue sends itself
        page.wait_for_function("() => window.MoveregTaplog.pending() === 0", timeout=20_000)
        page.wait_for_selector("#queue-state:has-text('All taps sent')", timeout=5_000)

        robin_evs = _api(page, f"/api/events?child_id={kids['Robin']}&include_voided=true")
        sky_evs = _api(page, f"/api/events?child_id={kids['Sky']}&include_voided=true")
        undone = [e for e in robin_evs if e["voided"]]
        assert [(e["strategy"], e["void_reason"]) for e in undone] == [(key0, "undone")]
        live = [e["strategy"] for e in robin_evs if not e["voided"]]
        assert sorted(live) == sorted([key0, key1])                  # the lost answer: once
        ended = {e["strategy"]: e["ended_at"] for e in robin_evs if not e["voided"]}
        assert ended[key1] is not None and ended[key0] is None
        assert [e["strategy"] for e in sky_evs] == [key_off]         # the offline tap: once
        started = datetime.fromisoformat(sky_evs[0]["started_at"]).timestamp() * 1000
        logged = datetime.fromisoformat(sky_evs[0]["logged_at"]).timestamp() * 1000
        assert abs(started - tap_ms) < 1500 and logged - started > 2500   # the tap's own time
        assert all(e["session_id"] is not None for e in robin_evs + sky_evs)

        # --- pause: a banner on every tile ------------------------------------------------
        page.click("#pause")
        assert page.locator(".paused-banner:visible").count() == 2
        page.click("#pause")

        # --- stop, then review and the note draft -----------------------------------------
        page.click("#stop")
        page.wait_for_url(re.compile(rf".*/sessions/{gid}\?tz=.*"))
        page.wait_for_function("() => !document.getElementById('note-text').value"
                               ".startsWith('Loading')", timeout=15_000)
        note = page.input_value("#note-text")
        labels = {s["key"]: s["label"] for s in _api(page, "/api/strategies")}
        for key in (key0, key1, key_off):
            assert labels[key] in note, (key, note)
        assert note.startswith("Group session ") and "Robin" in note and "Sky" in note
        assert " mg" not in note
        review = page.inner_text("main")
        assert "undone" in review and labels[key_off] in review
        _shot(page, "07-review")
        # correct an event later, with a reason: the history stays on the page
        sky_item = f".review-child[data-child-id='{kids['Sky']}'] li.tl-strategy"
        page.click(f"{sky_item} summary")
        page.select_option(f"{sky_item} select[name=strategy]", "pro.wall_push")
        page.fill(f"{sky_item} input[name=reason]", "it was the wall push-ups")
        end_hm = page.evaluate("s => { const d = new Date(Number(document.querySelector(s + "
                               "' form').dataset.startMs) + 120000); return String(d.getHours())"
                               ".padStart(2, '0') + ':' + String(d.getMinutes()).padStart(2, '0')"
                               "; }", sky_item)
        page.fill(f"{sky_item} input[name=ended]", end_hm)
        page.click(f"{sky_item} button[value=correct]")
        page.wait_for_selector("#flash:has-text('Corrected')", timeout=10_000)
        review = page.inner_text("main")
        assert "corrected: it was the wall push-ups" in review
        hist = _api(page, f"/api/events/{sky_evs[0]['id']}/history")
        assert [h["strategy"] for h in hist] == [key_off, "pro.wall_push"]
        assert hist[-1]["ended_at"] is not None and hist[0]["ended_at"] is None
        assert re.search(r"\d\d:\d\d-\d\d:\d\d Strategy Wall push-ups", page.inner_text("main"))
        page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
        _shot(page, "08-review-timeline")

        # --- 6 children fit 1024x768 with every label and button; 16 are compact --------
        for i in range(14):
            page.evaluate("async n => await window.movereg.api('/api/children', "
                          "{method: 'POST', body: {display_name: n}})", f"Kid{i:02d}")
        ids = [c["id"] for c in _api(page, "/api/children")]
        assert len(ids) == 16
        for n in (6, 16):
            g = page.evaluate("async ids => await window.movereg.api('/api/sessions/group', "
                              "{method: 'POST', body: {child_ids: ids}})", ids[:n])
            page.goto(f"{base}/sessions/{g['group_id']}/live")
            assert page.locator(".gtile").count() == n
            assert page.locator("#more-kids").count() == 0          # none hidden
            parts = [".gname", ".band-status", ".activity"] + (
                [".favs [data-tap]"] if n == 6 else [])
            boxes = []
            for part in parts:
                loc = page.locator(f".gtile {part}")
                for i in range(loc.count()):
                    assert _visible_in_viewport(page, f".gtile {part} >> nth={i}"), (n, part, i)
                    boxes.append(loc.nth(i).bounding_box())
            for i, a in enumerate(boxes):                            # labels never overlap
                for b in boxes[i + 1:]:
                    assert (a["x"] + a["width"] <= b["x"] + 0.5 or b["x"] + b["width"] <= a["x"] + 0.5
                            or a["y"] + a["height"] <= b["y"] + 0.5
                            or b["y"] + b["height"] <= a["y"] + 0.5), (n, a, b)
            _shot(page, f"09-group-{n}")
            if n == 16:     # a compact tile opens on tap, with its buttons
                page.locator(".gtile .tile-open").first.click()
                page.wait_for_selector(".gtile.open .favs [data-tap]", state="visible")
                _shot(page, "10-group-16-open")
            page.evaluate("async id => await window.movereg.api('/api/sessions/' + id + "
                          "'/stop_group', {method: 'POST'})", g["group_id"])

        assert errors == [], errors
        ctx.close()
        browser.close()
