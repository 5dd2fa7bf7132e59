"""movereg.recordings: read research-device files and extract features for a cohort.

``open_recording(path, fs_hz=None, adc_grid="auto")`` streams CSV/CSV.gz, movereg's Parquet
raw export, ActiGraph GT3X, Axivity CWA and GENEActiv BIN (the binary formats via
``actfast``);
``run_cohort(inputs, out_dir, ...)`` runs many recordings through the streaming feature
engine, locally or on Dask.
"""

from movereg.recordings.adc_grid import detect_adc_grid, snap_to_grid
from movereg.recordings.base import Recording, hash_serial
from movereg.recordings.cohort import CohortResult, run_cohort
from movereg.recordings.reader import RECORDING_SUFFIXES, open_recording, recording_stem
from movereg.recordings.synthetic import SyntheticRecording, SyntheticSpec

__all__ = [
    "RECORDING_SUFFIXES",
    "CohortResult",
    "Recording",
    "SyntheticRecording",
    "SyntheticSpec",
    "detect_adc_grid",
    "hash_serial",
    "open_recording",
    "recording_stem",
    "run_cohort",
    "snap_to_grid",
]
