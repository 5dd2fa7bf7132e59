"""Shapes shared by the sync service's parts: the opener and alert protocols, the
progress of a sync, rates, and the words a sync's outcome is told in."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any, Protocol

from movereg.errors import (
    BluetoothUnavailableError,
    ConnectionLostError,
    DeviceNotFoundError,
)
from movereg.sensors.offline import BandBusyError, OfflineRecorder

__all__ = ["FAMILY_RATES", "MAX_ATTEMPTS", "AlertSink", "RecorderOpener", "SyncProgress",
           "default_rate", "stopped_words", "sync_words"]

#: a recording that failed this many times is left alone (its reason stays on the page)
MAX_ATTEMPTS = 3


class RecorderOpener(Protocol):
    """Reaches bands that record on their own."""

    def can_record(self, device_id: str, family: str | None) -> bool:
        """True when the band's family records on the band (and it can be reached)."""
        ...

    def open(self, device_id: str, family: str | None
             ) -> AbstractAsyncContextManager[OfflineRecorder]:
        """Connect and yield the band's recorder; raises
        :class:`~movereg.errors.DeviceNotFoundError` when the band is out of range."""
        ...


class AlertSink(Protocol):
    """Where device alerts go: the hub (:meth:`movereg.pipeline.Hub.raise_alert` and
    ``clear_alert``: stored, listed, published and audit-logged)."""

    async def raise_alert(self, kind: str, device_id: str | None, text: str, *,
                          child_id: int | None = None) -> Any:
        """Raise (or keep) the alert ``kind`` for ``device_id``."""
        ...

    async def clear_alert(self, kind: str, device_id: str | None) -> Any:
        """End the alert ``kind`` for ``device_id`` if it is raised."""
        ...


@dataclass(frozen=True, slots=True)
class SyncProgress:
    """Where a band's sync is (times UTC ns; bytes of the recording being downloaded)."""

    device_id: str
    running: bool
    phase: str
    recording: int = 0
    recordings: int = 0
    bytes_done: int = 0
    bytes_total: int = 0
    imported: int = 0
    started_ns: int = 0
    finished_ns: int | None = None
    ok: bool | None = None
    message: str = ""


#: The rate a family's idle ``RecorderStatus.bytes_per_hour`` refers to, Hz (the seam does
#: not say; these are the families' defaults: Polar 52 Hz, MetaWear 50 Hz).
_DEFAULT_RATES = {"polar_pmd": 52.0, "metawear": 50.0, "simulated": 52.0}
#: Rates offered before a band was reached, Hz (Polar's offline ACC rates).
FAMILY_RATES = {"polar_pmd": (13.0, 26.0, 52.0), "simulated": (13.0, 26.0, 52.0)}


def default_rate(family: str, rates: tuple[float, ...]) -> float | None:
    """The rate (Hz) an idle band's bytes-per-hour figure is given at."""
    if family in _DEFAULT_RATES:
        return _DEFAULT_RATES[family]
    return max(rates) if rates else None


def sync_words(imported: int, removed: int, waiting: int, failed: int) -> str:
    """The outcome of a sync in plain words."""
    if imported == 0 and failed == 0 and waiting == 0:
        return "Nothing new on the band."
    parts = []
    if imported:
        parts.append(f"{imported} recording{'s' if imported != 1 else ''} added to the "
                     "child's record")
    if removed:
        parts.append(f"{removed} removed from the band")
    if waiting:
        parts.append(f"{waiting} still being written by the band (next sync)")
    if failed:
        parts.append(f"{failed} could not be read (see the list)")
    return "; ".join(parts) + "."


def stopped_words(exc: BaseException) -> str:
    if isinstance(exc, BandBusyError):
        return "The band was busy; it is tried again in a few minutes."
    if isinstance(exc, ConnectionLostError):
        return ("The connection to the band dropped; the sync continues where it stopped "
                "next time (nothing is doubled).")
    if isinstance(exc, DeviceNotFoundError):
        return "The band is not in range: bring it near this computer and try again."
    if isinstance(exc, BluetoothUnavailableError):
        return "Bluetooth is not available on this computer."
    return str(getattr(exc, "message", "") or exc)
