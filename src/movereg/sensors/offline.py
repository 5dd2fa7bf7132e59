"""Bands that record on their own: the seam between a band's recording protocol and sync.

A band family that can record away from the host (Polar PMD offline recording with its
file-transfer service; MetaWear's logging module) implements :class:`OfflineRecorder` over
one :class:`~movereg.sensors.links.Link`. Everything above the seam (the server's sync
service, ``movereg relay``, the bands page) speaks only this protocol:

* ``status()`` / ``set_clock()`` / ``start_recording()`` / ``stop_recording()`` control the
  band;
* ``list_recordings()`` names what the band holds;
* ``download(rec, dest)`` writes ONE file that :func:`movereg.recordings.open_recording`
  reads (each family registers its file format there), so a band's recording reaches a
  child's record through exactly the import path a device file takes;
* ``remove(rec)`` deletes it from the band; callers do that only after the import (or the
  server's sha256 confirmation, for a relay) has committed.

Families register a :data:`RecorderFactory` in :data:`RECORDERS`; :func:`recorder_for` picks
it. This module imports no Bluetooth library.
"""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from movereg.errors import ProtocolError
from movereg.models import DeviceFamily
from movereg.sensors.links import Link, Transport

__all__ = [
    "RECORDERS",
    "BandBusyError",
    "BandMemoryFullError",
    "BandRecording",
    "OfflineRecorder",
    "RecorderFactory",
    "RecorderStatus",
    "RecordingNotReadyError",
    "TransferProgress",
    "connect_recorder",
    "load_recorders",
    "partial_path",
    "recorder_family",
    "recorder_for",
    "recording_family",
]

#: ``progress(bytes_done, bytes_total)`` during a download.
TransferProgress = Callable[[int, int], None]


class BandBusyError(ProtocolError):
    """The band refused a command because it is busy (e.g. Polar file transfer while
    measuring). Retry later; nothing was changed on the band."""


class RecordingNotReadyError(ProtocolError):
    """The recording exists but is not readable yet (Polar error 103: its buffer has not
    been written to flash). Retry after a few minutes."""


class BandMemoryFullError(ProtocolError):
    """The band has too little free memory to start (or continue) a recording."""


@dataclass(frozen=True, slots=True)
class RecorderStatus:
    """A snapshot of a recording-capable band.

    Attributes
    ----------
    recording
        True while the band records on its own.
    rate_hz
        Sampling rate of the running recording, Hz (None when not recording).
    free_bytes, total_bytes
        The band's recording memory, bytes (None when the band does not say).
    battery_pct
        Battery level, percent (None when unknown).
    bytes_per_hour
        Memory one hour of recording takes at ``rate_hz`` (or, when idle, at the family's
        default rate), bytes; with ``free_bytes`` it gives the hours that still fit.
    """

    recording: bool
    rate_hz: float | None
    free_bytes: int | None
    total_bytes: int | None
    battery_pct: int | None
    bytes_per_hour: float | None = None

    def hours_left(self) -> float | None:
        """Hours of recording that fit in the free memory, or None when unknown."""
        if self.free_bytes is None or not self.bytes_per_hour:
            return None
        return self.free_bytes / self.bytes_per_hour


@dataclass(frozen=True, slots=True)
class BandRecording:
    """One recording a band holds.

    Attributes
    ----------
    recording_id
        Stable id on the band (e.g. Polar's ``/U/0/20261207/R/101500/``); unique per band
        and never reused for different data, so "already imported" can be decided by it
        together with the downloaded file's sha256.
    started_utc_ns
        Start of the recording, UTC ns (None when the band does not say before download).
    size_bytes
        Bytes to transfer (all parts), as the band reports them.
    parts
        Band-side names of the parts (Polar ``ACC0.REC``, ``ACC1.REC``...).
    suffix
        File suffix of what :meth:`OfflineRecorder.download` writes (registered with
        ``open_recording``), e.g. ``".polarrec"``.
    """

    recording_id: str
    started_utc_ns: int | None
    size_bytes: int
    parts: tuple[str, ...] = ()
    suffix: str = ""


class OfflineRecorder(Protocol):
    """A band that records on its own, reached over one open link.

    Methods raise only :class:`~movereg.errors.SensorError` subclasses:
    :class:`BandBusyError`, :class:`RecordingNotReadyError`, :class:`BandMemoryFullError`,
    :class:`~movereg.errors.ConnectionLostError` (link dropped; a later ``download`` to the
    same ``dest`` resumes or restarts and never doubles data), :class:`DecodeError`.
    """

    device_id: str
    family: DeviceFamily

    def rates_hz(self) -> tuple[float, ...]:
        """Sampling rates the band can record at, Hz."""
        ...

    async def status(self) -> RecorderStatus:
        """Recording state, free memory and battery."""
        ...

    async def set_clock(self, utc_ns: int) -> None:
        """Set the band's clock (UTC ns) before recording."""
        ...

    async def start_recording(self, rate_hz: float) -> None:
        """Start recording accelerometer data on the band at ``rate_hz`` (Hz)."""
        ...

    async def stop_recording(self) -> None:
        """Stop the running recording (a no-op when none runs)."""
        ...

    async def list_recordings(self) -> list[BandRecording]:
        """Recordings the band holds (complete ones and, flagged, ones still written)."""
        ...

    async def download(self, rec: BandRecording, dest: Path,
                       progress: TransferProgress | None = None) -> Path:
        """Write ``rec`` to ``dest`` as one file ``open_recording`` reads; returns ``dest``.

        Writes to ``dest`` + ``".part"`` and renames when complete and checked (sizes,
        frame sequence); a partial file left by a dropped link is resumed or discarded.
        """
        ...

    async def remove(self, rec: BandRecording) -> None:
        """Delete ``rec`` from the band."""
        ...


#: Builds a recorder for an open link: ``factory(link, device_id)``.
RecorderFactory = Callable[[Link, str], OfflineRecorder]

#: Families that can record on the band; filled by their modules on import.
RECORDERS: dict[DeviceFamily, RecorderFactory] = {}


#: Modules that register a family's recorder when imported.
_RECORDER_MODULES = ("movereg.sensors.polar_offline", "movereg.sensors.metawear_logging")


def load_recorders() -> None:
    """Import the families' recorder modules, so :data:`RECORDERS` is filled (done on
    first use, not at start-up, so the first page stays fast; a family this build lacks
    is skipped)."""
    for name in _RECORDER_MODULES:
        try:
            importlib.import_module(name)
        except ImportError:
            continue


def recording_family(name: str | None) -> DeviceFamily | None:
    """The :class:`DeviceFamily` named ``name`` (as stored for a band), or None when
    ``name`` is empty or no family's."""
    try:
        return DeviceFamily(name) if name else None
    except ValueError:
        return None


def recorder_family(name: str | None) -> DeviceFamily | None:
    """The :class:`DeviceFamily` named ``name`` when its bands record on their own (a
    recorder is registered in :data:`RECORDERS`; loaded here if not yet), else None."""
    fam = recording_family(name)
    if fam is None:
        return None
    load_recorders()
    return fam if fam in RECORDERS else None


def recorder_for(family: DeviceFamily, link: Link, device_id: str) -> OfflineRecorder:
    """The recorder for a band of ``family`` on ``link``.

    Raises
    ------
    ProtocolError
        The family cannot record on the band (Movesense, PineTime, micro:bit stream only).
    """
    factory = RECORDERS.get(family)
    if factory is None:
        raise ProtocolError(f"{family} bands cannot record on their own; they only stream",
                            family=str(family),
                            advice="keep the band in range of movereg while it is worn")
    return factory(link, device_id)


def partial_path(dest: Path) -> Path:
    """Where :meth:`OfflineRecorder.download` keeps an unfinished transfer."""
    return dest.with_name(dest.name + ".part")


@asynccontextmanager
async def connect_recorder(transport: Transport, device_id: str, family: DeviceFamily, *,
                           scan_timeout_s: float, max_attempts: int = 3
                           ) -> AsyncIterator[OfflineRecorder]:
    """Find the band on ``transport``, connect, yield its recorder, disconnect.

    Raises
    ------
    DeviceNotFoundError, BluetoothUnavailableError
        The band did not answer a scan within ``scan_timeout_s`` (s).
    ProtocolError
        The family cannot record on the band.
    """
    advert = await transport.find(device_id, scan_timeout_s)
    link = await transport.connect(advert.device, disconnected_callback=lambda: None,
                                   max_attempts=max_attempts)
    try:
        yield recorder_for(family, link, device_id)
    finally:
        await link.disconnect()
