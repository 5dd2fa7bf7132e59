"""The hub: one asyncio task per connected band, blocks -> FeatureEngine -> sinks.

::

    band.blocks() --SampleBlock--> [resume check] --> BatchWriter.add_samples / add_gap
                                        |
                                        +--> ActivityTrace / SignalHealth --> Broadcaster ("activity")
                                        |
                                        +--> FeatureEngine.push --EpochTable--> BatchWriter.add_epochs
                                                                           +--> Broadcaster (live)

The fast activity trace (:mod:`movereg.pipeline.activity`) answers every block at once;
epochs follow when complete. The signal kernels compile in a background thread at
:meth:`Hub.start`; until they are ready, blocks are stored and traced as usual and held
for the engine. Each status tick also raises and clears device and data-health alerts
(:mod:`movereg.pipeline.alerts`).

Everything runs on the one event loop (uvicorn's). Storage writes go through the
:class:`~movereg.storage.BatchWriter` (a background thread, about one transaction a
second), so nothing on the loop waits for SQLite. The live broadcaster never blocks
either: each subscriber has a bounded drop-oldest queue. A band task that fails is
logged and shown in :meth:`Hub.status` (state ``stopped`` with the reason); it never
stops the hub or the other bands.

Crash recovery: at :meth:`Hub.start` the hub reads a small state file in the data
directory. If the previous run did not stop cleanly, the first block of each device is
compared to the end of that device's last stored samples, and the span in between is
recorded as a :class:`~movereg.models.Gap` with reason ``"crash"`` (``"disconnect"`` after
a clean stop). Samples that overlap what is already stored are trimmed (no duplicates),
and the epochs a crash left unfinished are recomputed from the stored samples
(:mod:`movereg.pipeline.resume`).

The hub in four modules: this one (lifecycle, connect/disconnect, status, live feed),
``_hub_band`` (the per-band task: resume check, storage, activity trace), ``_hub_engine``
(one feature engine per band, kernel warm-up, epochs out) and ``_hub_alerts`` (device
and data-health alerts); ``_hub_run`` holds the per-band book-keeping they share.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from movereg.config import Settings
from movereg.models import BandStatus
from movereg.pipeline._hub_alerts import HubAlerts
from movereg.pipeline._hub_band import HubBands
from movereg.pipeline._hub_run import BandRun, Engine, Writer, maybe_await
from movereg.pipeline.alerts import AlertBook, Condition
from movereg.pipeline.broadcast import Broadcaster, MessageFilter, Subscription
from movereg.pipeline.messages import jsonable, status_band
from movereg.pipeline.resume import mark_state, recovery_blocks, stored_end_ns
from movereg.sensors.band import Band, band_device_id

if TYPE_CHECKING:
    from movereg.storage import Store

__all__ = ["Band", "BandFactory", "Hub"]

log = logging.getLogger(__name__)

BandFactory = Callable[..., Band]


def _default_band_factory() -> BandFactory:
    from movereg.sensors import open_band

    return open_band


class Hub(HubBands, HubAlerts):
    """Connect bands, run their pipelines, fan epochs out to storage and live clients.

    Parameters
    ----------
    store
        A :class:`movereg.storage.Store` (sync API).
    settings
        :class:`~movereg.config.Settings` (``epoch_s``, ``flush_interval_s``, ``data_dir``).
    band_factory
        ``factory(target, *, device_id=...) -> Band``; defaults to
        :func:`movereg.sensors.open_band`.
    writer
        A BatchWriter-like sink; defaults to ``movereg.storage.BatchWriter(store,
        interval_s=settings.flush_interval_s)``.
    engine_factory
        ``factory(fs_hz) -> FeatureEngine``-like; defaults to
        ``FeatureEngine(fs_hz, epoch_s=settings.epoch_s)``.
    status_interval_s
        Period of the ``status`` live message, s.
    ring_size
        Recent live messages kept for SSE resume.
    """

    def __init__(self, store: Store, settings: Settings, *,
                 band_factory: BandFactory | None = None,
                 writer: Writer | None = None,
                 engine_factory: Callable[[float], Engine] | None = None,
                 status_interval_s: float = 1.0, ring_size: int = 512) -> None:
        self.store = store
        self.settings = settings
        self._band_factory = band_factory
        self._writer = writer
        self._engine_factory = engine_factory
        self._status_interval_s = status_interval_s
        self.broadcaster = Broadcaster(ring_size=ring_size)
        self._runs: dict[str, BandRun] = {}
        self._ticker: asyncio.Task[None] | None = None
        self._started = False
        self._previous_clean = True
        self._sim_counter = 0
        self._seen: set[str] = set()
        self.started_ns: int | None = None
        self._warm_task: asyncio.Task[None] | None = None
        self._warm_delay_s = 1.0
        self._engine_ready = False
        self.engine_ready_s: float | None = None   # how long the kernels took to be ready
        self.alerts = AlertBook()
        self._storage: tuple[int, Condition | None] = (0, None)   # (checked at, condition)

    # --- lifecycle ---------------------------------------------------------------------
    async def start(self) -> None:
        """Start the storage writer and status ticker; the kernels compile in the
        background (a thread: they are ``nogil``), so pages answer at once.

        Until :attr:`engine_state` is ``"ready"``, blocks are stored and drawn on the
        activity trace as they arrive; their epochs follow when the kernels are ready.
        """
        if self._started:
            return
        if self._engine_factory is None:
            self._warm_task = asyncio.create_task(self._warm(), name="movereg-hub-warmup")
        else:
            self._engine_ready = True
        if self._writer is None:
            from movereg.storage import BatchWriter

            self._writer = BatchWriter(self.store, interval_s=self.settings.flush_interval_s)
        await maybe_await(self._writer.start())
        self._previous_clean = mark_state(self.settings.data_dir, clean=False)
        self._started = True
        self.started_ns = time.time_ns()
        self._ticker = asyncio.create_task(self._status_loop(), name="movereg-hub-status")

    async def stop(self) -> None:
        """Disconnect every band (flushing their last epochs), then flush storage."""
        if not self._started:
            return
        results = await asyncio.gather(*(self.disconnect(d) for d in list(self._runs)),
                                       return_exceptions=True)
        if self._warm_task is not None and not self._warm_task.done():
            self._warm_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._warm_task
        for r in results:
            if isinstance(r, BaseException):
                log.warning("hub: stopping a band: %s", r)
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
            self._ticker = None
        self.broadcaster.close_all()
        if self._writer is not None:
            stopped = self._writer.stop
            if inspect.iscoroutinefunction(stopped):
                await stopped()
            else:
                await asyncio.to_thread(stopped)
        mark_state(self.settings.data_dir, clean=True)
        self._started = False

    async def __aenter__(self) -> Hub:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # --- bands -------------------------------------------------------------------------
    async def connect(self, target: str, *, child_id: int | None = None,
                      session_id: int | None = None, device_id: str | None = None,
                      options: dict[str, Any] | None = None) -> str:
        """Open ``target`` (``"sim"``, ``"sim:<seed>"`` or a BLE address) and stream it.

        ``options`` go to the band factory (e.g. a simulated band's ``scenario``).
        Returns the device id. The band's task runs until :meth:`disconnect`.
        """
        if not self._started:
            raise RuntimeError("Hub.connect() before Hub.start()")
        if device_id is None:
            device_id = band_device_id(target)  # an address, or sim:<seed> -> sim-<seed>
            while device_id is None:            # plain sim: the next free sim-N
                self._sim_counter += 1
                if f"sim-{self._sim_counter}" not in self._runs:
                    device_id = f"sim-{self._sim_counter}"
        if device_id in self._runs:
            from movereg.errors import ValidationError

            raise ValidationError(f"device {device_id} is already connected")
        factory = self._band_factory or _default_band_factory()
        band = factory(target, device_id=device_id, **(options or {}))
        run = BandRun(device_id=device_id, target=target, band=band, child_id=child_id,
                   session_id=session_id)
        self._runs[device_id] = run          # reserve the id before awaiting anything
        try:
            run.resume_from_ns = await asyncio.to_thread(
                stored_end_ns, self.store, self.settings.db_path, device_id)
            if run.resume_from_ns is not None:
                run.backlog, run.replay_after = await asyncio.to_thread(
                    recovery_blocks, self.store, device_id, run.resume_from_ns,
                    self.settings.epoch_s)
            await asyncio.to_thread(self._register, run)
        except BaseException:
            self._runs.pop(device_id, None)
            raise
        # a crash gap only for the first connection after an unclean end of the process
        clean = self._previous_clean or device_id in self._seen
        run.resume_reason = "disconnect" if clean else "crash"
        self._seen.add(device_id)
        run.task = asyncio.create_task(self._run_band(run), name=f"movereg-band-{device_id}")
        return device_id

    async def disconnect(self, device_id: str) -> None:
        """Stop a band's task; its trailing partial epoch is flushed to storage."""
        run = self._runs.pop(device_id, None)
        if run is None:
            from movereg.errors import NotFoundError

            raise NotFoundError(f"device {device_id} is not connected")
        run.stopping = True
        if run.held:                 # epochs of the held blocks need the kernels
            await self.wait_engine()
        if run.task is not None and not run.task.done():
            run.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await run.task
        self._publish_status()

    def status(self) -> list[BandStatus]:
        """One :class:`BandStatus` per connected band (failures as ``stopped`` + reason)."""
        return [self._band_status(run) for run in self._runs.values()]

    def metrics(self) -> dict[str, Any]:
        """Counters for the status message and diagnostics."""
        b = self.broadcaster
        out: dict[str, Any] = {
            "bands": len(self._runs),
            "samples": sum(r.samples for r in self._runs.values()),
            "epochs": sum(r.epochs for r in self._runs.values()),
            "subscribers": len(b.subscribers),
            "published": b.published,
            "dropped": b.dropped_total,
            "engine": self.engine_state,
        }
        from movereg.storage import BatchWriter

        w = self._writer
        if isinstance(w, BatchWriter):      # is storage keeping up?
            out["storage_pending"] = w.pending
            out["storage_failures"] = w.stats.failures
            out["storage_dropped"] = w.stats.dropped_items
            out["storage_error"] = w.stats.last_error
        return out

    # --- live --------------------------------------------------------------------------
    def subscribe(self, maxsize: int = 256, *,
                  message_filter: MessageFilter | None = None) -> Subscription:
        """A live subscription (async iterator of dict messages; drop-oldest when full)."""
        return self.broadcaster.subscribe(maxsize, message_filter=message_filter)

    def close_live(self) -> None:
        """End every live subscription now (their WebSocket / SSE responses finish).

        Call it when the server starts shutting down: uvicorn waits for open responses
        before it runs the lifespan shutdown, and an SSE stream never ends by itself.
        """
        self.broadcaster.close_all()

    def publish_event(self, message: dict[str, Any]) -> None:
        """Forward a strategy event (created/edited/voided) to live clients.

        ``message`` should carry ``child_id``; ``type`` defaults to ``"event"``. Its
        ``id`` (the strategy event's id) is delivered as ``event_id``: ``id`` is the live
        feed's own message id.
        """
        msg = dict(message)
        if "id" in msg:
            msg.setdefault("event_id", msg["id"])
            del msg["id"]
        msg.setdefault("type", "event")
        msg.setdefault("ts_ns", time.time_ns())
        self.broadcaster.publish(jsonable(msg))

    def _publish_status(self) -> None:
        bands = []
        for run in self._runs.values():
            bands.append(status_band(self._band_status(run), child_id=run.child_id,
                                     session_id=run.session_id, error=run.error,
                                     samples=run.samples, epochs=run.epochs))
        self.broadcaster.publish({"type": "status", "ts_ns": time.time_ns(),
                                  "bands": bands, "hub": self.metrics()}, replayable=False)

    async def _status_loop(self) -> None:
        while True:
            await asyncio.sleep(self._status_interval_s)
            try:
                self._publish_status()
                await self.check_alerts()
            except Exception:  # a status glitch must not end the ticker
                log.exception("hub: status message failed")
