"""One interface for every band the pipeline reads: real (BLE) or simulated.

:func:`open_band` turns a target string into a :class:`Band`, always a
:class:`~movereg.sensors.ble_client.WristbandClient`: ``"sim"`` / ``"sim:<seed>"`` gives a
:class:`~movereg.sensors.sim_link.SimulatedBandConnection` (the client on a simulated
transport: the band's real Polar PMD bytes, no Bluetooth); anything else is a Bluetooth
address. :func:`parse_sim_target` is the one parser of the ``sim`` target.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from movereg.errors import ParameterError
from movereg.models import BandStatus, DeviceFamily, SampleBlock
from movereg.sensors.decoders.base import StreamConfig

if TYPE_CHECKING:
    from movereg.sensors.ble_client import RawHook
    from movereg.sensors.transport import Backend

__all__ = ["Band", "band_device_id", "open_band", "parse_sim_target"]


@runtime_checkable
class Band(Protocol):
    """What a consumer (pipeline hub, ``movereg record``) needs from a band."""

    device_id: str

    async def start(self) -> None:
        """Begin connecting/streaming in the background."""
        ...

    async def stop(self) -> None:
        """Stop; :meth:`blocks` ends after the blocks already decoded."""
        ...

    def status(self) -> BandStatus:
        """A snapshot for status displays."""
        ...

    def blocks(self) -> AsyncIterator[SampleBlock]:
        """Decoded, UTC-stamped sample blocks in order (gaps marked)."""
        ...


def _sim_suffix(target: str) -> str | None:
    """``"sim"`` -> ``""``, ``"sim:<x>"`` -> ``"<x>"``, anything else -> None."""
    t = target.strip()
    if t.lower() == "sim":
        return ""
    return t[4:].strip() if t.lower().startswith("sim:") else None


def parse_sim_target(target: str) -> int | None:
    """``"sim"`` -> 0, ``"sim:7"`` -> 7, anything else -> None.

    Raises
    ------
    ParameterError
        ``sim:`` followed by something that is not an integer seed.
    """
    suffix = _sim_suffix(target)
    if not suffix:
        return None if suffix is None else 0
    try:
        return int(suffix)
    except ValueError:
        raise ParameterError(f"bad simulated band {target!r}: use sim or sim:<seed>, "
                             "e.g. sim:3") from None


def band_device_id(target: str) -> str | None:
    """The device id a band opened from ``target`` gets by default.

    ``"sim:<seed>"`` -> ``"sim-<seed>"``, a Bluetooth address -> itself, plain ``"sim"``
    -> None (the caller picks a free ``sim-<n>``). Never raises: a band factory other
    than :func:`open_band` may give ``sim:<name>`` its own meaning.
    """
    suffix = _sim_suffix(target)
    if suffix is None:
        return target
    return f"sim-{suffix}" if suffix else None


def open_band(target: str, *, family: DeviceFamily | str | None = None,
              config: StreamConfig | None = None, backend: Backend | None = None,
              device_id: str | None = None, seed: int = 0, speed: float = 1.0,
              raw_hook: RawHook | None = None, **options: Any) -> Band:
    """A band for ``target``: ``"sim"``, ``"sim:<seed>"`` or a Bluetooth address.

    Parameters
    ----------
    target
        ``sim`` / ``sim:<seed>`` (simulated, no Bluetooth) or a band's address.
    family
        Device family of a real band (None = recognise it from its advertisement).
    config
        Requested rate/range.
    backend
        Injected bleak backend (tests).
    device_id
        Key of the SampleBlocks (default: address, or ``sim-<seed>``).
    seed
        Seed when ``target`` is plain ``sim``.
    speed
        Simulated bands only: replay speed.
    raw_hook
        Called with every raw notification ``(bytes, rx_time_ns)``.
    options
        Passed on to :class:`WristbandClient` (e.g. ``watchdog_s``) or
        :class:`~movereg.sensors.sim_link.SimulatedBandConnection` (``scenario``,
        ``duration_s``).
    """
    sim_seed = parse_sim_target(target)
    if sim_seed is not None:
        from movereg.sensors.sim_link import SimulatedBandConnection

        if not _sim_suffix(target):
            sim_seed = seed
        return SimulatedBandConnection(sim_seed, speed=speed, device_id=device_id,
                                       config=config, raw_hook=raw_hook, **options)
    from movereg.sensors.ble_client import WristbandClient

    return WristbandClient(target, family, config=config, backend=backend,
                           device_id=device_id, raw_hook=raw_hook, **options)
