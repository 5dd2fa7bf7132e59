"""How the server reaches bands that record on their own (the sync service's opener).

:class:`BandLinks` is the :class:`~movereg.pipeline.band_sync.RecorderOpener` of
``movereg serve`` / ``movereg demo``. It is also the hub's band factory, so it knows every
band the hub opened:

* a **simulated** band (demo): a second link to the same simulated band (its own recorder
  and file system, :class:`~movereg.sensors.sim_link.SimulatedTransport`), so the live
  stream goes on while the band is synced. Opened again under its device id (a session
  starts, a recording stops), it is the same band: :meth:`BandLinks.band_factory` keeps
  its movement, battery, speed and memory. :meth:`BandLinks.set_in_range` walks a
  simulated band out of range (its live stream stops, the hub's client keeps trying to
  reconnect, sync says "not in range") and back;
* a **Bluetooth** band the hub streams from: its open link is shared (a band takes one
  connection); any other Bluetooth band: found and connected for the sync, then let go.

The family's recorder comes from :func:`movereg.sensors.offline.recorder_for`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

from movereg.errors import DeviceNotFoundError, ProtocolError
from movereg.models import DeviceFamily
from movereg.sensors.band import Band, band_device_id, open_band
from movereg.sensors.links import Advert, Link
from movereg.sensors.offline import (
    OfflineRecorder,
    connect_recorder,
    load_recorders,
    recorder_family,
    recorder_for,
)

__all__ = ["BandLinks"]

log = logging.getLogger(__name__)

# options of ``open_band`` that make a simulated band (or are not for one): a band opened
# again keeps its own
_SIM_BAND_OPTIONS = frozenset({"seed", "scenario", "speed", "battery_pct", "bursts_ns",
                               "family", "backend"})


def _check_in_range(device_id: str, away: set[str]) -> None:
    """DeviceNotFoundError while the simulated band ``device_id`` is walked away."""
    if device_id in away:
        raise DeviceNotFoundError(f"band {device_id} is out of range",
                                  advice="bring the band near this computer")


class _RangedTransport:
    """A simulated band's transport that can be out of range (demo: walking away)."""

    def __init__(self, inner: Any, device_id: str, away: set[str]) -> None:
        self.inner = inner
        self._device_id = device_id
        self._away = away
        self._dropped: Callable[[], None] | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def find(self, address: str, timeout_s: float) -> Advert:
        if self._device_id in self._away:
            await asyncio.sleep(min(1.0, timeout_s))
        _check_in_range(self._device_id, self._away)
        advert: Advert = await self.inner.find(address, timeout_s)
        return advert

    async def connect(self, device: object, *, disconnected_callback: Callable[[], None],
                      max_attempts: int) -> Link:
        _check_in_range(self._device_id, self._away)
        self._dropped = disconnected_callback
        link: Link = await self.inner.connect(device, disconnected_callback=disconnected_callback,
                                              max_attempts=max_attempts)
        return link

    async def drop(self) -> None:
        """The band went out of range: its live link drops."""
        link = getattr(self.inner, "link", None)
        if link is not None and link.is_connected:
            await link.disconnect()
            if self._dropped is not None:
                self._dropped()


class BandLinks:
    """Opens recorders on the bands the server can reach (see the module docstring).

    Parameters
    ----------
    backend
        Injected bleak backend (tests).
    scan_timeout_s
        How long a sync looks for a Bluetooth band, s.
    """

    def __init__(self, *, backend: Any = None, scan_timeout_s: float = 10.0) -> None:
        self._bands: dict[str, Band] = {}
        self._away: set[str] = set()
        self.backend = backend
        self.scan_timeout_s = scan_timeout_s

    # --- the hub's band factory ----------------------------------------------------------
    def band_factory(self, target: str, **options: Any) -> Band:
        """``open_band`` for the hub, remembering the band (simulated ones can leave range).

        A simulated band this server opened before under the same device id is opened
        again *as it was* (:meth:`_reopen_sim`), as a real band keeps its memory and its
        wearer: starting a session, *Stop recording* or connecting it on the bands page
        all reach the same band, whatever seed the ``sim:`` target names.
        """
        dev = options.get("device_id") or band_device_id(target)
        old = self._sim(dev) if dev and band_device_id(target) != target else None
        band = (open_band(target, backend=self.backend, **options) if old is None
                else self._reopen_sim(old, options))
        self._bands[band.device_id] = band
        tr = getattr(band, "transport", None)
        if self._is_sim_transport(tr):
            band.transport = _RangedTransport(tr, band.device_id, self._away)  # type: ignore[attr-defined]
        return band

    @staticmethod
    def _reopen_sim(old: Any, options: dict[str, Any]) -> Band:
        """The simulated band behind ``old`` (its transport) on a fresh connection: the same
        child's movement, going on where it stopped; its battery, draining on; its speed;
        and its memory (``offline``: what it recorded on itself). What makes the band
        (seed, scenario, battery, bursts, speed) comes from the band, not ``options``."""
        from movereg.sensors.sim_link import SimulatedBandConnection

        kept = {k: v for k, v in options.items() if k not in _SIM_BAND_OPTIONS}
        band = SimulatedBandConnection(old.band.seed, scenario=old.band.scenario,
                                       speed=old.speed, **kept)
        tr: Any = band.transport      # not connected yet: its link opens on the old band
        tr.band, tr.offline = old.band, old.offline
        return band

    @staticmethod
    def _is_sim_transport(tr: Any) -> bool:
        from movereg.sensors.sim_link import SimulatedTransport

        return isinstance(tr, SimulatedTransport)

    def _sim(self, device_id: str) -> Any:
        """The simulated band's own transport (None: not a simulated band)."""
        tr = getattr(self._bands.get(device_id), "transport", None)
        if isinstance(tr, _RangedTransport):
            return tr.inner
        return tr if self._is_sim_transport(tr) else None

    def sim_transport(self, device_id: str) -> Any:
        """The simulated band's own transport behind ``device_id`` (its movement, battery
        and on-band memory), or None for a band that is not simulated."""
        return self._sim(device_id)

    def is_simulated(self, device_id: str) -> bool:
        """True for a simulated band the hub opened."""
        return self._sim(device_id) is not None

    def in_range(self, device_id: str) -> bool:
        """False while a simulated band is walked away."""
        return device_id not in self._away

    async def set_in_range(self, device_id: str, in_range: bool) -> None:
        """Walk a simulated band out of range (its live link drops) or bring it back.

        Raises
        ------
        NotFoundError
            Not a simulated band of this server.
        """
        from movereg.errors import NotFoundError

        band = self._bands.get(device_id)
        tr = getattr(band, "transport", None)
        if not isinstance(tr, _RangedTransport):
            raise NotFoundError(f"no simulated band {device_id!r}")
        if in_range:
            self._away.discard(device_id)
            wake = getattr(band, "_wake", None)   # reconnect now, not after the back-off
            if isinstance(wake, asyncio.Event):
                wake.set()
        else:
            self._away.add(device_id)
            await tr.drop()

    # --- RecorderOpener ------------------------------------------------------------------
    def can_record(self, device_id: str, family: str | None) -> bool:
        """Simulated bands that carry an offline recorder, and Bluetooth bands of a
        family with a registered recorder."""
        sim = self._sim(device_id)
        if sim is not None:
            return getattr(sim, "offline", None) is not None \
                and recorder_family(DeviceFamily.POLAR_PMD) is not None
        if device_id.startswith(("sim-", "import-")):
            return False   # a simulated band of an earlier run, or an imported file
        return recorder_family(family) is not None

    @contextlib.asynccontextmanager
    async def open(self, device_id: str, family: str | None) -> AsyncIterator[OfflineRecorder]:
        """Connect to the band and yield its recorder (the link is closed afterwards unless
        it is the hub's live link)."""
        load_recorders()
        sim = self._sim(device_id)
        if sim is not None:
            _check_in_range(device_id, self._away)
            from movereg.sensors.sim_link import SimulatedTransport

            second = SimulatedTransport(sim.band, sim.speed, offline=sim.offline)
            link = await second.connect(f"sim:{device_id}", disconnected_callback=lambda: None,
                                        max_attempts=1)
            try:
                yield recorder_for(DeviceFamily.POLAR_PMD, link, device_id)
            finally:
                await link.disconnect()
            return
        fam = recorder_family(family)
        if fam is None:
            raise ProtocolError(f"band {device_id} cannot record on its own",
                                family=str(family or "unknown"))
        live = self._live_link(device_id)
        if live is not None:
            yield recorder_for(fam, live, device_id)
            return
        from movereg.sensors.transport import BleakTransport

        async with connect_recorder(BleakTransport(self.backend), device_id, fam,
                                    scan_timeout_s=self.scan_timeout_s) as rec:
            yield rec

    def _live_link(self, device_id: str) -> Link | None:
        """The open link of a band the hub streams from (None when not connected)."""
        session = getattr(self._bands.get(device_id), "_session", None)
        link = getattr(session, "link", None)
        return link if link is not None and link.is_connected else None
