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
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from movereg.config import Settings
from movereg.models import BandState, BandStatus, Gap, SampleBlock
from movereg.pipeline._hub_alerts import HubAlerts
from movereg.pipeline._hub_engine import HubEngine
from movereg.pipeline.activity import ActivityTrace
from movereg.pipeline.alerts import AlertBook, Condition
from movereg.pipeline.broadcast import Broadcaster, MessageFilter, Subscription
from movereg.pipeline.health import SignalHealth
from movereg.pipeline.messages import activity_message, epoch_messages, jsonable, status_band
from movereg.pipeline.resume import (
    mark_state,
    overlap_samples,
    recovery_blocks,
    stored_end_ns,
    table_tail,
    trimmed,
)
from movereg.sensors.band import Band, band_device_id
from movereg.sensors.clock import gap_between, with_gaps
from movereg.signal.table import EpochTable, columns_as_lists

if TYPE_CHECKING:
    from movereg.storage import Store

__all__ = ["Band", "BandFactory", "Hub"]

log = logging.getLogger(__name__)

#: A jump longer than this (s) starts a fresh feature engine instead of filling the gap
#: with missing-data rows (which would emit one empty epoch per second of the gap).
_MAX_BRIDGE_S = 300.0


BandFactory = Callable[..., Band]


class _Writer(Protocol):
    # start/stop may be plain or ``async`` methods (the hub accepts both)
    def start(self) -> Awaitable[None] | None: ...
    def stop(self) -> Awaitable[None] | None: ...
    def add_samples(self, device_id: str, block: SampleBlock) -> None: ...
    def add_epochs(self, device_id: str, table: EpochTable) -> None: ...
    def add_gap(self, device_id: str, gap: Gap) -> None: ...


class _Engine(Protocol):
    def push(self, samples: np.ndarray, t0_ns: int | None = None) -> EpochTable: ...
    def flush(self) -> EpochTable: ...


@dataclass
class _Run:
    """Book-keeping for one connected band."""

    device_id: str
    target: str
    band: Band
    child_id: int | None
    session_id: int | None
    task: asyncio.Task[None] | None = None
    engine: _Engine | None = None
    engine_fs: float = 0.0
    last_end_ns: int | None = None      # exclusive end of the last block written
    resume_from_ns: int | None = None   # end of stored samples from an earlier run
    resume_reason: str = "disconnect"
    backlog: list[SampleBlock] = field(default_factory=list)   # stored tail to replay
    replay_after: int | None = None     # epochs up to this start are already stored
    samples: int = 0
    epochs: int = 0
    blocks: int = 0
    error: str | None = None
    stopping: bool = False
    activity: ActivityTrace = field(default_factory=ActivityTrace)
    held: list[SampleBlock] = field(default_factory=list)   # waiting for the kernels
    health: SignalHealth = field(default_factory=SignalHealth)
    connected_ns: int = field(default_factory=time.time_ns)
    last_rx_ns: int | None = None       # host time of the last block


def _default_band_factory() -> BandFactory:
    from movereg.sensors import open_band

    return open_band


class Hub(HubEngine, HubAlerts):
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
                 writer: _Writer | None = None,
                 engine_factory: Callable[[float], _Engine] | None = None,
                 status_interval_s: float = 1.0, ring_size: int = 512) -> None:
        self.store = store
        self.settings = settings
        self._band_factory = band_factory
        self._writer = writer
        self._engine_factory = engine_factory
        self._status_interval_s = status_interval_s
        self.broadcaster = Broadcaster(ring_size=ring_size)
        self._runs: dict[str, _Run] = {}
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
        await _maybe_await(self._writer.start())
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
        run = _Run(device_id=device_id, target=target, band=band, child_id=child_id,
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

    # --- the per-band task -------------------------------------------------------------
    def _band_status(self, run: _Run) -> BandStatus:
        try:
            st = run.band.status()
        except Exception as exc:  # a broken band still gets a row
            st = BandStatus(device_id=run.device_id, family="unknown",
                            state=BandState.STOPPED, reason=f"status failed: {exc}")
        if run.error is not None:
            st = BandStatus(device_id=st.device_id, family=st.family, state=BandState.STOPPED,
                            rate_hz=None, battery_pct=st.battery_pct,
                            last_data_ns=st.last_data_ns, reason=run.error,
                            samples_lost=st.samples_lost)
        return st

    async def _run_band(self, run: _Run) -> None:
        writer = self._writer
        assert writer is not None
        try:
            if run.backlog:
                await self.wait_engine()
                self._replay(run, writer)
            await run.band.start()
            async for block in run.band.blocks():
                self._ingest(run, block, writer)
        except asyncio.CancelledError:
            if not run.stopping:
                raise
        except Exception as exc:
            run.error = f"pipeline stopped: {type(exc).__name__}: {exc}"
            log.exception("hub: band %s failed", run.device_id)
        finally:
            if run.held:             # the stream ended before the kernels were ready
                with contextlib.suppress(asyncio.CancelledError):
                    await self.wait_engine()
            self._finish_engine(run, writer)
            try:
                await asyncio.shield(run.band.stop())
            except asyncio.CancelledError:
                pass
            except Exception as exc:
                log.warning("hub: stopping band %s: %s", run.device_id, exc)
        if run.error is None and not run.stopping:
            run.error = "stream ended"

    def _ingest(self, run: _Run, block: SampleBlock, writer: _Writer) -> None:
        rx_ns = time.time_ns()
        block = self._resume_check(run, block, writer)
        if block.n == 0:
            return
        for gap in block.gaps:
            writer.add_gap(run.device_id, gap)
        writer.add_samples(run.device_id, block)
        run.samples += block.n
        run.blocks += 1
        run.last_end_ns = block.t_end_ns
        self._emit_activity(run, block, rx_ns)
        if not self._engine_ready:          # kernels still compiling: epochs follow
            run.held.append(block)
            return
        if run.held:
            self._push_held(run, writer, rx_ns)
        engine = self._engine_for(run, block, writer)
        table = engine.push(block.samples, block.t0_ns)
        self._emit(run, table, writer, rx_ns)

    def _push_held(self, run: _Run, writer: _Writer, rx_ns: int) -> None:
        held, run.held = run.held, []
        for block in held:
            table = self._engine_for(run, block, writer).push(block.samples, block.t0_ns)
            self._emit(run, table, writer, rx_ns)

    def _emit_activity(self, run: _Run, block: SampleBlock, rx_ns: int) -> None:
        """The fast trace: one causal activity value per block (see
        :mod:`movereg.pipeline.activity`); not kept for SSE replay."""
        point = run.activity.push(block.samples, block.t0_ns, block.fs_hz)
        run.last_rx_ns = rx_ns
        run.health.push(block.samples, block.t0_ns,
                        block.t0_ns + round((block.n - 1) * 1e9 / block.fs_hz))
        if point is not None:
            self.broadcaster.publish(activity_message(
                point, device_id=run.device_id, child_id=run.child_id,
                session_id=run.session_id, rx_ns=rx_ns), replayable=False)

    def _replay(self, run: _Run, writer: _Writer) -> None:
        """Recompute the epochs a crash left unfinished from the stored samples."""
        blocks, run.backlog = run.backlog, []
        after = run.replay_after
        recovered = 0
        for block in blocks:
            table = self._engine_for(run, block, writer).push(block.samples, block.t0_ns)
            starts = np.asarray(table.columns["epoch_start"])
            keep = int(np.searchsorted(starts, after, side="right")) if after is not None else 0
            if keep < table.n:
                tail = table_tail(table, keep)
                writer.add_epochs(run.device_id, tail)
                recovered += int(tail.n)
        run.epochs += recovered
        log.info("hub: %s: recomputed %d epochs from stored samples", run.device_id, recovered)

    def _resume_check(self, run: _Run, block: SampleBlock, writer: _Writer) -> SampleBlock:
        """On the first block: attach the gap since the stored data; trim any overlap."""
        prev = run.resume_from_ns
        if prev is None:
            return block
        skip = overlap_samples(block, prev)
        if skip:                                    # overlap with stored data: trim it
            block = trimmed(block, skip)
            if block.n == 0:
                return block
        run.resume_from_ns = None
        gap = None if block.gaps else gap_between(prev, block.t0_ns, block.fs_hz,
                                                  run.resume_reason)
        return block if gap is None else with_gaps(block, (gap,))

    def _engine_for(self, run: _Run, block: SampleBlock, writer: _Writer) -> _Engine:
        engine = run.engine
        if engine is not None and (block.fs_hz != run.engine_fs
                                   or block.gap_before_s > _MAX_BRIDGE_S):
            self._finish_engine(run, writer)
            engine = None
        if engine is None:
            engine = self._new_engine(block.fs_hz)
            # align epochs to the epoch grid (whole seconds for 1-s epochs)
            ep_ns = round(self.settings.epoch_s * 1e9)
            aligned = block.t0_ns - block.t0_ns % ep_ns
            if aligned < block.t0_ns:
                engine.push(np.zeros((0, 3), dtype=np.float32), aligned)
            run.engine, run.engine_fs = engine, block.fs_hz
        return engine

    def _new_engine(self, fs_hz: float) -> _Engine:
        if self._engine_factory is not None:
            return self._engine_factory(fs_hz)
        from movereg.signal import FeatureEngine

        engine: _Engine = FeatureEngine(fs_hz, epoch_s=self.settings.epoch_s)
        return engine

    def _finish_engine(self, run: _Run, writer: _Writer) -> None:
        if run.held and self._engine_ready:
            self._push_held(run, writer, time.time_ns())
        if run.engine is None:
            return
        engine, run.engine = run.engine, None
        try:
            self._emit(run, engine.flush(), writer, time.time_ns())
        except Exception:
            log.exception("hub: flushing the feature engine of %s", run.device_id)

    def _emit(self, run: _Run, table: EpochTable, writer: _Writer, rx_ns: int) -> None:
        n = int(table.n)
        if n == 0:
            return
        writer.add_epochs(run.device_id, table)
        run.epochs += n
        for msg in epoch_messages(columns_as_lists(table), n, device_id=run.device_id,
                                  child_id=run.child_id, session_id=run.session_id,
                                  rx_ns=rx_ns):
            self.broadcaster.publish(msg)

    # --- storage helpers -----------------------------------------------------------------
    def _register(self, run: _Run) -> None:
        """Record the band (and its wearer) in the store before data arrives."""
        from movereg.storage import Store

        if not isinstance(self.store, Store):   # a stand-in store without a device registry
            return
        try:
            family = str(run.band.status().family)
        except Exception:
            family = None
        self.store.upsert_device(run.device_id, family=family)
        if run.child_id is not None and self.store.device_child(run.device_id) != run.child_id:
            self.store.assign_device(run.device_id, run.child_id)


async def _maybe_await(value: Awaitable[None] | None) -> None:
    if inspect.isawaitable(value):
        await value
