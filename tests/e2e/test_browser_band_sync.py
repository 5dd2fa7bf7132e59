"""Record on the band -> walk away -> come back -> sync -> the day page holds the time away.

Real Chromium (1024x768) against ``movereg demo``: the therapist starts a recording on a
simulated band from the bands page (its live stream stops: a band records on its own or
streams, not both), the band walks out of range, comes back, and "Sync now" brings the
band's recording into the child's record; "Stop recording" then brings the band's live
stream back by itself; the child's day page shows the span from the band's recording
where the live stream has its gap. Screenshots go to ``test-artifacts/band-sync-*.png``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from e2e_support import ARTIFACTS, chromium, running_demo
from test_browser import _login

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

AWAY_S = 45


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    yield from running_demo(tmp_path_factory, seed=4)


@pytest.fixture(scope="module")
def browser(demo: Any) -> Iterator[Any]:
    yield from chromium()


def _tile(dev: str) -> str:
    return f'.band-tile[data-device-id="{dev}"]'


def _api(page: Any, url: str) -> Any:
    return page.evaluate("u => window.movereg.api(u)", url)


def test_record_walk_away_come_back_sync(demo: Any, browser: Any) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    user, password = demo.logins["therapist"]
    ctx = browser.new_context(viewport={"width": 1024, "height": 768}, timezone_id="UTC",
                              locale="en-GB")
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    _login(page, demo.url, "/bands", user, password)
    tile = _tile("sim-1")
    page.wait_for_selector(f"{tile} .band-rec:not([hidden]) .rec-start:not([hidden])",
                           timeout=60_000)
    hours = page.inner_text(f"{tile} .rec-rate")
    assert "26 Hz (about" in hours, hours
    page.select_option(f"{tile} .rec-rate", "26")
    page.click(f"{tile} .rec-start")
    page.wait_for_function("t => document.querySelector(t + ' .rec-state').textContent"
                           ".includes('Recording on the band at 26 Hz')", arg=tile,
                           timeout=30_000)
    rec = _api(page, "/api/bands/sim-1/recorder")
    assert rec["recording"] and rec["rate_hz"] == 26 and rec["started_by"]
    # a band records on its own or streams live, not both: its live stream has ended
    page.wait_for_function("t => document.querySelector(t + ' .band-state').textContent"
                           ".includes('not connected')", arg=tile, timeout=30_000)
    page.screenshot(path=str(ARTIFACTS / "band-sync-1-recording.png"), full_page=True)

    page.click(f"{tile} .rec-range")          # the child walks away with the band
    away_ns = time.time_ns()
    page.wait_for_function("t => document.querySelector(t + ' .rec-range').textContent"
                           ".includes('Come back')", arg=tile, timeout=30_000)
    page.wait_for_function("t => document.querySelector(t + ' .rec-state').textContent"
                           ".includes('out of range')", arg=tile, timeout=30_000)
    page.screenshot(path=str(ARTIFACTS / "band-sync-2-away.png"), full_page=True)
    time.sleep(AWAY_S)
    back_ns = time.time_ns()
    page.click(f"{tile} .rec-range")          # ... and comes back
    page.wait_for_function("t => document.querySelector(t + ' .rec-range').textContent"
                           ".includes('Walk away')", arg=tile, timeout=30_000)
    page.click(f"{tile} .rec-sync")
    page.wait_for_function("t => document.querySelector(t + ' .rec-last').textContent"
                           ".includes('1 recording added')", arg=tile, timeout=120_000)
    last = page.inner_text(f"{tile} .rec-last")
    assert "removed from the band" in last, last
    assert "Recording on the band at 26 Hz" in page.inner_text(f"{tile} .rec-state")
    page.screenshot(path=str(ARTIFACTS / "band-sync-3-synced.png"), full_page=True)

    # Stop recording: the live stream that recording ended comes back by itself
    page.click(f"{tile} .rec-stop")
    page.wait_for_function("() => document.getElementById('band-msg').textContent"
                           ".includes('Live movement is back')", timeout=30_000)
    page.wait_for_function("t => document.querySelector(t + ' .band-state').textContent"
                           ".startsWith('streaming')", arg=tile, timeout=30_000)
    assert "Not recording on the band" in page.inner_text(f"{tile} .rec-state")
    page.screenshot(path=str(ARTIFACTS / "band-sync-3b-live-again.png"), full_page=True)

    rec = _api(page, "/api/bands/sim-1/recorder")
    kid = rec["child_id"]
    assert [r["state"] for r in rec["recordings"]] == ["removed"]
    t_away = datetime.fromtimestamp(away_ns / 1e9, UTC)
    t_back = datetime.fromtimestamp(back_ns / 1e9, UTC)
    spans = _api(page, f"/api/children/{kid}/sources?from="
                       f"{(t_away - timedelta(hours=1)).isoformat().replace('+', '%2B')}"
                       f"&to={(t_back + timedelta(minutes=5)).isoformat().replace('+', '%2B')}")
    mid = t_away + (t_back - t_away) / 2
    covering = [s for s in spans if s["kind"] == "file"
                and datetime.fromisoformat(s["start"]) <= mid <= datetime.fromisoformat(s["end"])]
    assert covering and "band sim-1 recording" in covering[0]["label"], spans

    page.goto(f"{demo.url}/day?child={kid}&day={t_away:%Y-%m-%d}")
    sources = page.inner_text("ul.sources")
    assert "from the Polar Verity Sense file band sim-1 recording" in sources, sources
    page.screenshot(path=str(ARTIFACTS / "band-sync-4-day.png"), full_page=True)
    audit = [e["action"] for e in _audit(demo)]
    for action in ("band.disconnect", "band.record.start", "band.range", "band.sync",
                   "band.recording.remove", "band.record.stop", "band.connect"):
        assert action in audit, action
    assert errors == []
    ctx.close()


def _audit(demo: Any) -> list[dict[str, Any]]:
    """The audit log as the (printed) admin cannot be asked: read the demo's database."""
    import sqlite3

    con = sqlite3.connect(demo.data_dir / "movereg.sqlite3")
    try:
        return [{"action": a} for (a,) in con.execute("SELECT action FROM audit_log")]
    finally:
        con.close()
