"""Live fan-out: bounded, drop-oldest subscriber queues and a small replay ring.

A publisher (the hub's band tasks, the status ticker, the events API) calls
:meth:`Broadcaster.publish`, which never awaits and never blocks: each subscriber has a
fixed-size queue, and when it is full the *oldest* message is dropped and counted. So a
slow WebSocket client loses old updates, never slows ingestion.

Every published message gets a monotonically increasing integer ``id`` (the SSE event
id); the last ``ring_size`` messages are kept so a reconnecting Server-Sent-Events client
can resume with ``Last-Event-ID``.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import deque
from collections.abc import Callable
from typing import Any

__all__ = ["Broadcaster", "MessageFilter", "Subscription"]

Message = dict[str, Any]
#: ``filter(message) -> message | None``: return ``None`` to skip the message for this
#: subscriber, or a (possibly reduced) copy to deliver instead.
MessageFilter = Callable[[Message], "Message | None"]


class Subscription:
    """One live subscriber: an async iterator over JSON-able ``dict`` messages.

    Parameters
    ----------
    broadcaster
        The :class:`Broadcaster` this subscription reads from.
    maxsize
        Queue capacity (messages). When full, the oldest queued message is dropped and
        :attr:`dropped` is incremented.
    message_filter
        Optional per-subscriber filter (e.g. only the children a user may see).

    Notes
    -----
    ``status`` messages are delivered with this subscriber's own ``dropped`` count added.
    Use as ``async with hub.subscribe() as sub: async for msg in sub: ...`` or call
    :meth:`close` when done.
    """

    def __init__(self, broadcaster: Broadcaster, maxsize: int,
                 message_filter: MessageFilter | None = None) -> None:
        if maxsize < 1:
            raise ValueError(f"maxsize must be >= 1, got {maxsize}")
        self._broadcaster = broadcaster
        self._queue: deque[Message] = deque(maxlen=maxsize)
        self._filter = message_filter
        self._wakeup = asyncio.Event()
        self.maxsize = maxsize
        self.dropped = 0
        self.delivered = 0
        self.closed = False

    # --- publisher side (never awaits) ---------------------------------------------
    def _offer(self, message: Message) -> None:
        if self.closed:
            return
        if self._filter is not None:
            filtered = self._filter(message)
            if filtered is None:
                return
            message = filtered
        if len(self._queue) == self.maxsize:
            self.dropped += 1          # deque(maxlen) discards the oldest on append
        self._queue.append(message)
        self._wakeup.set()

    # --- consumer side -----------------------------------------------------------------
    def qsize(self) -> int:
        """Messages waiting in this subscriber's queue."""
        return len(self._queue)

    def get_nowait(self) -> Message | None:
        """The next queued message, or ``None`` when the queue is empty."""
        if not self._queue:
            return None
        return self._prepare(self._queue.popleft())

    async def get(self, wait_s: float | None = None) -> Message | None:
        """Wait up to ``wait_s`` seconds for the next message; ``None`` on time-out or
        when closed."""
        while not self._queue:
            if self.closed:
                return None
            self._wakeup.clear()
            try:
                await asyncio.wait_for(self._wakeup.wait(), wait_s)
            except TimeoutError:
                return None
        return self._prepare(self._queue.popleft())

    def _prepare(self, message: Message) -> Message:
        self.delivered += 1
        if message.get("type") == "status":
            return {**message, "dropped": self.dropped}
        return message

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> Message:
        msg = await self.get()
        if msg is None:
            raise StopAsyncIteration
        return msg

    def close(self) -> None:
        """Stop receiving; wakes a waiting consumer (which then ends)."""
        if not self.closed:
            self.closed = True
            self._broadcaster._remove(self)
            self._wakeup.set()

    async def __aenter__(self) -> Subscription:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()


class Broadcaster:
    """Fan a stream of messages out to many bounded subscribers.

    Parameters
    ----------
    ring_size
        How many recent messages to keep for :meth:`replay` (SSE resume).
    """

    def __init__(self, ring_size: int = 512) -> None:
        self._subs: list[Subscription] = []
        self._ring: deque[Message] = deque(maxlen=ring_size)
        self._ids = itertools.count(1)
        self.published = 0
        self._dropped_closed = 0

    def subscribe(self, maxsize: int = 256, *,
                  message_filter: MessageFilter | None = None) -> Subscription:
        """A new :class:`Subscription` receiving every message published from now on."""
        sub = Subscription(self, maxsize, message_filter)
        self._subs.append(sub)
        return sub

    def publish(self, message: Message, *, replayable: bool = True) -> Message:
        """Stamp ``message`` with the next ``id`` and offer it to every subscriber.

        Never blocks. ``replayable=False`` keeps it out of the replay ring (used for the
        ~1 Hz status ticks, which a resuming client does not need).
        Returns the stamped message.
        """
        msg = {**message, "id": next(self._ids)}
        self.published += 1
        if replayable:
            self._ring.append(msg)
        for sub in tuple(self._subs):
            sub._offer(msg)
        return msg

    def replay(self, after_id: int) -> list[Message]:
        """Ring messages with ``id > after_id`` (oldest first)."""
        return [m for m in self._ring if m["id"] > after_id]

    @property
    def last_id(self) -> int:
        """Id of the newest message in the ring (0 when empty)."""
        return int(self._ring[-1]["id"]) if self._ring else 0

    @property
    def subscribers(self) -> tuple[Subscription, ...]:
        """The open subscriptions."""
        return tuple(self._subs)

    @property
    def dropped_total(self) -> int:
        """Messages dropped by all subscribers so far (open and closed)."""
        return self._dropped_closed + sum(s.dropped for s in self._subs)

    def close_all(self) -> None:
        """Close every subscription (consumers' iterators end)."""
        for sub in tuple(self._subs):
            sub.close()

    def _remove(self, sub: Subscription) -> None:
        if sub in self._subs:
            self._subs.remove(sub)
            self._dropped_closed += sub.dropped
