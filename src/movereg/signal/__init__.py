"""movereg.signal: per-epoch movement features from 3-axis acceleration (Numba core).

Imported only as ``movereg.signal`` (a top-level ``signal`` would shadow the stdlib).
"""

from movereg.signal.bouts import Bout, movement_breaks, vigorous_bouts
from movereg.signal.calibration import Calibration, apply_calibration, calibrate
from movereg.signal.counts import CountsStream, activity_counts
from movereg.signal.dictionary import data_dictionary, write_data_dictionary
from movereg.signal.features import FeatureEngine, extract_features, zone_of
from movereg.signal.params import FeatureConfig
from movereg.signal.quality import detect_nonwear
from movereg.signal.schema import EPOCH_COLUMNS, ZONE_LABELS, ZONE_NO_DATA
from movereg.signal.table import EpochTable
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
