"""Pure per-family decoders (bytes -> RawBlock in g) and the family registry.

One module per family: :mod:`.polar_pmd`, :mod:`.metawear`, :mod:`.movesense`,
:mod:`.infinitime`, :mod:`.microbit`; every profile implements
:class:`~movereg.sensors.decoders.base.DeviceProfile`. Decoders raise only
:class:`~movereg.errors.DecodeError` on bad bytes.
"""

from movereg.sensors.decoders.base import Command, DeviceProfile, StreamConfig
from movereg.sensors.decoders.infinitime import (
    INFINITIME_MOTION_UUID,
    INFINITIME_SERVICE_UUID,
    InfiniTimeProfile,
    decode_infinitime_motion,
)
from movereg.sensors.decoders.metawear import (
    METAWEAR_CMD_UUID,
    METAWEAR_NOTIFY_UUID,
    METAWEAR_SERVICE_UUID,
    MetaWearProfile,
    decode_metawear_acc,
)
from movereg.sensors.decoders.microbit import (
    MICROBIT_ACC_SERVICE_UUID,
    MICROBIT_DATA_UUID,
    MICROBIT_PERIOD_UUID,
    MicrobitProfile,
    decode_microbit_acc,
)
from movereg.sensors.decoders.movesense import (
    MOVESENSE_CMD_UUID,
    MOVESENSE_DATA_UUID,
    MOVESENSE_SERVICE_UUID,
    MovesenseProfile,
    decode_movesense_data,
)
from movereg.sensors.decoders.polar_pmd import (
    PMD_CP_UUID,
    PMD_DATA_UUID,
    PMD_SERVICE_UUID,
    PMD_STATUS,
    POLAR_EPOCH_OFFSET_NS,
    MeasurementType,
    PmdFrame,
    PmdResponse,
    PolarPmdProfile,
    parse_cp_response,
    parse_pmd_frame,
)
from movereg.sensors.decoders.registry import (
    PROFILE_FAMILIES,
    SERVICE_UUIDS,
    match_advertisement,
    profile_for,
)

__all__ = [
    "INFINITIME_MOTION_UUID",
    "INFINITIME_SERVICE_UUID",
    "METAWEAR_CMD_UUID",
    "METAWEAR_NOTIFY_UUID",
    "METAWEAR_SERVICE_UUID",
    "MICROBIT_ACC_SERVICE_UUID",
    "MICROBIT_DATA_UUID",
    "MICROBIT_PERIOD_UUID",
    "MOVESENSE_CMD_UUID",
    "MOVESENSE_DATA_UUID",
    "MOVESENSE_SERVICE_UUID",
    "PMD_CP_UUID",
    "PMD_DATA_UUID",
    "PMD_SERVICE_UUID",
    "PMD_STATUS",
    "POLAR_EPOCH_OFFSET_NS",
    "PROFILE_FAMILIES",
    "SERVICE_UUIDS",
    "Command",
    "DeviceProfile",
    "InfiniTimeProfile",
    "MeasurementType",
    "MetaWearProfile",
    "MicrobitProfile",
    "MovesenseProfile",
    "PmdFrame",
    "PmdResponse",
    "PolarPmdProfile",
    "StreamConfig",
    "decode_infinitime_motion",
    "decode_metawear_acc",
    "decode_microbit_acc",
    "decode_movesense_data",
    "match_advertisement",
    "parse_cp_response",
    "parse_pmd_frame",
    "profile_for",
]
