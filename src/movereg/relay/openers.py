"""How the relay reaches a band: Bluetooth (BlueZ through bleak), or simulated bands.

Both give the :class:`~movereg.sensors.offline.OfflineRecorder` of a band for the time of
one ``async with`` (the shape of ``movereg.pipeline.band_sync.RecorderOpener``).

Simulated bands (``movereg relay --simulate``; the demo and the tests) are Polar-like
bands that recorded while the child was away: two recordings each, over fixed hours before
the relay first started. What was removed from them is kept in ``sim-bands.json`` in the
spool directory, so a relay killed and started again finds the same bands in the same
state (as real bands keep their memory), never fresh copies of recordings it removed.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

from movereg.errors import DeviceNotFoundError
from movereg.fsutil import write_json_atomic
from movereg.models import DeviceFamily
from movereg.sensors.offline import (
    BandRecording,
    OfflineRecorder,
    connect_recorder,
    load_recorders,
    recorder_family,
    recorder_for,
    recording_family,
)
from movereg.timeutil import NS_PER_S

__all__ = ["BleOpener", "SimOpener"]


class BleOpener:
    """Bands over Bluetooth (BlueZ on Linux), through the transport seam.

    ``backend`` is an injected bleak backend (tests: the emulated bands on Bumble's
    in-memory link); None is the host's Bluetooth stack.
    """

    def __init__(self, *, scan_timeout_s: float = 20.0, backend: Any = None) -> None:
        self.scan_timeout_s = scan_timeout_s
        self.backend = backend
        load_recorders()

    def can_record(self, device_id: str, family: str | None) -> bool:
        """True when the band's family records on the band."""
        return recorder_family(family) is not None

    def open(self, device_id: str, family: str | None
             ) -> AbstractAsyncContextManager[OfflineRecorder]:
        """Find the band, connect, yield its recorder, disconnect."""
        return self._open(device_id, family)

    @asynccontextmanager
    async def _open(self, device_id: str, family: str | None
                    ) -> AsyncIterator[OfflineRecorder]:
        from movereg.sensors.transport import BleakTransport

        fam = recording_family(family)
        if fam is None:
            raise DeviceNotFoundError(f"band {device_id}: unknown family {family!r}")
        async with connect_recorder(BleakTransport(self.backend), device_id, fam,
                                    scan_timeout_s=self.scan_timeout_s) as rec:
            yield rec


class _Persisting:
    """A simulated band's recorder that notes each removal in the state file."""

    def __init__(self, inner: OfflineRecorder, opener: SimOpener) -> None:
        self._inner, self._opener = inner, opener
        self.device_id, self.family = inner.device_id, inner.family

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def remove(self, rec: BandRecording) -> None:
        await self._inner.remove(rec)
        self._opener.note_removed(self.device_id, rec.recording_id)


class SimOpener:
    """Simulated Polar-like bands that recorded on their own (see the module doc).

    Parameters
    ----------
    state_file
        Where the bands' state lives (``sim-bands.json`` in the spool directory).
    hours
        Length of each of a band's two recordings, h.
    rate_hz
        Their sampling rate, Hz (Polar offline: 13, 26 or 52).
    """

    def __init__(self, state_file: Path, *, hours: float = 2.0, rate_hz: float = 52.0) -> None:
        self.state_file = Path(state_file)
        self.hours, self.rate_hz = float(hours), float(rate_hz)
        load_recorders()
        self.state = self._load()

    def _load(self) -> dict[str, Any]:
        try:
            data = json.loads(self.state_file.read_text(encoding="utf-8"))
            if isinstance(data, dict) and isinstance(data.get("t0_ns"), int):
                data.setdefault("removed", {})
                return data
        except (OSError, ValueError):
            pass
        # the first recording starts this many whole hours before the first start
        back = int(2 * self.hours + 3) * 3600
        data = {"t0_ns": (int(time.time()) // 3600 * 3600 - back) * NS_PER_S, "removed": {}}
        self._save(data)
        return data

    def _save(self, data: dict[str, Any]) -> None:
        self.state_file.parent.mkdir(parents=True, exist_ok=True)
        write_json_atomic(self.state_file, data)

    def note_removed(self, device_id: str, recording_id: str) -> None:
        """Remember that ``recording_id`` was removed from the band (durably)."""
        removed = self.state["removed"].setdefault(device_id, [])
        if recording_id not in removed:
            removed.append(recording_id)
            self._save(self.state)

    def can_record(self, device_id: str, family: str | None) -> bool:
        """Simulated bands are ``sim-N`` / ``sim:N``."""
        return device_id.startswith(("sim-", "sim:"))

    def open(self, device_id: str, family: str | None
             ) -> AbstractAsyncContextManager[OfflineRecorder]:
        """The band with its recordings (minus the ones removed), for one ``async with``."""
        return self._open(device_id)

    def _model(self, device_id: str) -> Any:
        from movereg.sensors.polar_offline import PolarBandModel, scenario_source

        seed = sum(device_id.encode()) % 1000
        now = [int(self.state["t0_ns"])]
        model = PolarBandModel(clock=lambda: now[0], source=scenario_source(seed),
                               total_bytes=64 * 1024 * 1024)
        model.set_band_time(now[0])
        span = round(self.hours * 3600 * NS_PER_S)
        for _ in range(2):   # two recordings an hour apart: the band walked away twice
            model.start(self.rate_hz)
            now[0] += span
            model.stop()
            now[0] += 3600 * NS_PER_S
        for rid in self.state["removed"].get(device_id, []):
            for path in [p for p in model.files if p.startswith(rid)]:
                del model.files[path]
            model.dirs.discard(rid)
        model.clock = time.time_ns   # from here on the band lives in real time
        model.set_band_time(time.time_ns())
        if model.pmdfiles:
            model._write_pmdfiles()
        return model

    @asynccontextmanager
    async def _open(self, device_id: str) -> AsyncIterator[OfflineRecorder]:
        from movereg.sensors.sim_link import SimulatedTransport
        from movereg.sensors.simulated import SimulatedBand

        seed = sum(device_id.encode()) % 1000
        tr = SimulatedTransport(SimulatedBand(seed), offline=self._model(device_id))
        link = await tr.connect(device_id, disconnected_callback=lambda: None,
                                max_attempts=1)
        try:
            yield _Persisting(recorder_for(DeviceFamily.POLAR_PMD, link, device_id), self)
        finally:
            await link.disconnect()
