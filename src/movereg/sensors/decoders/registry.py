"""Family registry: advertisement -> family, family -> a fresh profile per connection."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from movereg.errors import ParameterError
from movereg.models import DeviceFamily
from movereg.sensors.decoders._common import any_uuid
from movereg.sensors.decoders.base import DeviceProfile, StreamConfig
from movereg.sensors.decoders.infinitime import INFINITIME_SERVICE_UUID, InfiniTimeProfile
from movereg.sensors.decoders.metawear import BMI270, METAWEAR_SERVICE_UUID, MetaWearProfile
from movereg.sensors.decoders.microbit import MICROBIT_ACC_SERVICE_UUID, MicrobitProfile
from movereg.sensors.decoders.movesense import MOVESENSE_SERVICE_UUID, MovesenseProfile
from movereg.sensors.decoders.polar_pmd import (
    PMD_SERVICE_UUID,
    PolarPmdProfile,
    polar_model_from_name,
)

__all__ = ["PROFILE_FAMILIES", "SERVICE_UUIDS", "match_advertisement", "profile_for"]

#: primary service UUID of each family (for scan filters)
SERVICE_UUIDS: dict[DeviceFamily, str] = {
    DeviceFamily.POLAR_PMD: PMD_SERVICE_UUID,
    DeviceFamily.METAWEAR: METAWEAR_SERVICE_UUID,
    DeviceFamily.MOVESENSE: MOVESENSE_SERVICE_UUID,
    DeviceFamily.INFINITIME: INFINITIME_SERVICE_UUID,
    DeviceFamily.MICROBIT: MICROBIT_ACC_SERVICE_UUID,
}


def _polar(config: StreamConfig, name: str | None) -> DeviceProfile:
    return PolarPmdProfile(config, model=polar_model_from_name(name))


def _metawear(config: StreamConfig, name: str | None) -> DeviceProfile:
    chip = BMI270 if (name or "").lower().startswith("metamotion s") else "bmi160"
    return MetaWearProfile(config, chip=chip)


#: family -> factory(config, advertised name) of a fresh, stateful profile.
#: (The simulated band has no entry: use ``SimulatedBand.profile``.)
PROFILE_FAMILIES: dict[DeviceFamily, Callable[[StreamConfig, str | None], DeviceProfile]] = {
    DeviceFamily.POLAR_PMD: _polar,
    DeviceFamily.METAWEAR: _metawear,
    DeviceFamily.MOVESENSE: lambda c, _n: MovesenseProfile(c),
    DeviceFamily.INFINITIME: lambda c, _n: InfiniTimeProfile(c),
    DeviceFamily.MICROBIT: lambda c, _n: MicrobitProfile(c),
}


def profile_for(family: DeviceFamily | str, config: StreamConfig | None = None, *,
                name: str | None = None) -> DeviceProfile:
    """A new profile instance for one connection.

    Parameters
    ----------
    family
        A :class:`~movereg.models.DeviceFamily` or its string value (``"polar_pmd"``...).
    config
        Requested rate/range (default ``StreamConfig()``: 52 Hz, ±8 g).
    name
        Advertised name, used as a model hint (``"Polar H10 …"`` -> H10 rates).

    Raises
    ------
    ParameterError
        Unknown family.
    """
    try:
        fam = DeviceFamily(family)
        factory = PROFILE_FAMILIES[fam]
    except (ValueError, KeyError):
        known = ", ".join(f.value for f in PROFILE_FAMILIES)
        raise ParameterError(f"no decoder for device family {family!r} (known: {known})") from None
    return factory(config or StreamConfig(), name)


def match_advertisement(name: str | None, service_uuids: Sequence[str]) -> DeviceFamily | None:
    """Which family an advertisement belongs to (service UUID first, then name)."""
    for fam, uuid in SERVICE_UUIDS.items():
        if any_uuid(service_uuids, uuid):
            return fam
    for fam, factory in PROFILE_FAMILIES.items():
        if factory(StreamConfig(), name).matches(name, ()):
            return fam
    return None
