"""Which bands record on their own: one answer (``sensors.offline.recorder_family``) for
the server's sync (``BandLinks``) and the relay (``BleOpener``)."""

from __future__ import annotations

import pytest

from movereg.errors import ProtocolError
from movereg.models import DeviceFamily
from movereg.pipeline.band_links import BandLinks
from movereg.relay.openers import BleOpener
from movereg.sensors.offline import recorder_family

ADDR = "AA:BB:CC:DD:EE:FF"
#: the families with a recorder module (Polar offline recording, MetaWear logging)
RECORDING = {"polar_pmd", "metawear"}


@pytest.mark.parametrize("name", [*map(str, DeviceFamily), "", None, "fitbit"])
def test_recorder_family_and_both_openers_agree(name: str | None) -> None:
    records = name in RECORDING
    fam = recorder_family(name)
    assert fam == (DeviceFamily(name) if records else None)
    assert BleOpener().can_record(ADDR, name) is records
    assert BandLinks().can_record(ADDR, name) is records


async def test_a_band_that_only_streams_is_not_opened_as_a_recorder() -> None:
    with pytest.raises(ProtocolError, match="cannot record on its own"):
        async with BandLinks().open(ADDR, "movesense"):
            pass
