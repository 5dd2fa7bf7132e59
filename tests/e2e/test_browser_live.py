"""The fast activity trace in real headless Chromium: a movement burst is on screen within
1.5 s of its sample time, measured in the page.

``movereg demo --children 4 --bursts 45`` (one simulated band per child): the first
band's movement is scripted, 3 s still and then 2 s of vigorous movement at a printed UTC
time 45 s after the bands start and every 60 s after, whatever its scenario does, so where
the band's 30-sample frames fall does not matter. The live page records, for every point
of the activity line, the time of the newest sample it covers and the time Plotly
finished drawing it (``window.moveregLive.tiles[id].drawn``). The test takes the first
point of a scripted burst (>= 150 mg within 2.5 s of the burst's start, after points under
60 mg in the still seconds) and checks how long after its sample time it was drawn.
Screenshots go to ``test-artifacts/``.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.timeout(420)]

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"

#: the scripted bursts of one tile, as drawn: for each burst start ``b`` (UTC ms) after the
#: tile's first point, the first point of >= 150 mg covering samples in [b, b + 2.5 s],
#: with the points of the still seconds before it
_BURST = """([child, first, every]) => {
  const d = window.moveregLive.tiles[child].drawn;
  if (!d.length) return [];
  const out = [];
  for (let b = first; b <= d[d.length - 1].t_end_ms; b += every) {
    if (b - 3000 < d[0].t_end_ms) continue;   // the page was not drawing yet
    const hit = d.find(p => p.t_end_ms >= b && p.t_end_ms <= b + 2500 && p.value !== null
                            && p.value >= 150);
    if (!hit) continue;
    const still = d.filter(p => p.t_end_ms >= b - 2000 && p.t_end_ms < b).map(p => p.value);
    out.push({burst_ms: b, t_end_ms: hit.t_end_ms, drawn_ms: hit.drawn_ms, value: hit.value,
              still: still});
  }
  return out;
}"""
_SCRIPTED = re.compile(r"scripted bursts: first at (\d+) UTC ms, every (\d+) ms")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    if not Path(CHROMIUM).exists() and shutil.which("chromium") is None:
        pytest.skip("Debian's chromium is not installed (make browser-deps)")
    pytest.importorskip("playwright.sync_api", reason="playwright (Python package) missing")
    from benchmarks.demo_proc import DemoProcess

    # the fourth child's band lies on a table from ~90 s: with the not-worn threshold at
    # 30 s (a setting) its alert comes within the test
    proc = DemoProcess(data_dir=tmp_path_factory.mktemp("demo-live"), bands=4, children=4,
                       seed=11, history=False, env={"MOVEREG_ALERT_NOT_WORN_MIN": "0.5"},
                       extra_args=["--bursts", "45"])
    proc.start(timeout_s=120)
    try:
        yield proc
    finally:
        proc.stop()


def test_movement_burst_is_drawn_within_1_5_s(demo: Any) -> None:
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    base = demo.url
    user, password = demo.logins["therapist"]
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM if Path(CHROMIUM).exists()
                                     else shutil.which("chromium"), args=ARGS)
        try:
            ctx = browser.new_context(viewport={"width": 1024, "height": 768})
            page = ctx.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(base + "/live")
            page.fill("#username", user)
            page.fill("#password", password)
            page.click("button[type=submit]")
            page.wait_for_url(re.compile(re.escape(base + "/live")))
            assert page.locator(".tile").count() == 4
            ids = [page.locator(".tile").nth(i).get_attribute("data-child-id")
                   for i in range(4)]
            assert all(ids)
            # the activity line moves before any epoch could have completed
            page.wait_for_function(
                "() => Object.values(window.moveregLive.tiles).every(t => t.drawn.length >= 3)",
                timeout=30_000)
            lag = page.inner_text(f"#tile-{ids[0]} .lag")
            assert lag.startswith("Activity line: ") and "behind" in lag
            now = page.inner_text(f"#tile-{ids[0]} .zone-now")
            assert now.startswith("Now: ") and " mg) at " in now
            [scripted] = [m.groups() for line in demo.lines if (m := _SCRIPTED.search(line))]
            robin = page.evaluate("() => [...document.querySelectorAll('.tile')].find(t => "
                                  "t.querySelector('h2').textContent.trim() === 'Robin')"
                                  ".dataset.childId")     # the first child: band sim-1
            arg = [robin, int(scripted[0]), int(scripted[1])]
            page.wait_for_function(f"(a) => ({_BURST})(a).length > 0", arg=arg,
                                   timeout=150_000, polling=500)
            bursts = page.evaluate(_BURST, arg)
            first = bursts[0]
            assert first["still"] and all(v is not None and v < 60 for v in first["still"])
            delay_ms = first["drawn_ms"] - first["t_end_ms"]
            all_ms = page.evaluate("() => Object.values(window.moveregLive.tiles)"
                                   ".flatMap(t => t.drawn.map(p => p.drawn_ms - p.t_end_ms))")
            all_ms.sort()
            arrive = sorted(page.evaluate(
                "() => Object.values(window.moveregLive.tiles)"
                ".flatMap(t => t.drawn.map(p => p.arrived_ms - p.t_end_ms))"))
            print(f"\nreached the page: median {arrive[len(arrive) // 2]} ms, p95 "
                  f"{arrive[int(0.95 * (len(arrive) - 1))]} ms")
            p95 = all_ms[int(0.95 * (len(all_ms) - 1))]
            print(f"\nscripted burst of {first['value']:.0f} mg drawn {delay_ms} ms after its "
                  f"sample time ({first['drawn_ms'] - first['burst_ms']} ms after the burst "
                  f"began); all {len(all_ms)} points: median {all_ms[len(all_ms) // 2]} ms, "
                  f"p95 {p95} ms, max {all_ms[-1]} ms")
            assert delay_ms <= 1500, bursts
            assert all_ms[0] >= 0            # never drawn before its sample was taken
            page.wait_for_timeout(1000)
            page.screenshot(path=str(ARTIFACTS / "live-activity-trace.png"), full_page=True)

            # --- a device alert on the tile and in the list; a tap acknowledges it ---------
            item = page.locator(f"#tile-{ids[3]} .tile-alerts li[data-kind='not_worn']")
            item.wait_for(timeout=200_000)
            assert "not worn for more than 0.5 min" in item.inner_text()
            assert "since " in item.inner_text()
            listed = page.locator("#alert-panel li[data-kind='not_worn']")
            assert listed.count() == 1 and page.locator("#alert-panel").is_visible()
            page.screenshot(path=str(ARTIFACTS / "live-alert.png"), full_page=False)
            item.locator(".ack-btn").click()
            page.wait_for_function(
                "() => (document.querySelector(\"#alert-panel li[data-kind='not_worn']\") || {})"
                ".textContent?.includes('Acknowledged by therapist')", timeout=10_000)
            alerts = page.evaluate("async () => await window.movereg.api('/api/alerts')")
            [mine] = [a for a in alerts if a["kind"] == "not_worn" and a["active"]]
            assert mine["acked_by"] == "therapist(therapist)" and mine["active"]
            assert errors == [], errors
            ctx.close()
        finally:
            browser.close()
