"""movereg: a wearable movement-sensor regulation monitor.

Describes movement from commodity wristbands for occupational therapists, parents and
researchers. Not a medical device: it does not diagnose, predict or treat.
"""

from movereg.errors import MoveregError, MoveregWarning
from movereg.models import BandState, BandStatus, DeviceFamily, Gap, RawBlock, SampleBlock

__version__ = "0.1.0"

__all__ = [
    "BandState",
    "BandStatus",
    "DeviceFamily",
    "Gap",
    "MoveregError",
    "MoveregWarning",
    "RawBlock",
    "SampleBlock",
    "__version__",
]
