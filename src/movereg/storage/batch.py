"""BatchWriter: collects sensor data on the event loop, writes it about twice a second."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass

from movereg.errors import StorageError, ValidationError
from movereg.models import Gap, SampleBlock
from movereg.storage._ingest import EpochTableLike, IngestBatch
from movereg.storage.store import Store

__all__ = ["BatchWriter", "BatchWriterStats"]

log = logging.getLogger(__name__)


@dataclass(slots=True)
class BatchWriterStats:
    """Counters for status displays and tests."""

    batches: int = 0
    items: int = 0
    failures: int = 0
    dropped_items: int = 0
    last_error: str | None = None


class BatchWriter:
    """Non-blocking sink in front of :meth:`Store.write_batch`.

    ``add_*`` only append to in-memory lists (call them from the event loop); a background
    task hands everything collected to ``Store.write_batch`` every ``interval_s`` seconds
    in ``asyncio.to_thread``, one transaction per flush. A failed flush (disk full, locked)
    keeps the data and retries next time, up to ``max_pending`` items, then drops the
    oldest (counted in :attr:`stats`). A batch with a malformed item is retried item by
    item so one bad table cannot block the rest.

    Parameters
    ----------
    store
        The open store.
    interval_s
        Seconds between flushes (data at risk on a crash is at most this much).
    max_pending
        Items kept while the database refuses writes.
    """

    def __init__(self, store: Store, interval_s: float = 1.0, *,
                 max_pending: int = 200_000) -> None:
        if not interval_s > 0:
            raise ValidationError("interval_s must be > 0")
        self.store = store
        self.interval_s = float(interval_s)
        self.max_pending = int(max_pending)
        self.stats = BatchWriterStats()
        self._pending = IngestBatch()
        self._task: asyncio.Task[None] | None = None
        self._flush_lock = asyncio.Lock()

    # --- producer side (non-blocking) ------------------------------------------------
    def add_samples(self, device_id: str, block: SampleBlock) -> None:
        """Queue a raw sample block."""
        self._pending.raw.append((device_id, block))

    def add_epochs(self, device_id: str, table: EpochTableLike) -> None:
        """Queue finished epochs (empty tables are ignored)."""
        if int(table.n) > 0:
            self._pending.epochs.append((device_id, table))

    def add_gap(self, device_id: str, gap: Gap) -> None:
        """Queue a gap record."""
        self._pending.gaps.append((device_id, gap))

    @property
    def pending(self) -> int:
        """Items waiting for the next flush."""
        return len(self._pending)

    # --- lifecycle ------------------------------------------------------------------
    async def start(self) -> None:
        """Start the periodic flush task."""
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="movereg-batch-writer")

    async def stop(self) -> None:
        """Stop the task and write whatever is pending (final flush)."""
        task, self._task = self._task, None
        if task is not None:
            # a flush in progress finishes first: cancelling it would return while its
            # worker thread still writes (a caller closing the store then loses that batch)
            async with self._flush_lock:
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.flush()

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            await self.flush()
            if self.store.disk_full_since is not None or self.store.audit_pending:
                # audit entries that waited for disk space; a probe clears the condition
                with contextlib.suppress(StorageError):
                    await asyncio.to_thread(self.store.retry_pending)

    async def flush(self) -> None:
        """Write everything pending now (in a worker thread)."""
        async with self._flush_lock:
            batch, self._pending = self._pending, IngestBatch()
            if not len(batch):
                return
            try:
                await asyncio.to_thread(self._write, batch)
            except StorageError as exc:
                self.stats.failures += 1
                self.stats.last_error = str(exc)
                log.warning("storage flush failed, will retry: %s", exc)
                self._requeue(batch)

    def _write(self, batch: IngestBatch) -> None:
        try:
            self.store.write_batch(batch)
            self.stats.items += len(batch)
        except ValidationError:
            for one in _singles(batch):
                try:
                    self.store.write_batch(one)
                    self.stats.items += 1
                except ValidationError as exc:
                    self.stats.dropped_items += 1
                    self.stats.last_error = str(exc)
                    log.warning("dropped a malformed item: %s", exc)
        self.stats.batches += 1

    def _requeue(self, batch: IngestBatch) -> None:
        merged = IngestBatch(batch.raw + self._pending.raw, batch.epochs + self._pending.epochs,
                             batch.gaps + self._pending.gaps)
        over = len(merged) - self.max_pending
        if over > 0:  # drop the oldest raw blocks first; epochs and gaps are small
            cut = min(over, len(merged.raw))
            merged.raw = merged.raw[cut:]
            self.stats.dropped_items += cut
        self._pending = merged


def _singles(batch: IngestBatch) -> list[IngestBatch]:
    out = [IngestBatch(raw=[r]) for r in batch.raw]
    out += [IngestBatch(epochs=[e]) for e in batch.epochs]
    out += [IngestBatch(gaps=[g]) for g in batch.gaps]
    return out
