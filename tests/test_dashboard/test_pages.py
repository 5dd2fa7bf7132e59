"""HTML pages through the real app (httpx over ASGI): role gating, a parent's own child
only, embedded figure JSON, no external URLs, Plotly.js served locally."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
import pytest

from movereg.config import Settings
from movereg.dashboard.app import create_app
from movereg.dashboard.auth import hash_password
from movereg.signal import EpochTable
from movereg.signal.schema import EPOCH_COLUMNS
from movereg.storage import Store
from movereg.storage._ingest import IngestBatch

NS = 1_000_000_000
D0 = 1_772_409_600 * NS  # 2026-03-02T00:00:00Z
DAY = "2026-03-02"
PW = "correct horse battery"
_HASH: list[str] = []


def _pw_hash() -> str:
    if not _HASH:  # argon2 is deliberately slow: hash once for every test user
        _HASH.append(hash_password(PW))
    return _HASH[0]


def _table(t0: int, n: int, seed: int) -> EpochTable:
    rng = np.random.default_rng(seed)
    cols = {name: np.zeros(n, dtype=dt) for name, dt in EPOCH_COLUMNS}
    enmo = np.exp(rng.normal(3.8, 1.2, n))
    cols["epoch_start"] = t0 + np.arange(n, dtype=np.int64) * 5 * NS
    cols["epoch_s"] = np.full(n, 5.0)
    cols["coverage"] = np.ones(n)
    cols["enmo_mg"] = enmo
    cols["zone"] = np.searchsorted([35.6, 201.4, 707.0], enmo, side="right").astype(np.int8)
    cols["rhythm_hz"] = np.full(n, np.nan)
    cols["rhythmic_fraction"] = rng.random(n)
    return EpochTable(cols)


@dataclass
class World:
    client: httpx.AsyncClient
    store: Store
    kid_a: int
    kid_b: int


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    store = Store(tmp_path / "db.sqlite3")
    store.seed_strategies()
    users = {name: store.create_user(name, _pw_hash(), role) for name, role in [
        ("thera", "therapist"), ("mum", "parent"), ("dad_b", "parent"), ("res", "researcher"),
        ("boss", "admin")]}
    a = store.create_child(code="KID-A1", display_name="Robin")
    b = store.create_child(code="KID-B2", display_name="Alex")
    store.link_user_child(users["thera"].id, a.id)
    store.link_user_child(users["thera"].id, b.id)
    store.link_user_child(users["mum"].id, a.id)
    store.link_user_child(users["dad_b"].id, b.id)
    store.record_consent(a.id, consented=True, scope="features+raw", recorded_by="thera")
    store.record_consent(b.id, consented=True, scope="features", recorded_by="thera")
    for dev, child, seed in (("band-a", a.id, 1), ("band-b", b.id, 2)):
        store.assign_device(dev, child, at_ns=D0 - 7 * 86_400 * NS)
        store.write_batch(IngestBatch(epochs=[(dev, _table(D0 + 9 * 3600 * NS, 1440, seed))]))
    store.create_event(a.id, "pro.wall_push", started_at=D0 + 10 * 3600 * NS, logged_by=users["thera"].id)
    store.create_event(b.id, "ves.bounce", started_at=D0 + 10 * 3600 * NS, logged_by=users["thera"].id)
    app = create_app(Settings(data_dir=tmp_path), hub=object(), store=store)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield World(client, store, a.id, b.id)
    store.close()


async def _login(w: World, name: str) -> None:
    w.client.cookies.clear()
    r = await w.client.post("/api/auth/login", json={"username": name, "password": PW})
    assert r.status_code == 200, r.text


def _json_blocks(html: str, attr: str) -> list[dict]:
    pat = rf'<script type="application/json" {attr}="[^"]*">(.*?)</script>'
    return [json.loads(m) for m in re.findall(pat, html, re.S)]


_BANNED = re.compile(r"dysregulat|meltdown|tantrum|zones? of regulation|red zone|green zone|"
                     r"yellow zone|blue zone|\bbad\b|\bgood\b|abnormal|disorder", re.I)


def _strengths_based(html: str) -> None:
    assert not _BANNED.search(html), _BANNED.search(html)


def _no_external_urls(html: str) -> None:
    assert not re.search(r'(src|href|action)\s*=\s*["\']?\s*(https?:)?//', html, re.I)
    assert not re.search(r"https?://", html), re.search(r".{40}https?://.{40}", html)


@pytest.mark.parametrize("path", ["/live", "/day", "/week", "/export", "/strategies", "/"])
async def test_anonymous_is_sent_to_login(world: World, path: str) -> None:
    r = await world.client.get(path)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")


async def test_login_page_and_form_login(world: World) -> None:
    r = await world.client.get("/login?next=/day")
    assert r.status_code == 200
    assert 'action="/api/auth/login/form"' in r.text and 'value="/day"' in r.text
    _no_external_urls(r.text)
    r = await world.client.post("/api/auth/login/form", data={
        "username": "mum", "password": PW, "next": "/day"})
    assert r.status_code == 303 and r.headers["location"] == "/day"
    # issue 19 changed this: a parent's start page is the phone home page (was /day)
    assert (await world.client.get("/")).headers["location"] == "/home"


@pytest.mark.parametrize("who, path, status", [
    ("res", "/live", 403), ("mum", "/live", 403), ("res", "/day", 403), ("mum", "/export", 403),
    ("thera", "/export", 403), ("thera", "/live", 200), ("boss", "/export", 200),
    ("res", "/export", 200), ("mum", "/week", 200)])
async def test_role_gating(world: World, who: str, path: str, status: int) -> None:
    await _login(world, who)
    r = await world.client.get(path)
    assert r.status_code == status
    assert "text/html" in r.headers["content-type"]
    assert "not a medical device" in r.text


async def test_parent_sees_only_their_child(world: World) -> None:
    await _login(world, "mum")
    r = await world.client.get(f"/day?day={DAY}&tz=UTC")
    assert r.status_code == 200
    assert "Robin" in r.text and "KID-A1" in r.text
    assert "Alex" not in r.text and "KID-B2" not in r.text
    other = await world.client.get(f"/day?child={world.kid_b}&day={DAY}")
    assert other.status_code == 404 and "Alex" not in other.text
    week = await world.client.get(f"/week?child={world.kid_b}")
    assert week.status_code == 404


async def test_day_page_embeds_figures_matching_the_summary(world: World) -> None:
    from movereg.analysis import daily_summary

    await _login(world, "mum")
    r = await world.client.get(f"/day?child={world.kid_a}&day={DAY}&tz=UTC")
    html = r.text
    _no_external_urls(html)
    _strengths_based(html)
    figs = {f["layout"]["title"]["text"]: f for f in _json_blocks(html, "data-figure")}
    ribbon = figs["The day, hour by hour"]
    ep = world.store.epochs(child_id=world.kid_a, start_ns=D0 - 900 * NS,
                            end_ns=D0 + 87300 * NS)
    from datetime import date

    s = daily_summary(ep, world.store.list_events(child_id=world.kid_a), day=date(2026, 3, 2))
    bars = [t for t in ribbon["data"] if t["type"] == "bar"]
    assert np.allclose(bars[1]["y"], np.round(s.hourly_zone_s[:, 1] / 60, 2))
    assert "Time in each kind of movement" in figs
    assert "Wall push-ups" in html and "Please remember" in html
    assert "This band measures movement, not feelings." in html
    assert "View as table" in html and "<table" in html
    assert "Robin wore the band for 2 h 00 min." in html
    assert r.headers["content-security-policy"].startswith("default-src 'self'")


async def test_live_page_tiles_buttons_and_persisted_markers(world: World) -> None:
    await _login(world, "thera")
    csrf = world.client.cookies["movereg_csrf"]
    made = await world.client.post("/api/events", json={"child_id": world.kid_a,
                                                         "strategy": "pro.crash"},
                                   headers={"X-CSRF-Token": csrf})
    assert made.status_code == 201
    r = await world.client.get("/live")
    html = r.text
    _no_external_urls(html)
    _strengths_based(html)
    assert f'data-child-id="{world.kid_a}"' in html and f'data-child-id="{world.kid_b}"' in html
    figs = _json_blocks(html, "data-live-figure")
    assert [t["name"] for t in figs[0]["data"]] == [
        "Activity (ENMO, mg)", "Rhythmic movement (share, 0–1)", "Impacts (per epoch)"]
    inits = {i: b for i, b in zip((world.kid_a, world.kid_b), _json_blocks(html, "data-live-init"),
                                  strict=True)}
    assert [s["strategy"] for s in inits[world.kid_a]["spans"]] == ["pro.crash"]
    assert inits[world.kid_b]["spans"] == []
    assert html.count('class="btn strat"') >= 8 and 'id="pause"' in html
    assert "Crash pad / bean bag jumps" in html  # favourites include what was used
    one = await world.client.get(f"/live?child={world.kid_b}")
    assert one.text.count('class="tile"') == 1
    mum_kid_only = await world.client.get("/live?child=999")
    assert mum_kid_only.status_code == 404


async def test_export_page_lists_codes_and_dictionary(world: World) -> None:
    await _login(world, "res")
    r = await world.client.get("/export")
    assert "KID-A1" in r.text and "KID-B2" in r.text
    assert "Robin" not in r.text and "Alex" not in r.text
    assert "<code>enmo_mg</code>" in r.text and 'value="parquet"' in r.text
    assert 'value="KID-A1"' in r.text  # the export API takes codes
    _no_external_urls(r.text)


async def test_export_page_lists_only_consented_children_and_offers_choices(
        world: World) -> None:
    world.store.withdraw_consent(world.kid_b, withdrawn_by="thera")
    await _login(world, "res")
    r = await world.client.get("/export")
    assert 'value="KID-A1"' in r.text and "KID-B2" not in r.text   # consent withdrawn
    assert "agreed to research use" in r.text
    # epoch length: the recorded length first, then whole multiples of it
    sel = re.search(r'<select id="epoch_s" name="epoch_s"[^>]*>(.*?)</select>', r.text, re.S)
    assert sel is not None and '<label for="epoch_s">' in r.text
    values = [float(v) for v in re.findall(r'value="([0-9.]+)"', sel.group(1))]
    assert values[0] == 1.0 and {5.0, 15.0, 60.0} <= set(values)
    # feature checkboxes, each inside its label; the fixed columns are said plainly
    boxes = re.findall(r'<label class="check"><input type="checkbox" name="feature" '
                       r'value="([a-z0-9_]+)" checked>', r.text)
    assert "enmo_mg" in boxes and "jerk_p95_g_s" in boxes
    assert not {"epoch_start", "epoch_s", "coverage"} & set(boxes)
    assert "epoch_start, epoch_s and coverage are always included" in r.text
    assert "maximum of the stored epochs" in r.text  # aggregation rule in the dictionary
    await _login(world, "boss")
    r = await world.client.get("/export")
    assert 'value="KID-B2"' in r.text   # admins see every child


async def test_plotly_js_is_served_locally_and_cached(world: World) -> None:
    r = await world.client.get("/static/plotly.min.js")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/javascript")
    assert len(r.content) > 1_000_000 and b"plotly" in r.content[:2000].lower()
    again = await world.client.get("/static/plotly.min.js",
                                   headers={"If-None-Match": r.headers["etag"]})
    assert again.status_code == 304
    css = await world.client.get("/static/movereg.css")
    assert css.status_code == 200 and "@media print" in css.text


async def test_day_sentences_count_earlier_uses_with_their_own_data(world: World) -> None:
    """Earlier days' uses enter the per-strategy sentence, compared on their own windows."""
    for k, seed in ((1, 5), (2, 6)):
        t0 = D0 - k * 86_400 * NS + 9 * 3600 * NS
        world.store.write_batch(IngestBatch(epochs=[("band-a", _table(t0, 360, seed))]))
        world.store.create_event(world.kid_a, "pro.wall_push", started_at=t0 + 600 * NS)
    await _login(world, "mum")
    r = await world.client.get(f"/day?child={world.kid_a}&day={DAY}&tz=UTC")
    assert r.status_code == 200
    narrative = re.findall(r"<li>([^<]*)</li>", r.text)
    assert any(("of 3 uses" in n) for n in narrative), narrative
    assert "Only 1 use so far" not in r.text


async def test_strategy_explorer(world: World) -> None:
    for k in range(1, 4):   # three more wall push-ups on earlier days, with data around them
        t0 = D0 - k * 86_400 * NS + 9 * 3600 * NS
        world.store.write_batch(IngestBatch(epochs=[("band-a", _table(t0, 360, 10 + k))]))
        world.store.create_event(world.kid_a, "pro.wall_push", started_at=t0 + 600 * NS)
    world.store.create_event(world.kid_a, "pro.crash",
                             started_at=D0 - 86_400 * NS + 9 * 3600 * NS + 660 * NS)
    await _login(world, "thera")
    r = await world.client.get(f"/strategies?child={world.kid_a}&days=365")
    assert r.status_code == 200, r.text
    html = r.text
    _no_external_urls(html)
    _strengths_based(html)
    (fig,) = _json_blocks(html, "data-figure")
    assert any(y.startswith("Wall push-ups (n=") for y in fig["data"][0]["y"])
    assert "Descriptive, not proof" in html and "not proof" in html
    assert "another strategy close in time" in html   # the overlapping pair is named
    for who, status in (("mum", 403), ("res", 403)):
        await _login(world, who)
        assert (await world.client.get("/strategies")).status_code == status
    await _login(world, "thera")
    assert (await world.client.get("/strategies?child=999")).status_code == 404
    rhythm = await world.client.get(f"/strategies?child={world.kid_a}&feature=rhythmic_fraction")
    assert "rhythmic movement" in rhythm.text
