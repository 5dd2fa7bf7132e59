"""The home relay (#23): a small computer at home empties the family's bands and uploads
their recordings to the clinic's server. No database, no pages (``movereg relay``)."""

from movereg.relay.client import (
    RelayBandInfo,
    RelayClient,
    RelayRevoked,
    ServerUnreachable,
    UploadReceipt,
    UploadRefused,
)
from movereg.relay.loop import CycleReport, Relay, RelayOpener
from movereg.relay.openers import BleOpener, SimOpener

__all__ = ["BleOpener", "CycleReport", "Relay", "RelayBandInfo", "RelayClient", "RelayOpener",
           "RelayRevoked", "ServerUnreachable", "SimOpener", "UploadReceipt", "UploadRefused"]
