"""The decoder/profile contract every device family implements.

A :class:`DeviceProfile` knows a family's GATT layout, how to recognise its
advertisements, the command bytes to start and stop accelerometer streaming, and how to
turn one notification into a :class:`~movereg.models.RawBlock` (pure: bytes in, arrays
out, no I/O, no clocks).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from movereg.models import DeviceFamily, RawBlock
from movereg.sensors.decoders._common import any_uuid, int16_xyz

__all__ = ["Command", "DeviceProfile", "ProfileBase", "StreamConfig", "XyzSampleProfile"]


@dataclass(frozen=True, slots=True)
class StreamConfig:
    """What the client asks a band for.

    Attributes
    ----------
    fs_hz
        Requested sample rate, Hz (the profile picks the nearest the device supports).
    range_g
        Requested full-scale range, ± g.
    """

    fs_hz: float = 52.0
    range_g: float = 8.0


@dataclass(frozen=True, slots=True)
class Command:
    """One GATT write the client must perform.

    Attributes
    ----------
    char_uuid
        Characteristic to write.
    data
        Bytes to write.
    response
        Write with response (True) or without (False).
    expect_reply
        True when the band answers on a control characteristic (e.g. PMD CP indication)
        and the client must wait for and check that reply via ``parse_reply``.
    """

    char_uuid: str
    data: bytes
    response: bool = True
    expect_reply: bool = False


@runtime_checkable
class DeviceProfile(Protocol):
    """A device family's protocol, parameterised by the active stream configuration."""

    family: DeviceFamily
    service_uuid: str
    data_char_uuid: str
    control_char_uuid: str | None
    has_device_time: bool
    #: Characteristic on which command replies arrive (notify/indicate), or ``None`` when
    #: the family never replies. May equal ``data_char_uuid`` (MetaWear, Movesense): then
    #: route each notification with :meth:`is_reply`.
    reply_char_uuid: str | None

    def setup_commands(self) -> list[Command]:
        """Discovery writes sent once after subscribing, before STOP and START.

        Their replies (``expect_reply=True``) go to :meth:`parse_reply`, which lets the
        profile learn what the device supports (Polar settings, MetaWear chip) so that
        :meth:`start_commands` can choose valid settings. Optional: a client that skips
        them still works with the family defaults.
        """
        ...

    def is_reply(self, data: bytes) -> bool:
        """True when a notification is a command reply rather than sensor data."""
        ...

    def matches(self, name: str | None, service_uuids: Sequence[str]) -> bool:
        """True when an advertisement (local name, service UUIDs) is this family."""
        ...

    def start_commands(self, config: StreamConfig) -> list[Command]:
        """Writes that start accelerometer streaming (after subscribing)."""
        ...

    def stop_commands(self) -> list[Command]:
        """Writes that stop streaming (sent before every disconnect and before START)."""
        ...

    def parse_reply(self, data: bytes) -> None:
        """Check a control-point reply; update state (e.g. Polar conversion factor).

        Raises :class:`~movereg.errors.ProtocolError` on an error status and
        :class:`~movereg.errors.DecodeError` on malformed bytes.
        """
        ...

    def decode(self, frame: bytes) -> RawBlock:
        """One data notification -> RawBlock in g. Raises only DecodeError."""
        ...

    @property
    def fs_hz(self) -> float:
        """The sample rate in effect (Hz) after configuration."""
        ...




class ProfileBase:
    """What most families share; a profile overrides only what its protocol adds.

    The GATT layout is given as class attributes (a family without control point,
    replies or device time keeps the defaults). :meth:`matches` recognises the service
    UUID or a name starting with one of :attr:`name_prefixes` (lower case); commands
    default to none, and a family without replies keeps :meth:`is_reply` /
    :meth:`parse_reply`. Subclasses set ``_fs`` (Hz) or override :attr:`fs_hz`.
    """

    family: DeviceFamily
    service_uuid: str
    data_char_uuid: str
    control_char_uuid: str | None = None
    reply_char_uuid: str | None = None
    has_device_time: bool = False
    #: lower-case prefixes of the advertised names of this family
    name_prefixes: tuple[str, ...] = ()
    _fs: float

    def __init__(self, config: StreamConfig | None = None) -> None:
        self.config = config or StreamConfig()

    @property
    def fs_hz(self) -> float:
        """Sample rate in effect (Hz)."""
        return self._fs

    def matches(self, name: str | None, service_uuids: Sequence[str]) -> bool:
        """The family's service UUID advertised, or a name with one of its prefixes."""
        return (any_uuid(service_uuids, self.service_uuid)
                or (name or "").lower().startswith(self.name_prefixes))

    def setup_commands(self) -> list[Command]:
        """None needed."""
        return []

    def start_commands(self, config: StreamConfig) -> list[Command]:
        """None: subscribing starts the notifications."""
        self.config = config
        return []

    def stop_commands(self) -> list[Command]:
        """None: unsubscribing stops them."""
        return []

    def is_reply(self, data: bytes) -> bool:
        """The family has no replies."""
        return False

    def parse_reply(self, data: bytes) -> None:
        """The family has no replies; nothing to check."""


class XyzSampleProfile(ProfileBase):
    """A family that notifies one ``x, y, z`` int16 little-endian sample at a time, with
    no device time (micro:bit, InfiniTime): ``lsb_per_g`` counts per g."""

    lsb_per_g: float
    #: what one notification is, for decode errors
    value_name: str = "x, y, z value"

    @classmethod
    def decode_xyz(cls, frame: bytes) -> np.ndarray:
        """6-byte value -> (1, 3) float32 g. Raises only DecodeError."""
        return int16_xyz(cls.family.value, frame, cls.lsb_per_g, cls.value_name)

    def decode(self, frame: bytes) -> RawBlock:
        """One notification -> RawBlock of one sample in g."""
        return RawBlock(self.decode_xyz(frame), self.fs_hz, None, None)
