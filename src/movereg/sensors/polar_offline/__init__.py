"""Polar offline recording: record on a Verity Sense away from the host, fetch it later.

Importing this package registers :class:`PolarOfflineRecorder` in
:data:`movereg.sensors.offline.RECORDERS` for :attr:`DeviceFamily.POLAR_PMD`.

* :mod:`.pftp`: Polar file transfer (RFC76 framing, RFC60 headers, our protobuf messages);
* :mod:`.recfile`: ``.REC`` files and movereg's ``.polarrec`` container;
* :mod:`.band`: :class:`PolarBandModel`, the band as a pure state machine (emulated and
  simulated bands both run it);
* :mod:`.recorder`: :class:`PolarOfflineRecorder` over a :class:`~movereg.sensors.links.Link`.
"""

from movereg.sensors.polar_offline.band import (
    OFFLINE_RATES_HZ,
    PftpServer,
    PolarBandModel,
    index_source,
    scenario_source,
)
from movereg.sensors.polar_offline.recorder import BYTES_PER_SAMPLE, PolarOfflineRecorder

__all__ = [
    "BYTES_PER_SAMPLE",
    "OFFLINE_RATES_HZ",
    "PftpServer",
    "PolarBandModel",
    "PolarOfflineRecorder",
    "index_source",
    "scenario_source",
]
