"""Private parts of :class:`~movereg.sensors.ble_client.WristbandClient`: one connection's
state, the frames its notification callback queues, and the achieved-rate window."""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass, field

from movereg.errors import SensorError
from movereg.sensors.decoders.base import DeviceProfile
from movereg.sensors.links import Link

__all__: list[str] = []

#: what a queued frame is: data notification, control reply, or a link-lost marker
DATA, CTRL, MARK = 0, 1, 2


class Fatal(Exception):
    """An error retrying cannot fix (wraps the SensorError to report)."""

    def __init__(self, error: SensorError) -> None:
        super().__init__(str(error))
        self.error = error


@dataclass(eq=False)
class Session:
    """State of one connection (a fresh profile per connection)."""

    profile: DeviceProfile
    link: Link | None = None
    replies: asyncio.Queue[bytes] = field(default_factory=asyncio.Queue)
    last_rx_mono: float = 0.0
    frames: int = 0
    awaiting: bool = False  # a command is waiting for its reply
    failure: SensorError | None = None  # an error status the band sent on its own


#: a queued notification: (session, DATA/CTRL/MARK, bytes, host receive time UTC ns)
Frame = tuple[Session, int, bytes, int]


class RateWindow:
    """Samples received over the last ``span_s`` of host time -> achieved rate (Hz).

    ``speed`` > 1 when host time runs faster than band time (accelerated simulation).
    """

    def __init__(self, span_s: float = 5.0, speed: float = 1.0) -> None:
        self._span_ns = round(span_s * 1e9)
        self._speed = speed
        self._w: deque[tuple[int, int]] = deque()

    def add(self, rx_ns: int, n: int) -> None:
        """``n`` samples arrived at host time ``rx_ns``."""
        w = self._w
        w.append((rx_ns, n))
        while w and rx_ns - w[0][0] > self._span_ns:
            w.popleft()

    def rate(self) -> float | None:
        """Samples per second of band time (None until two arrivals)."""
        w = self._w
        if len(w) < 2:
            return None
        span = (w[-1][0] - w[0][0]) / 1e9 * self._speed
        return sum(n for _, n in list(w)[1:]) / span if span > 0 else None
