"""movereg.recordings: read research-device files and extract features for a cohort.

``open_recording(path, fs_hz=None, adc_grid="auto", tz=None)`` streams CSV/CSV.gz,
movereg's Parquet raw export, ActiGraph GT3X (``log.bin`` via ``actfast``; legacy
``activity.bin`` by movereg), Axivity CWA (AX3/AX6, by movereg, with the sector
timestamps) and GENEActiv BIN (via ``actfast``). Device files follow the device's own
clock, resampled onto the configured rate's grid (:mod:`movereg.recordings.devicetime`);
damaged device files are read and their damage is in ``rec.qc``
(:class:`RecordingQC`);
``run_cohort(inputs, out_dir, ...)`` runs many recordings through the streaming feature
engine, locally or on Dask.
"""

from movereg.recordings.adc_grid import detect_adc_grid, snap_to_grid
from movereg.recordings.base import Recording, hash_serial
from movereg.recordings.cohort import CohortResult, run_cohort
from movereg.recordings.qc import QC_COLUMNS, Damage, RecordingQC
from movereg.recordings.reader import RECORDING_SUFFIXES, open_recording, recording_stem
from movereg.recordings.synthetic import SyntheticRecording, SyntheticSpec

__all__ = [
    "QC_COLUMNS",
    "RECORDING_SUFFIXES",
    "CohortResult",
    "Damage",
    "Recording",
    "RecordingQC",
    "SyntheticRecording",
    "SyntheticSpec",
    "detect_adc_grid",
    "hash_serial",
    "open_recording",
    "recording_stem",
    "run_cohort",
    "snap_to_grid",
]
