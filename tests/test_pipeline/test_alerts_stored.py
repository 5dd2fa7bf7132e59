"""Alerts are stored: raised, acknowledged and cleared rows survive a restart, an alert
still true afterwards stays one alert, other code raises and clears its own, and the
API lists the active ones or the history a page at a time."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest
from test_hub_alerts import PASSWORD, ScriptBand, _bearer, _Factory, _ingested, serve_hub

from movereg.config import Settings
from movereg.dashboard.auth import hash_password
from movereg.pipeline import Hub
from movereg.pipeline.alerts import AlertBook, Condition
from movereg.storage.store import Store

S = 1_000_000_000


class _World:
    def __init__(self, tmp_path: Path) -> None:
        self.settings = Settings(data_dir=tmp_path, epoch_s=1.0)
        self.store = Store(self.settings.db_path)
        self.kid = self.store.create_child(display_name="Robin").id
        self.factory = _Factory()
        self.hub: Hub | None = None
        self.connects = 0

    async def start(self) -> Hub:
        self.hub = Hub(self.store, self.settings, band_factory=self.factory,
                       status_interval_s=3600.0)
        await self.hub.start()
        return self.hub

    async def band(self, battery: int) -> ScriptBand:
        assert self.hub is not None
        dev = await self.hub.connect("sim", child_id=self.kid, device_id="band-1")
        band = self.factory.bands[dev]
        self.connects += 1
        band.t_next += 60 * S * self.connects    # after what the last band stored
        band.battery = battery
        band.moving(1)
        await _ingested(self, band)
        return band

    async def restart(self) -> Hub:
        assert self.hub is not None
        await self.hub.stop()
        return await self.start()


@pytest.fixture
async def world(tmp_path: Path) -> Any:
    w = _World(tmp_path)
    await w.start()
    try:
        yield w
    finally:
        if w.hub is not None:
            await w.hub.stop()
        w.store.close()


def _actions(store: Store) -> list[str]:
    return [e.action for e in store.list_audit(limit=100)[::-1] if e.action.startswith("alert.")]


async def test_raise_acknowledge_clear_are_stored_and_survive_a_restart(world: Any) -> None:
    hub = world.hub
    band = await world.band(battery=9)
    [(_, alert)] = await hub.check_alerts()
    await hub.acknowledge_alert(alert.id, "ana(therapist)")
    [row] = world.store.list_alerts(active_only=True)
    assert (row["id"], row["kind"], row["device_id"], row["child_id"], row["acked_by"],
            row["ended_ns"]) == (alert.id, "battery_low", "band-1", world.kid,
                                 "ana(therapist)", None)
    hub = await world.restart()                     # the band is not back yet
    assert [a.id for a in hub.alerts.list(active_only=True)] == [alert.id]
    assert await hub.check_alerts() == []           # kept while the band may come back
    band = await world.band(battery=9)              # back, still low: the same alert
    assert await hub.check_alerts() == []
    [again] = hub.alerts.list(active_only=True)
    assert (again.id, again.started_ns, again.acked_by) == (alert.id, alert.started_ns,
                                                            "ana(therapist)")
    band.battery = 70
    await asyncio.sleep(0)
    [(action, cleared)] = await hub.check_alerts()
    assert (action, cleared.id) == ("cleared", alert.id)
    assert world.store.list_alerts(active_only=True) == []
    [row] = world.store.list_alerts(active_only=False)
    assert row["ended_ns"] == cleared.ended_ns and row["acked_by"] == "ana(therapist)"
    assert _actions(world.store) == ["alert.raised", "alert.acknowledged", "alert.cleared"]


async def test_an_alert_whose_band_never_comes_back_clears_after_the_grace(world: Any) -> None:
    await world.band(battery=9)
    [(_, alert)] = await world.hub.check_alerts()
    hub = await world.restart()
    grace = int(2 * world.settings.alert_disconnected_s * S)
    assert await hub.check_alerts(now_ns=hub.started_ns + grace - S) == []
    [(action, cleared)] = await hub.check_alerts(now_ns=hub.started_ns + grace + S)
    assert (action, cleared.id) == ("cleared", alert.id)


async def test_other_code_raises_and_clears_its_own_alert(world: Any) -> None:
    hub = world.hub
    sub = hub.subscribe(maxsize=100)
    alert = await hub.raise_alert("band_memory_full", "band-9",
                                  "Band band-9: memory nearly full (92 %)", child_id=world.kid)
    assert alert is not None and alert.source == "raised" and alert.active
    assert await hub.raise_alert("band_memory_full", "band-9", "again") is None
    far = hub.started_ns + 3600 * S
    assert await hub.check_alerts(now_ns=far) == []   # the checks leave it alone
    hub = await world.restart()
    assert await hub.check_alerts(now_ns=hub.started_ns + 3600 * S) == []
    [kept] = hub.alerts.list(active_only=True)
    assert (kept.id, kept.source, kept.text) == (alert.id, "raised",
                                                 "Band band-9: memory nearly full (92 %)")
    cleared = await hub.clear_alert("band_memory_full", "band-9")
    assert cleared is not None and cleared.id == alert.id and not cleared.active
    assert await hub.clear_alert("band_memory_full", "band-9") is None
    assert world.store.list_alerts(active_only=True) == []
    msgs = []
    while (m := sub.get_nowait()) is not None:
        if m["type"] == "alert":
            msgs.append((m["action"], m["kind"], m["alert_id"]))
    assert msgs == [("raised", "band_memory_full", alert.id)]  # the first hub's feed
    assert _actions(world.store) == ["alert.raised", "alert.cleared"]
    with pytest.raises(ValueError, match="unknown alert kind"):
        await hub.raise_alert("child_upset", "band-9", "never")


async def test_acknowledging_an_alert_cleared_before_a_restart(world: Any) -> None:
    alert = await world.hub.raise_alert("battery_low", "band-7", "Band band-7: battery low")
    await world.hub.clear_alert("battery_low", "band-7")
    hub = await world.restart()
    assert hub.alerts.get(alert.id, stored=False) is None
    acked = await hub.acknowledge_alert(alert.id, "ana(therapist)")
    assert acked is not None and acked.acked_by == "ana(therapist)" and not acked.active
    [row] = world.store.list_alerts(active_only=False)
    assert row["acked_by"] == "ana(therapist)" and row["ended_ns"] == acked.ended_ns
    assert await hub.acknowledge_alert(alert.id + 1, "ana(therapist)") is None


def test_book_pages_newest_first_and_filters_by_child(tmp_path: Path) -> None:
    store = Store(tmp_path / "m.sqlite")
    kids = [store.create_child(display_name=n).id for n in ("A", "B")]
    book = AlertBook(store)
    made = []
    for k in range(7):
        child = kids[k % 2] if k != 6 else None
        a = book.raise_alert(Condition("battery_low", f"dev-{k}", child, None, k * S, "low"))
        assert a is not None and book.save(a)
        made.append(a)
    for a in made[:3]:
        ended = book.clear_alert("battery_low", a.device_id, 10 * S)
        assert ended is not None and book.save(ended)
    active = book.page()
    assert [a.id for a in active] == [m.id for m in made[3:]][::-1]
    first = book.page(active_only=False, limit=4)
    rest = book.page(active_only=False, limit=4, before_id=first[-1].id)
    assert [a.id for a in first + rest] == [m.id for m in made][::-1]
    a_only = book.page(active_only=False, child_ids={kids[0]})
    assert {a.child_id for a in a_only} == {kids[0], None}
    assert [a.id for a in book.page(child_ids=set())] == [made[6].id]  # storage-like only
    fresh = AlertBook(store)                          # a restart
    assert {a.id for a in fresh.load()} == {m.id for m in made[3:]}
    nxt = fresh.raise_alert(Condition("battery_low", "dev-new", None, None, 0, "low"))
    assert nxt is not None and nxt.id == made[-1].id + 1
    store.close()


def test_a_failed_save_is_kept_and_retried(tmp_path: Path) -> None:
    from movereg.errors import DiskFullError

    store = Store(tmp_path / "m.sqlite")

    class Full:
        full = True

        def __getattr__(self, name: str) -> Any:
            return getattr(store, name)

        def save_alert(self, row: dict[str, Any]) -> None:
            if self.full:
                raise DiskFullError("disk full")
            store.save_alert(row)

    flaky = Full()
    book = AlertBook(flaky)
    a = book.raise_alert(Condition("storage_full", None, None, None, 0, "Storage nearly full"))
    assert a is not None and not book.save(a)
    assert [x.id for x in book.page()] == [a.id]      # listed from memory meanwhile
    flaky.full = False
    b = book.raise_alert(Condition("battery_low", "dev-1", None, None, S, "low"))
    assert b is not None and book.save(b)
    assert [r["id"] for r in store.list_alerts()] == [b.id, a.id]
    store.close()


async def test_api_lists_active_or_history_in_pages(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, epoch_s=1.0)
    store = Store(settings.db_path)
    kid = store.create_child(display_name="Robin").id
    ana = store.create_user("ana", hash_password(PASSWORD), "therapist")
    store.link_user_child(ana.id, kid)
    async with serve_hub(store, settings, _Factory()) as (hub, url):
        ids = []
        for k in range(3):
            a = await hub.raise_alert("battery_low", f"band-{k}", "low", child_id=kid)
            assert a is not None
            ids.append(a.id)
        await hub.clear_alert("battery_low", "band-0")
        async with httpx.AsyncClient(base_url=url, timeout=30) as c:
            auth = await _bearer(c, "ana")
            r = await c.get("/api/alerts", headers=auth)
            assert r.status_code == 200 and [x["id"] for x in r.json()] == ids[:0:-1]
            r = await c.get("/api/alerts", params={"include": "cleared", "limit": 2},
                            headers=auth)
            page1 = r.json()
            assert [x["id"] for x in page1] == ids[:0:-1]
            r = await c.get("/api/alerts", params={"include": "cleared", "limit": 2,
                                                   "before_id": page1[-1]["id"]}, headers=auth)
            [old] = r.json()
            assert old["id"] == ids[0] and not old["active"] and old["ended_at"]
            r = await c.get("/api/alerts", params={"include": "everything"}, headers=auth)
            assert r.status_code == 422
