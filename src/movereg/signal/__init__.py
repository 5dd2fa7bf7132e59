"""movereg.signal: per-epoch movement features from 3-axis acceleration (Numba core).

Imported only as ``movereg.signal`` (a top-level ``signal`` would shadow the stdlib).
The names below load on first use (PEP 562), so importing a light submodule such as
``movereg.signal.schema`` or ``movereg.signal.table`` does not import Numba: the server
answers its first page before the kernels are needed.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from movereg.signal.bouts import Bout, movement_breaks, vigorous_bouts
    from movereg.signal.calibration import Calibration, apply_calibration, calibrate
    from movereg.signal.counts import CountsStream, activity_counts
    from movereg.signal.dictionary import data_dictionary, write_data_dictionary
    from movereg.signal.features import FeatureEngine, extract_features, zone_of
    from movereg.signal.params import FeatureConfig
    from movereg.signal.quality import detect_nonwear
    from movereg.signal.schema import EPOCH_COLUMNS, ZONE_LABELS, ZONE_NO_DATA
    from movereg.signal.table import EpochTable

# eager (light: numpy only): the submodule ``warmup`` would otherwise shadow the function
from movereg.signal.warmup import warmup

__all__ = [
    "EPOCH_COLUMNS",
    "ZONE_LABELS",
    "ZONE_NO_DATA",
    "Bout",
    "Calibration",
    "CountsStream",
    "EpochTable",
    "FeatureConfig",
    "FeatureEngine",
    "activity_counts",
    "apply_calibration",
    "calibrate",
    "data_dictionary",
    "detect_nonwear",
    "extract_features",
    "movement_breaks",
    "vigorous_bouts",
    "warmup",
    "write_data_dictionary",
    "zone_of",
]

_WHERE = {
    "Bout": "movereg.signal.bouts",
    "movement_breaks": "movereg.signal.bouts",
    "vigorous_bouts": "movereg.signal.bouts",
    "Calibration": "movereg.signal.calibration",
    "apply_calibration": "movereg.signal.calibration",
    "calibrate": "movereg.signal.calibration",
    "CountsStream": "movereg.signal.counts",
    "activity_counts": "movereg.signal.counts",
    "data_dictionary": "movereg.signal.dictionary",
    "write_data_dictionary": "movereg.signal.dictionary",
    "FeatureEngine": "movereg.signal.features",
    "extract_features": "movereg.signal.features",
    "zone_of": "movereg.signal.features",
    "FeatureConfig": "movereg.signal.params",
    "detect_nonwear": "movereg.signal.quality",
    "EPOCH_COLUMNS": "movereg.signal.schema",
    "ZONE_LABELS": "movereg.signal.schema",
    "ZONE_NO_DATA": "movereg.signal.schema",
    "EpochTable": "movereg.signal.table",
}


def __getattr__(name: str) -> Any:
    """Import a public name's module on first use."""
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'movereg.signal' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
