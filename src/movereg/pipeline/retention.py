"""Raw-sample retention while the server runs: raw samples older than
``Settings.raw_retention_days`` are deleted at start-up and then every hour.

A server that runs for months must still keep the promise of ``docs/privacy.md`` (the
detailed movement signal is removed once it is ``raw_retention_days`` old), not only when
it restarts. Every hour because the window is whole days: a raw block is gone at most an
hour after it left the window, and each purge deletes about an hour of raw samples per
band, a short write transaction that live writes barely wait for (a daily purge would
hold them up for a day's worth). With nothing to delete a purge is a few index look-ups
per band (:meth:`~movereg.storage.Store.delete_raw_before`) and writes nothing.

The cutoff is the one every import keeps raw samples from
(:func:`~movereg.pipeline.importer.raw_from_ns`). A purge that deleted something is
audited (``retention.raw``: ``blocks``, ``before_ns``, ``days``); one that fails is
logged and the next runs as planned.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

from movereg.config import Settings
from movereg.pipeline.importer import raw_from_ns
from movereg.storage import Store

__all__ = ["PURGE_EVERY_S", "RawRetention", "apply_retention"]

log = logging.getLogger(__name__)

#: Seconds between two purges while the server runs (the first is at start-up).
PURGE_EVERY_S = 3600.0


def apply_retention(settings: Settings, store: Store, now_ns: int | None = None) -> int:
    """Delete raw samples older than ``settings.raw_retention_days`` at ``now_ns`` (UTC ns;
    default now): the cutoff an import keeps raw samples from. Audited when something was
    deleted; returns the number of raw blocks deleted. Blocking (SQLite)."""
    cutoff = raw_from_ns(settings.raw_retention_days, now_ns)
    n = store.delete_raw_before(cutoff)
    if n:
        store.audit("system", "retention.raw", detail={"blocks": n, "before_ns": cutoff,
                                                       "days": settings.raw_retention_days})
    return n


class RawRetention:
    """The raw-sample purge of one server (``app.state.raw_retention``).

    Parameters
    ----------
    settings
        ``raw_retention_days``.
    interval_s
        Seconds between purges after the one at start-up (default :data:`PURGE_EVERY_S`).
    clock
        UTC ns now, the time a purge cuts from (default :func:`time.time_ns`).
    sleep
        How the loop waits ``interval_s`` (default :func:`asyncio.sleep`).
    """

    def __init__(self, settings: Settings, *, interval_s: float = PURGE_EVERY_S,
                 clock: Callable[[], int] = time.time_ns,
                 sleep: Callable[[float], Awaitable[object]] = asyncio.sleep) -> None:
        self.settings = settings
        self.interval_s = float(interval_s)
        self.clock = clock
        self._sleep = sleep
        self._store: Store | None = None
        self._task: asyncio.Task[None] | None = None
        self._purging: asyncio.Future[int] | None = None

    @property
    def running(self) -> bool:
        """True while the periodic purge is scheduled."""
        return self._task is not None and not self._task.done()

    async def start(self, store: Store) -> None:
        """Purge once (before the first page is served), then every ``interval_s``."""
        self._store = store
        await self.purge()
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name="movereg-raw-retention")

    async def stop(self) -> None:
        """Stop the loop; a purge under way finishes first (the store may close next)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._purging is not None:
            with contextlib.suppress(Exception):   # already logged by purge()
                await self._purging
            self._purging = None

    async def purge(self) -> int | None:
        """One purge off the event loop: blocks deleted, or None when it failed (logged)."""
        if self._store is None:
            raise RuntimeError("RawRetention.purge before start")
        try:
            self._purging = asyncio.ensure_future(asyncio.to_thread(
                apply_retention, self.settings, self._store, self.clock()))
            # shielded: a stop() mid-purge lets the SQLite work end before the store closes
            return await asyncio.shield(self._purging)
        except asyncio.CancelledError:
            raise
        except Exception:   # a purge never stops the server; the next one runs as planned
            log.exception("raw-sample retention failed; trying again in %.0f s",
                          self.interval_s)
            return None

    async def _loop(self) -> None:
        while True:
            await self._sleep(self.interval_s)
            await self.purge()
