"""A parent on a phone (390x844, real Chromium): logs a home strategy with one tap (and
one while offline), ticks today's plan, and the day page shows both; no sideways
scrolling and no units (mg, ENMO, counts, cut-points) on any parent page. Screenshots
go to ``test-artifacts/`` (family-*.png)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from e2e_support import ARTIFACTS, chromium, running_demo

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]

UNITS = re.compile(r"\bmg\b|milli-?g|ENMO|\bcounts?\b|cut-?points?", re.I)
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2,
         "is_mobile": True, "has_touch": True, "timezone_id": "Europe/London",
         "locale": "en-GB"}


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    yield from running_demo(tmp_path_factory, seed=5)


@pytest.fixture(scope="module")
def browser(demo: Any) -> Iterator[Any]:
    yield from chromium()


def _sign_in(page: Any, demo: Any, path: str, lands: str) -> None:
    user, password = demo.logins["parent"]
    page.goto(demo.url + path)
    page.fill("#username", user)
    page.fill("#password", password)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(lands))


def _no_sideways_scroll(page: Any) -> None:
    width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1], f"page scrolls sideways: {width}"


def _no_units(page: Any) -> None:
    text = page.inner_text("body")
    assert not UNITS.search(text), UNITS.search(text)


def test_parent_logs_ticks_and_reads_the_day_on_a_phone(demo: Any, browser: Any) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    base = demo.url
    with httpx.Client(base_url=base, timeout=30) as api:
        parent_h = {"Authorization": f"Bearer {demo.token('parent')}"}
        (kid,) = api.get("/api/children", headers=parent_h).json()
        thera_h = {"Authorization": f"Bearer {demo.token('therapist')}"}
        r = api.post(f"/api/children/{kid['id']}/plan", headers=thera_h,
                     json={"strategy": "pro.carry", "when": "heavy work after school"})
        assert r.status_code == 201, r.text
        r = api.put(f"/api/children/{kid['id']}/settings", headers=thera_h,
                    json={"tz": "Europe/London", "checkins_enabled": True})
        assert r.status_code == 200, r.text
    ctx = browser.new_context(**PHONE)
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    _sign_in(page, demo, "/login?next=/", r".*/home.*")
    assert "heavy work after school" in page.inner_text("#h-plan ~ *")
    _no_sideways_scroll(page)
    _no_units(page)
    page.screenshot(path=str(ARTIFACTS / "family-home.png"), full_page=True)

    # one tap logs a home strategy; Undo is offered for 5 s
    first = page.locator("#tap-root [data-tap]").nth(1)   # not the planned one
    label = first.inner_text().strip()
    first.click()
    page.wait_for_function("() => document.querySelector('#tap-root .tap-status').textContent"
                           ".startsWith('Logged')", timeout=10_000)
    assert page.locator("#tap-root .tap-undo").is_visible()
    page.screenshot(path=str(ARTIFACTS / "family-home-logged.png"), full_page=True)

    # a tap with no network waits on the phone, then goes out by itself
    ctx.set_offline(True)
    page.locator("#tap-root [data-tap]").nth(2).click()
    page.wait_for_function("() => document.querySelector('#tap-root .tap-status').textContent"
                           ".includes('waiting to send')", timeout=10_000)
    ctx.set_offline(False)
    page.evaluate("window.dispatchEvent(new Event('online'))")
    page.wait_for_function("() => document.querySelector('#tap-root .tap-status').dataset.pending"
                           " === '0'", timeout=20_000)

    # ticking today's plan item; the count follows the server
    page.click(".plan-item .tick")
    page.wait_for_function("() => document.querySelector('.plan-item .done-n').textContent === '1'",
                           timeout=15_000)
    page.screenshot(path=str(ARTIFACTS / "family-home-ticked.png"), full_page=True)

    # a check-in (switched on for this child)
    page.check("input[name=rating][value='4']")
    page.fill("#ci-note", "calm after the trampoline")
    page.click("#checkin-form button[type=submit]")
    page.wait_for_function("() => document.getElementById('ci-status').textContent"
                           ".includes('saved')", timeout=10_000)

    # the day page shows it, in words, on the phone
    page.goto(f"{base}/day?child={kid['id']}")
    page.wait_for_selector("#ribbon .main-svg", timeout=15_000)
    body = page.inner_text("body")
    assert label.split(" (")[0] in body and "Carry heavy items" in body, body[:2000]
    assert "Home plan: 1 of 1 planned" in body
    assert "Not worn" in body and "No signal" in body
    assert "calm after the trampoline" in body and "fairly easy (4 of 5)" in body
    _no_sideways_scroll(page)
    _no_units(page)
    page.screenshot(path=str(ARTIFACTS / "family-day.png"), full_page=True)

    for path in (f"/week?child={kid['id']}", f"/family/data?child={kid['id']}"):
        page.goto(base + path)
        page.wait_for_load_state("networkidle")
        _no_sideways_scroll(page)
        _no_units(page)
        name = "family-week.png" if "week" in path else "family-data.png"
        if "week" in path:      # on the phone the week chart's plot gets the width, not margins
            page.wait_for_selector(".js-plotly-plot .main-svg", timeout=15_000)
            size = page.evaluate("() => { const d = document.querySelector('.js-plotly-plot');"
                                 " const s = d._fullLayout._size;"
                                 " return [d._fullLayout.width, s.w, s.l, s.r, s.b]; }")
            print("week chart width, plot width, margins l r b:", size)
            assert size[1] >= 0.6 * size[0], size
        page.screenshot(path=str(ARTIFACTS / name), full_page=True)
    page.goto(f"{base}/week?child={kid['id']}")
    assert "1 of 1 planned" in page.inner_text("body")
    assert errors == [], errors
    ctx.close()


def test_parent_downloads_then_deletes_after_being_asked_twice(demo: Any,
                                                               browser: Any) -> None:
    """Runs last in this module: it erases the demo parent's child."""
    base = demo.url
    ctx = browser.new_context(accept_downloads=True, **PHONE)
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    _sign_in(page, demo, "/family/data", r".*/family/data.*")
    password = demo.logins["parent"][1]
    name = page.locator(".family-data").get_attribute("data-name")
    child_id = page.locator(".family-data").get_attribute("data-child")
    assert name and child_id
    _no_sideways_scroll(page)
    with page.expect_download() as dl:                    # the bundle is offered first
        page.click("#bundle-link")
    zipped = dl.value.path()
    assert zipped is not None and Path(zipped).stat().st_size > 1000
    assert page.locator("#del-step1").is_hidden()
    page.click("#del-start")                              # first ask
    page.fill("#del-name", name)
    page.fill("#del-pw", "not the password")
    page.click("#del-step1 button[type=submit]")
    assert page.locator("#del-step2").is_visible()        # second ask
    page.screenshot(path=str(ARTIFACTS / "family-delete-ask.png"), full_page=True)
    page.click("#del-confirm")
    page.wait_for_function("() => document.getElementById('del-status').textContent"
                           ".includes('Nothing was deleted')", timeout=10_000)
    page.fill("#del-pw", password)
    page.click("#del-step1 button[type=submit]")
    page.click("#del-confirm")
    page.wait_for_function("() => document.getElementById('del-status').textContent"
                           ".startsWith('Deleted')", timeout=15_000)
    for path in (f"/day?child={child_id}", f"/home?child={child_id}",
                 f"/family/data?child={child_id}"):
        r = page.goto(base + path)
        assert r is not None and r.status == 404, path
    assert errors == [], errors
    ctx.close()
