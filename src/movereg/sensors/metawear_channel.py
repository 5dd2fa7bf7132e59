"""The command channel to one MetaWear / MetaMotion board over an open link.

A MetaWear answers on one notify characteristic, whatever was asked: :class:`MetaWearChannel`
matches each reply to the command waiting for it (by the reply's first bytes), and hands the
logging module's readout notifications (entries, progress, page completed) to a ``sink``
while a download has one set. :class:`~movereg.sensors.metawear_logging.MetaWearLogger`
speaks to the board only through it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from movereg.errors import ConnectionLostError, ProtocolError, SensorError
from movereg.models import DeviceFamily
from movereg.sensors.decoders import metawear_log as ml
from movereg.sensors.decoders.metawear import METAWEAR_CMD_UUID, METAWEAR_NOTIFY_UUID
from movereg.sensors.links import Link

__all__ = ["MetaWearChannel"]

FAMILY = DeviceFamily.METAWEAR.value
_READOUT_REGISTERS = (ml.READOUT_NOTIFY, ml.READOUT_PROGRESS, ml.PAGE_COMPLETED)


class MetaWearChannel:
    """Commands to and replies from one board (``device_id``) over ``link``.

    ``timeout_s`` is how long :meth:`ask` and :meth:`wait` wait, s. ``sink``, while set,
    receives every logging readout notification instead of the reply waiters.
    """

    def __init__(self, link: Link, device_id: str, timeout_s: float) -> None:
        self.link = link
        self.device_id = device_id
        self.timeout_s = timeout_s
        self.sink: Callable[[bytes], None] | None = None
        self._subscribed = False
        self._waiters: list[tuple[bytes, asyncio.Future[bytes]]] = []
        self._tasks: set[asyncio.Task[None]] = set()

    def _on_notify(self, data: bytes) -> None:
        b = bytes(data)
        if self.sink is not None and b[:1] == bytes([ml.LOGGING]) and len(b) >= 2 \
                and b[1] in _READOUT_REGISTERS:
            self.sink(b)
            return
        for i, (head, fut) in enumerate(self._waiters):
            if b.startswith(head) and not fut.done():
                fut.set_result(b)
                del self._waiters[i]
                return

    async def _ensure(self) -> None:
        if not self.link.is_connected:
            raise ConnectionLostError(f"MetaWear {self.device_id} is not connected",
                                      advice="bring the band into range and try again")
        if not self._subscribed:
            await self.link.start_notify(METAWEAR_NOTIFY_UUID, self._on_notify)
            self._subscribed = True

    async def send(self, cmd: bytes) -> None:
        """Write ``cmd`` without waiting for an answer."""
        await self._ensure()
        await self.link.write(METAWEAR_CMD_UUID, cmd, response=False)

    async def ask(self, cmd: bytes, head: bytes | None = None) -> bytes:
        """Send ``cmd`` and wait for the notification that starts with ``head``
        (default: the command's first two bytes)."""
        await self._ensure()
        fut: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._waiters.append((head or cmd[:2], fut))
        try:
            await self.link.write(METAWEAR_CMD_UUID, cmd, response=False)
            return await asyncio.wait_for(fut, self.timeout_s)
        except TimeoutError as exc:
            raise self.silent(cmd) from exc
        finally:
            self._waiters = [w for w in self._waiters if w[1] is not fut]

    def silent(self, cmd: bytes) -> ConnectionLostError | ProtocolError:
        """The error for a board that did not answer ``cmd``: link lost, or protocol."""
        if not self.link.is_connected:
            return ConnectionLostError(f"MetaWear {self.device_id} dropped the link",
                                       advice="bring the band into range; a download restarts")
        return ProtocolError(f"MetaWear {self.device_id} did not answer {cmd.hex(' ')}",
                             family=FAMILY, advice="reconnect the band; if it repeats, "
                             "update its firmware")

    def confirm_page(self) -> None:
        """Answer PAGE_COMPLETED with PAGE_CONFIRM (from a notification callback)."""
        task = asyncio.get_running_loop().create_task(self._send_quiet(
            ml.simple_command(ml.PAGE_CONFIRM)))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _send_quiet(self, cmd: bytes) -> None:
        """Send from a background task: a dropped link shows in the readout loop."""
        with contextlib.suppress(SensorError):
            await self.send(cmd)

    async def wait(self, done: asyncio.Event) -> None:
        """Wait for ``done`` (set by a readout sink) at most ``timeout_s``."""
        try:
            await asyncio.wait_for(done.wait(), self.timeout_s)
        except TimeoutError as exc:
            raise self.silent(ml.readout_command(0)) from exc

    async def readout_setup(self) -> None:
        """Turn on the notifications a readout sends (page completed, entries, progress)."""
        for reg in (ml.PAGE_COMPLETED, ml.READOUT_NOTIFY, ml.READOUT_PROGRESS):
            await self.send(ml.simple_command(reg, 1))
