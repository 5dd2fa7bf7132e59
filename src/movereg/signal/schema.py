"""The epoch-table column contract shared by the engine, storage, API and exports.

One row per epoch. ``epoch_start`` is UTC ns (int64) in Python and ISO 8601 with offset
in CSV. The data dictionary (:func:`movereg.signal.data_dictionary`) gives each column's
unit, definition and reference; this module fixes only names, dtypes and order.
"""

from __future__ import annotations

from typing import Final

__all__ = ["EPOCH_COLUMNS", "ZONE_LABELS", "ZONE_NO_DATA"]

#: (name, numpy dtype string) in output order.
EPOCH_COLUMNS: Final[tuple[tuple[str, str], ...]] = (
    ("epoch_start", "int64"),       # UTC ns of the epoch's first sample slot
    ("epoch_s", "float64"),         # epoch length, s
    ("coverage", "float64"),        # share of the epoch's samples present, 0..1
    ("counts_x", "int64"),          # ActiGraph-compatible counts, device x axis
    ("counts_y", "int64"),          # device y axis (ActiLife Axis1)
    ("counts_z", "int64"),          # device z axis
    ("counts_vm", "float64"),       # sqrt(x^2 + y^2 + z^2) of the three counts
    ("enmo_mg", "float64"),         # mean max(0, |a| - 1 g), mg
    ("mad_mg", "float64"),          # mean |r - mean r|, mg
    ("zone", "int8"),               # intensity zone index (ZONE_LABELS), -1 no data
    ("nonwear", "int8"),            # 1 when the non-wear rule flags this epoch
    ("rhythm_strength", "float64"), # 0..1 vector-autocorrelation peak (rhythmic movement)
    ("rhythm_hz", "float64"),       # frequency of that peak, Hz (NaN when none)
    ("rhythmic_fraction", "float64"),  # share of 1-s hops with strength >= threshold
    ("flap_share", "float64"),      # share of high-passed power in 1.5-6 Hz, 0..1
    ("impacts", "int64"),           # band-limited |a| peaks >= impact threshold
    ("hard_impacts", "int64"),      # peaks >= hard-impact threshold
    ("jerk_g_s", "float64"),        # mean jerk magnitude, g/s
    ("jerk_p95_g_s", "float64"),    # 95th percentile jerk, g/s
    ("z_angle_deg", "float64"),     # mean z-angle, degrees
    ("posture_changes", "int64"),   # changes of 5-s mean z-angle > threshold
    ("clipped", "int64"),           # samples at or near the sensor's range limit
)

#: Intensity zone labels, index = ``zone`` value. Plain movement words, not judgements.
ZONE_LABELS: Final[tuple[str, ...]] = ("still", "light", "moderate", "vigorous")
ZONE_NO_DATA: Final[int] = -1
