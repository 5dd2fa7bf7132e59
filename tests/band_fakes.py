"""Fake bands that record on their own, for the sync and API tests (not a test module):
recordings of simple movement written as movereg-readable CSV files, with faults
to inject (a dropped link after N bytes, a busy band, a recording not yet written)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from movereg.errors import ConnectionLostError, DeviceNotFoundError
from movereg.models import DeviceFamily
from movereg.sensors.offline import (
    BandBusyError,
    BandMemoryFullError,
    BandRecording,
    RecorderStatus,
    RecordingNotReadyError,
    TransferProgress,
    partial_path,
)
from movereg.storage import Store

NS = 1_000_000_000


def movement(n: int, fs_hz: float, seed: int = 0) -> np.ndarray:
    """``n`` samples (g) of a worn wrist: gravity plus ~1 Hz swinging and noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / fs_hz
    x = 0.3 * np.sin(2 * np.pi * 1.1 * t) + rng.normal(0, 0.02, n)
    y = 0.2 * np.cos(2 * np.pi * 0.7 * t) + rng.normal(0, 0.02, n)
    z = 1.0 + 0.1 * np.sin(2 * np.pi * 1.9 * t) + rng.normal(0, 0.02, n)
    return np.column_stack([x, y, z])


def csv_bytes(t0_ns: int, fs_hz: float, xyz: np.ndarray, serial: str) -> bytes:
    head = f"# fs_hz={fs_hz:g} start_ns={t0_ns} device=FakeBand serial={serial}\nx,y,z\n"
    body = "\n".join(f"{a:.4f},{b:.4f},{c:.4f}" for a, b, c in xyz)
    return (head + body + "\n").encode()


def stored_raw(store: Store, device_id: str) -> np.ndarray:
    """The raw samples (float32 g, shape (n, 3)) stored under ``device_id`` (an import's
    own device id: ``SourceRecord.device_id``), in time order."""
    parts = [c.samples for c in store.iter_raw(device_id=device_id)]
    return np.concatenate(parts) if parts else np.zeros((0, 3), np.float32)


def _append(path: Path, data: bytes) -> None:
    with open(path, "ab") as fh:
        fh.write(data)


@dataclass
class _Held:
    rec: BandRecording
    data: bytes


@dataclass
class FakeRecorder:
    """A band that records on its own, in memory.

    Faults: ``drop_after`` (bytes) cuts the next download there (leaving a ``.part``),
    ``busy`` refuses file transfer, ``not_ready`` holds recording ids still being written.
    """

    device_id: str = "fake-1"
    family: DeviceFamily = DeviceFamily.POLAR_PMD
    held: dict[str, _Held] = field(default_factory=dict)
    free_bytes: int = 8_000_000
    total_bytes: int = 8_000_000
    battery_pct: int | None = 80
    recording: bool = False
    rate_hz: float | None = None
    clock_ns: int | None = None
    drop_after: int | None = None
    busy: bool = False
    not_ready: set[str] = field(default_factory=set)
    downloads: int = 0
    removed: list[str] = field(default_factory=list)
    fail_remove: int = 0
    calls: list[str] = field(default_factory=list)

    def add(self, rec_id: str, t0_ns: int, seconds: float, fs_hz: float = 52.0,
            seed: int = 0, serial: str | None = None) -> BandRecording:
        """A recording the band holds; its file names ``serial`` (default: the band's
        device id) as the device's serial."""
        xyz = movement(round(seconds * fs_hz), fs_hz, seed)
        data = csv_bytes(t0_ns, fs_hz, xyz, serial or self.device_id)
        rec = BandRecording(rec_id, t0_ns, len(data), ("ACC.REC",), ".csv")
        self.held[rec_id] = _Held(rec, data)
        return rec

    def rates_hz(self) -> tuple[float, ...]:
        return (13.0, 26.0, 52.0)

    async def status(self) -> RecorderStatus:
        self.calls.append("status")
        return RecorderStatus(self.recording, self.rate_hz, self.free_bytes, self.total_bytes,
                              self.battery_pct, bytes_per_hour=(self.rate_hz or 52.0) * 3600 * 6)

    async def set_clock(self, utc_ns: int) -> None:
        self.calls.append("set_clock")
        self.clock_ns = utc_ns

    async def start_recording(self, rate_hz: float) -> None:
        self.calls.append(f"start:{rate_hz:g}")
        if self.free_bytes < 100_000:
            raise BandMemoryFullError("band memory full", family="polar_pmd")
        self.recording, self.rate_hz = True, rate_hz

    async def stop_recording(self) -> None:
        self.calls.append("stop")
        self.recording, self.rate_hz = False, None

    async def list_recordings(self) -> list[BandRecording]:
        if self.busy:
            raise BandBusyError("band busy", family="polar_pmd")
        return [h.rec for h in self.held.values()]

    async def download(self, rec: BandRecording, dest: Path,
                       progress: TransferProgress | None = None) -> Path:
        if self.busy:
            raise BandBusyError("band busy", family="polar_pmd")
        if rec.recording_id in self.not_ready:
            raise RecordingNotReadyError("error 103", family="polar_pmd", code=103)
        self.downloads += 1
        data = self.held[rec.recording_id].data
        part = partial_path(dest)
        have = part.stat().st_size if part.exists() else 0   # resume where the link dropped
        step = 4096
        pos = have
        while pos < len(data):
            if self.drop_after is not None and pos >= self.drop_after:
                self.drop_after = None
                raise ConnectionLostError("link dropped mid-transfer")
            chunk = data[pos:pos + step]
            _append(part, chunk)
            pos += len(chunk)
            if progress is not None:
                progress(pos, len(data))
        os.replace(part, dest)
        return dest

    async def remove(self, rec: BandRecording) -> None:
        if self.busy:
            raise BandBusyError("band busy", family="polar_pmd")
        if self.fail_remove:
            self.fail_remove -= 1
            raise ConnectionLostError("link dropped before the removal")
        self.removed.append(rec.recording_id)
        self.held.pop(rec.recording_id, None)


class FakeOpener:
    """Reaches :class:`FakeRecorder` s by device id; ``away`` holds bands out of range."""

    def __init__(self, *bands: FakeRecorder) -> None:
        self.bands = {b.device_id: b for b in bands}
        self.away: set[str] = set()
        self.opened = 0

    def can_record(self, device_id: str, family: str | None) -> bool:
        return device_id in self.bands

    def in_range(self, device_id: str) -> bool:
        return device_id not in self.away

    async def set_in_range(self, device_id: str, in_range: bool) -> None:
        from movereg.errors import NotFoundError

        if device_id not in self.bands:
            raise NotFoundError(f"no simulated band {device_id!r}")
        (self.away.discard if in_range else self.away.add)(device_id)

    @contextlib.asynccontextmanager
    async def open(self, device_id: str, family: str | None) -> AsyncIterator[FakeRecorder]:
        if device_id in self.away or device_id not in self.bands:
            raise DeviceNotFoundError(f"band {device_id} not found")
        self.opened += 1
        yield self.bands[device_id]


class FakeAlerts:
    """Alerts raised now, keyed by (kind, device)."""

    def __init__(self) -> None:
        self.active: dict[tuple[str, str], str] = {}
        self.log: list[tuple[str, str, str]] = []

    async def raise_alert(self, kind: str, device_id: str | None, text: str, *,
                          child_id: int | None = None) -> None:
        assert device_id is not None
        if (kind, device_id) not in self.active:
            self.log.append(("raised", kind, device_id))
        self.active[(kind, device_id)] = text

    async def clear_alert(self, kind: str, device_id: str | None) -> None:
        assert device_id is not None
        if self.active.pop((kind, device_id), None) is not None:
            self.log.append(("cleared", kind, device_id))
