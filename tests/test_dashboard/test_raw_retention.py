"""Raw samples are deleted once ``raw_retention_days`` old while the server runs (at
start-up, then every hour), not only when it restarts (docs/privacy.md).

The app runs for real (lifespan, store, audit); its purge gets a test clock and a sleep
the test ticks on the app's own event loop, so hours pass without waiting for them."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from h5_api_support import Api, make_api

from movereg.config import Settings
from movereg.errors import StorageError
from movereg.models import SampleBlock
from movereg.pipeline.retention import PURGE_EVERY_S, RawRetention
from movereg.storage import IngestBatch, Store

HOUR = 3600 * 10**9
DAY = 24 * HOUR
NOW = 1_780_000_000 * 10**9   # the test clock's start (UTC ns)


class Clock:
    """UTC ns the test moves by hand."""

    def __init__(self, now_ns: int) -> None:
        self.now_ns = now_ns

    def __call__(self) -> int:
        return self.now_ns


class Ticks:
    """The purge loop's sleep, driven by the test: each sleep notes how long it was asked
    for and ends when the test ticks (on the app's event loop, through the client's
    portal)."""

    def __init__(self) -> None:
        self.asked: list[float] = []
        self._cond = asyncio.Condition()
        self._sleeping = False

    async def sleep(self, seconds: float) -> None:
        self.asked.append(seconds)
        async with self._cond:
            self._sleeping = True
            self._cond.notify_all()
            await self._cond.wait_for(lambda: not self._sleeping)

    async def tick(self) -> None:
        """Wake the loop once; returns when it has purged and sleeps again."""
        async with asyncio.timeout(60), self._cond:   # a hang fails instead of waiting
            await self._cond.wait_for(lambda: self._sleeping)
            self._sleeping = False
            self._cond.notify_all()
            await self._cond.wait_for(lambda: self._sleeping)


@contextlib.contextmanager
def _server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
            retention: RawRetention) -> Iterator[Api]:
    """The app with this purge, running until the block ends (then shut down)."""
    run = make_api(tmp_path, monkeypatch, raw_retention=retention)
    api = next(run)
    try:
        yield api
    finally:
        next(run, None)   # leave the client: the lifespan shuts down, the store closes


def _retention(tmp_path: Path, clock: Clock, ticks: Ticks) -> RawRetention:
    return RawRetention(Settings(data_dir=tmp_path / "data"), clock=clock, sleep=ticks.sleep)


def _write_raw(store: Store, *blocks: tuple[str, int]) -> None:
    store.write_batch(IngestBatch(raw=[
        (dev, SampleBlock(dev, t0, 52.0, np.zeros((52, 3), np.float32)))
        for dev, t0 in blocks]))


def _raw_t0s(store: Store, device_id: str) -> list[int]:
    return [c.t0_ns for c in store.iter_raw(device_id=device_id)]


def _purges(store: Store) -> list[dict[str, int]]:
    return [json.loads(e.detail) for e in store.list_audit(limit=50)
            if e.action == "retention.raw"]


def test_raw_leaving_the_window_is_deleted_while_the_server_runs(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    clock, ticks = Clock(NOW), Ticks()
    retention = _retention(tmp_path, clock, ticks)
    with _server(tmp_path, monkeypatch, retention) as api:
        days = api.settings.raw_retention_days
        assert retention.settings.raw_retention_days == days == 90
        edge = NOW - days * DAY          # the window's start when the server started
        leaving = [("dev-a", edge + HOUR), ("dev-b", edge + HOUR + 10**9)]
        staying = ("dev-a", edge + 3 * HOUR)
        _write_raw(api.store, *leaving, staying)

        api.client.portal.call(ticks.tick)   # an hour on, the clock still at NOW
        assert _raw_t0s(api.store, "dev-a") == [edge + HOUR, edge + 3 * HOUR]
        assert _purges(api.store) == []      # nothing deleted: nothing audited

        clock.now_ns = NOW + 2 * HOUR        # two blocks have left the window
        api.client.portal.call(ticks.tick)
        assert _raw_t0s(api.store, "dev-a") == [edge + 3 * HOUR]
        assert _raw_t0s(api.store, "dev-b") == []
        assert _purges(api.store) == [{"blocks": 2, "before_ns": edge + 2 * HOUR,
                                       "days": 90}]
        assert retention.running
        # the epochs of the same time stay: only raw samples have a retention
        assert api.client.get(f"/api/children/{api.child_a.id}",
                              headers=api.h("tess")).status_code == 200
    assert ticks.asked == [PURGE_EVERY_S] * 3 and PURGE_EVERY_S == 3600.0


def test_shutdown_stops_the_purge(tmp_path: Path) -> None:
    """The lifespan's shutdown cancels the loop itself (checked on the same event loop,
    before anything else could cancel it); the store is closed only after that."""
    from h5_api_support import FakeHub

    from movereg.dashboard.app import create_app

    clock, ticks = Clock(NOW), Ticks()
    retention = _retention(tmp_path, clock, ticks)

    async def run() -> None:
        with Store(retention.settings.db_path) as store:
            app = create_app(retention.settings, hub=FakeHub(),
                             store=store, raw_retention=retention)
            async with app.router.lifespan_context(app):
                await ticks.tick()
                assert retention.running and app.state.raw_retention is retention
                task = retention._task
            assert task is not None and task.cancelled()
            assert not retention.running

    asyncio.run(run())
    assert ticks.asked == [PURGE_EVERY_S] * 2


def test_the_purge_at_start_up_still_runs_first(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Raw samples past the window when the server starts are gone before any request."""
    clock, ticks = Clock(NOW), Ticks()
    settings = Settings(data_dir=tmp_path / "data")
    edge = NOW - settings.raw_retention_days * DAY
    with Store(settings.db_path) as store:
        _write_raw(store, ("dev-a", edge - 10**9), ("dev-a", edge + 10**9))
    with _server(tmp_path, monkeypatch, _retention(tmp_path, clock, ticks)) as api:
        assert _raw_t0s(api.store, "dev-a") == [edge + 10**9]
        assert [p["blocks"] for p in _purges(api.store)] == [1]


def _failing(times: int) -> tuple[list[int], Callable[..., int]]:
    """``Store.delete_raw_before`` failing its first ``times`` calls (calls counted)."""
    real = Store.delete_raw_before
    calls: list[int] = []

    def delete_raw_before(self: Store, cutoff_ns: int) -> int:
        calls.append(cutoff_ns)
        if len(calls) <= times:
            raise StorageError("database is locked", advice="try again")
        return real(self, cutoff_ns)

    return calls, delete_raw_before


def test_a_failing_purge_is_logged_and_the_next_one_runs(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    """The store failing at start-up and at the first hourly purge: the server starts and
    keeps running, each failure is logged, the next purge deletes what is due."""
    clock, ticks = Clock(NOW), Ticks()
    calls, failing = _failing(2)
    monkeypatch.setattr(Store, "delete_raw_before", failing)
    caplog.set_level(logging.ERROR, logger="movereg.pipeline.retention")
    retention = _retention(tmp_path, clock, ticks)
    with _server(tmp_path, monkeypatch, retention) as api:
        edge = NOW - api.settings.raw_retention_days * DAY
        _write_raw(api.store, ("dev-a", edge - HOUR), ("dev-a", edge + HOUR))
        api.client.portal.call(ticks.tick)
        assert len(calls) == 2 and retention.running
        failed = [r for r in caplog.records if r.name == "movereg.pipeline.retention"]
        assert len(failed) == 2 and all("retention failed" in r.getMessage() and
                                        r.exc_info is not None for r in failed)
        assert _raw_t0s(api.store, "dev-a") == [edge - HOUR, edge + HOUR]

        api.client.portal.call(ticks.tick)
        assert len(calls) == 3
        assert _raw_t0s(api.store, "dev-a") == [edge + HOUR]
        assert [p["blocks"] for p in _purges(api.store)] == [1]
        assert api.client.get("/api/health").json()["status"] == "ok"
    assert not retention.running


def test_a_purge_under_way_ends_before_stop_returns(tmp_path: Path) -> None:
    """Stopping mid-purge (its SQLite work in a worker thread) waits for that work, so the
    lifespan never closes the store under a running delete."""
    entered, release = threading.Event(), threading.Event()
    deleted: list[int] = []

    class SlowStore:
        def delete_raw_before(self, cutoff_ns: int) -> int:
            if deleted:           # the start-up purge is quick; the next one waits
                entered.set()
                release.wait(60)
            deleted.append(cutoff_ns)
            return 0

    clock, ticks = Clock(NOW), Ticks()
    retention = _retention(tmp_path, clock, ticks)

    async def run() -> None:
        await retention.start(SlowStore())  # type: ignore[arg-type]
        ticking = asyncio.create_task(ticks.tick())
        await asyncio.to_thread(entered.wait, 60)
        stopping = asyncio.create_task(retention.stop())
        try:
            await asyncio.wait({stopping}, timeout=0.2)
            assert not stopping.done() and len(deleted) == 1   # waits for the delete
        finally:
            release.set()
        await stopping
        assert len(deleted) == 2 and not retention.running
        ticking.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await ticking

    asyncio.run(run())
