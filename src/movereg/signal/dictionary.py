"""The data dictionary: name, unit, dtype, definition, reference and notes of every column."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

from movereg.signal.params import FeatureConfig
from movereg.signal.schema import EPOCH_COLUMNS, ZONE_LABELS

__all__ = ["data_dictionary", "write_data_dictionary"]

_VH2013 = "van Hees et al., PLoS One 2013;8(4):e61691"
_NEISH = ("Neishabouri et al., Sci Rep 2022, doi:10.1038/s41598-022-16003-x "
          "(ActiLife method, open-sourced as agcounts)")
_HILDE = ("Hildebrand et al., Med Sci Sports Exerc 2014;46(9):1816-24 and Scand J Med Sci "
          "Sports 2017;27(12):1814-23")
_GOODWIN = ("adapted from the SMM literature (Albinali/Goodwin 2009-2014, Grossekathoefer "
            "2017); parameters proposed, not validated")


def _counts_note(fs_hz: float | None) -> str:
    base = ("ActiLife Axis1 = device y, Axis2 = x, Axis3 = z. Counts pass roughly "
            "0.3-1.6 Hz and are nearly blind to flapping (gain 0.17 at 3.5 Hz).")
    if fs_hz is None:
        return (base + " Exact against ActiLife at 30-100 Hz in steps of 10 Hz; at other "
                "rates (e.g. 25, 52 Hz) the data are resampled first and counts are "
                "ActiGraph-like, not ActiLife-identical.")
    try:
        from movereg.signal.counts import counts_are_actilife_identical
        same = bool(counts_are_actilife_identical(fs_hz))
    except ImportError:  # pragma: no cover - counts module always ships
        same = False
    if same:
        return base + f" At {fs_hz:g} Hz: ActiLife-identical method."
    return base + f" At {fs_hz:g} Hz: ActiGraph-like, not ActiLife-identical."


def data_dictionary(fs_hz: float | None = None,
                    config: FeatureConfig | None = None) -> list[dict[str, str]]:
    """One entry per epoch column, in schema order.

    Parameters
    ----------
    fs_hz
        When given, the counts notes say whether counts at this rate are ActiLife-identical.
    config
        Thresholds quoted in the definitions (defaults :class:`FeatureConfig`).
    """
    c = config or FeatureConfig()
    zones = ", ".join(f"{i} {name}" for i, name in enumerate(ZONE_LABELS))
    counts_def = ("ActiGraph activity counts of device axis {ax} summed over the epoch "
                  "(sum of the 10-Hz values of the published algorithm).")
    cnote = _counts_note(fs_hz)
    entries: dict[str, tuple[str, str, str, str]] = {
        "epoch_start": ("ns (UTC)", "Start of the epoch: time of its first sample slot. "
                        "Unix ns in Python; ISO 8601 with offset in CSV; timestamp in "
                        "Parquet.", "", "Epochs are anchored at the first sample."),
        "epoch_s": ("s", "Epoch length.", "", "GGIR's default short epoch is 5 s."),
        "coverage": ("1", "Share of the epoch's sample slots that hold a sample (0..1).",
                     "", "Gaps (missing time, NaN rows) lower it; a trailing partial "
                     "epoch has coverage < 1."),
        "counts_x": ("counts", counts_def.format(ax="x"), _NEISH, cnote),
        "counts_y": ("counts", counts_def.format(ax="y (ActiLife Axis1)"), _NEISH, cnote),
        "counts_z": ("counts", counts_def.format(ax="z"), _NEISH, cnote),
        "counts_vm": ("counts", "Vector magnitude sqrt(x^2 + y^2 + z^2) of the epoch's "
                      "three counts.", _NEISH, cnote),
        "enmo_mg": ("mg", "Mean over the epoch's samples of max(0, |a| - 1 g).", _VH2013,
                    "Assumes calibrated data (see calibrate()). NaN without samples."),
        "mad_mg": ("mg", "Mean amplitude deviation: mean |r - mean(r)| of the resultant r "
                   "over the epoch.",
                   "Vaha-Ypya et al., Clin Physiol Funct Imaging 2015;35(1):64-70", ""),
        "zone": ("index", f"Intensity zone from ENMO: {zones}; -1 no data. Cut-points "
                 f"{c.light_mg:g} / {c.moderate_mg:g} / {c.vigorous_mg:g} mg (child, "
                 "non-dominant wrist, ActiGraph).", _HILDE,
                 "Not validated for this population or device. Plain movement words, "
                 "not judgements."),
        "nonwear": ("0/1", f"1 when, over the current {c.nonwear_step_s / 60:g}-min step "
                    f"so far and the preceding steps ({c.nonwear_window_s / 60:g}-min "
                    f"window, ending at the epoch's end), at least {c.nonwear_min_axes} axes "
                    f"have SD < {c.nonwear_sd_mg:g} mg and range < {c.nonwear_range_mg:g} "
                    "mg.", _VH2013 + "; GGIR defaults",
                    "Causal variant so it can stream (GGIR centres the window on the "
                    "step). Needs >= half a window of data. Still sleep can be flagged. "
                    "This is the live flag; GGIR's exact offline algorithm (2013/2023 "
                    "windows, block for block) is movereg.signal.nonwear_ggir."),
        "rhythm_strength": ("1", "Mean over the epoch's 1-s hops of the rhythmic-movement "
                            "strength 1 - (1 - p)(1 - v). p, periodicity: peak of the "
                            "orientation-free normalised vector autocorrelation of the "
                            f"high-passed signal (3-axis minus its {c.rhythm_ma_s:g}-s centred "
                            f"moving average, decimated to >= {c.rhythm_rate_hz:g} Hz), "
                            f"{c.rhythm_window_s:g}-s window, lags {c.rhythm_min_lag_s:g}-"
                            f"{c.rhythm_max_lag_s:g} s after the first zero crossing. v, "
                            "flapping-band vigour: j^2 / (j^2 + ref^2), j = RMS jerk (g/s, "
                            "the rate of change of acceleration) of the high-passed "
                            f"signal's {c.flap_low_hz:g}-{c.flap_high_hz:g} Hz band in the "
                            "same window (2 pi times the square root of the band's second "
                            "spectral moment, Blackman-Tukey estimate from the same "
                            f"autocorrelation sums), ref = {c.flap_jerk_ref_g_s:g} g/s (a "
                            f"{c.flap_jerk_ref_g_s / (6.0 * math.pi) * 1000.0:.0f}-mg RMS "
                            "movement at 3 Hz). 0 when the movement (RMS of the "
                            f"high-passed signal) is below {c.rhythm_gate_mg:g} mg.",
                            _GOODWIN + "; checked on expert-labelled classroom rocking and "
                            "hand-flapping (Goodwin et al., UbiComp 2014; README, Validation)",
                            "Describes rhythmic or vigorous flapping-band movement of the "
                            "wrist; it is not a diagnosis and detects no behaviour. Wrist arm "
                            "swing in walking is also about 1 Hz and running or clapping "
                            "fill the flapping band: 'rhythmic movement', not 'rocking' or "
                            "'flapping'. p is scale-free; v assumes samples in g. Until "
                            "issue 24 it was p alone; v weighed band acceleration (0.5 g) "
                            "before it weighed band jerk (12 g/s, then 8 g/s once the validation "
                            "sessions were scaled to g by a sphere fit); the movement gate was "
                            "10 mg (now above a classroom wrist sensor's noise floor at rest, "
                            "12-20 mg). "
                            "NaN without enough data."),
        "rhythm_hz": ("Hz", "Rhythm of the epoch's strongest hop: the frequency of its "
                      "autocorrelation peak (parabolic refinement) or, when its flapping-band "
                      "vigour v exceeds its periodicity p and the band holds most of the "
                      "high-passed power, the band's RMS frequency (square root of its "
                      "second spectral moment over its power).",
                      _GOODWIN,
                      "NaN when no rhythm. In the classroom sessions: median 0.8-0.9 Hz in "
                      "rocking epochs, 3.3-3.4 Hz in flapping epochs."),
        "rhythmic_fraction": ("1", "Share of the epoch's 1-s hops whose rhythmic-movement "
                              "strength (as rhythm_strength, per hop) is >= "
                              f"{c.rhythm_threshold:g}.", _GOODWIN, ""),
        "flap_share": ("1", f"Share of the high-passed signal's power in {c.flap_low_hz:g}-"
                       f"{c.flap_high_hz:g} Hz (Blackman-Tukey estimate from the "
                       "autocorrelation sums, Parzen lag window), mean over hops.", _GOODWIN,
                       "NaN when the movement is below the rhythm gate."),
        "impacts": ("count", f"Upward crossings of |a_f| through {c.impact_g:g} g at least "
                    f"{c.impact_refractory_s:g} s after the previous one; a_f = causal 4th-order "
                    f"Butterworth low-pass at {c.lowpass_hz:g} Hz.",
                    "peak concept from impactr (Veras et al., Osteoporos Int 2020)",
                    "Low rates under-sample short landing peaks."),
        "hard_impacts": ("count", f"As impacts, threshold {c.hard_impact_g:g} g.",
                         "as impacts", "Sensors saturate on hard crashes: see clipped."),
        "jerk_g_s": ("g/s", "Mean of fs * |a_f(t) - a_f(t-1)| over the epoch.", "", ""),
        "jerk_p95_g_s": ("g/s", "95th percentile (linear) of the same jerk values.", "", ""),
        "z_angle_deg": ("deg", "atan(z / sqrt(x^2 + y^2)) of the epoch's mean acceleration.",
                        "van Hees et al., PLoS One 2015;10(11):e0142533", ""),
        "posture_changes": ("count", "1-s hops in the epoch whose z-angle differs from the "
                            f"previous hop's by more than {c.posture_change_deg:g} deg.",
                            "adapted from van Hees 2015 (5 deg criterion)", ""),
        "clipped": ("count", f"Samples with any axis >= {c.clip_g:g} g in magnitude.",
                    "GGIR clipthres", "Set clip_g to the sensor's range - 0.5 g."),
    }
    out = []
    for name, dtype in EPOCH_COLUMNS:
        unit, definition, ref, notes = entries[name]
        out.append({"name": name, "unit": unit, "dtype": dtype, "definition": definition,
                    "reference": ref, "notes": notes})
    return out


def write_data_dictionary(path: str | Path, fs_hz: float | None = None) -> None:
    """Write the dictionary as JSON (``.json``) or CSV (any other suffix)."""
    entries = data_dictionary(fs_hz)
    p = Path(path)
    if p.suffix.lower() == ".json":
        p.write_text(json.dumps(entries, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        return
    with open(p, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=["name", "unit", "dtype", "definition",
                                           "reference", "notes"])
        w.writeheader()
        w.writerows(entries)
