"""The dictionary of every exported table, its JSON Schemas and the methods paragraph.

Epoch columns come from :func:`movereg.signal.data_dictionary`; days, breaks, events and
raw are defined here, next to the export code that writes them. :func:`json_schema`
turns a table's dictionary into a JSON Schema (draft 2020-12) of one row as JSON (times
as ISO 8601 strings, missing values as null); :func:`methods_text` is the paragraph the
README's "Methods" section carries, built from the same parameters.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from movereg.signal.schema import ZONE_LABELS

__all__ = ["FEATURE_FILE_COLUMNS", "TABLES", "json_schema", "methods_text", "table_dictionary", "write_schemas"]

TABLES = ("epochs", "days", "breaks", "events", "raw")
_ID = {"child_code": ("", "The child's pseudonymous code (never a name)."),
       "device": ("", "Salted sha256 of the band's address (16 hex digits); the salt is "
                  "per install and never exported.")}
_DEFS: dict[str, dict[str, tuple[str, str]]] = {
    "days": {
        "date": ("", "Local calendar day (YYYY-MM-DD) in the zone of column tz."),
        "tz": ("", "IANA time zone of the day (UTC when the child's zone is not known)."),
        "weekday": ("0-6", "Day of the week, 0 = Monday."),
        "weekend": ("0/1", "1 on Saturday and Sunday."),
        "day_h": ("h", "Length of the local day (23 or 25 h at a DST change)."),
        "recorded_h": ("h", "Time with samples: sum of epoch_s * coverage."),
        "wear_h": ("h", "Recorded time of epochs with nonwear = 0."),
        "coverage": ("1", "recorded_h / day_h."),
        "valid_day": ("0/1", "1 when wear_h >= valid_day_rule_h."),
        "valid_day_rule_h": ("h", "The valid-day rule used (default 16 h; --valid-day)."),
        **{f"{z}_min": ("min", f"Worn time in the '{z}' intensity zone (column zone).")
           for z in ZONE_LABELS},
        "counts_per_min": ("counts/min", "Sum of counts_vm over worn epochs / worn minutes."),
        "movement_breaks": ("count", "Movement breaks starting in the day "
                            "(movereg.signal.movement_breaks on the day's ENMO)."),
        "rhythmic_min": ("min", "Worn time with rhythmic movement: sum of rhythmic_fraction "
                         "* epoch_s * coverage."),
        "strategies_n": ("count", "Strategy events that started in the day (not voided)."),
        "strategies_used": ("", "The distinct strategies of those events, ';'-separated."),
    },
    "breaks": {
        "start": ("UTC", "Start of the movement break."),
        "end": ("UTC", "End of the movement break."),
        "duration_s": ("s", "end - start."),
        "peak_enmo_mg": ("mg", "Highest epoch ENMO in the break."),
        "mean_enmo_mg": ("mg", "Mean epoch ENMO in the break."),
    },
    "events": {
        "event_id": ("", "Event number in this database."),
        "strategy": ("", "The strategy offered (from the strategy list)."),
        "started_at": ("UTC", "When the strategy started."),
        "ended_at": ("UTC", "When it ended (null when not logged)."),
        "logged_at": ("UTC", "When it was logged."),
        "session_id": ("", "Therapy session, null outside sessions."),
        "initiated_by": ("", "Who started it (e.g. child, adult)."),
        "planned": ("0/1", "1 when planned ahead, null when not said."),
        "voided": ("0/1", "1 when withdrawn afterwards (kept for the record)."),
        "void_reason": ("", "Why it was withdrawn."),
        "replaces_id": ("", "The event this one corrects, null if none."),
    },
    "raw": {
        "time": ("UTC", "Time movereg assigned to the sample (block start + i / fs)."),
        "x_g": ("g", "Acceleration, device x axis."),
        "y_g": ("g", "Acceleration, device y axis."),
        "z_g": ("g", "Acceleration, device z axis."),
        "device_time": ("device clock", "The sample's time by the band's own clock (its "
                        "block's last-sample device time minus whole periods), null when "
                        "the protocol has no device time; compare with time to audit the "
                        "clock mapping."),
        "frame_seq": ("", "The protocol's sequence number of the frame that carried the "
                      "sample, null when the protocol has none."),
    },
}


#: Columns ``movereg features`` adds to its QC row / cohort summary and epoch file.
FEATURE_FILE_COLUMNS: dict[str, tuple[str, str, str]] = {
    "calibration": ("str", "", "applied (accepted fit, used), rejected (fit not accepted: "
                    "data left as read), skipped (auto and shorter than 24 h) or off."),
    "calibration_reason": ("str", "", "Why not applied, empty when applied."),
    "calibration_windows": ("int64", "count", "10-s still windows (SD < 13 mg on every "
                            "axis, |mean| < 2 g) the fit used."),
    "calibration_error_before_mg": ("float64", "mg", "Mean |norm - 1 g| of the still-window "
                                    "means before the fit (van Hees 2014)."),
    "calibration_error_after_mg": ("float64", "mg", "The same after the fit; accepted "
                                   "below 10 mg (GGIR's rule)."),
    "calibration_offset_g": ("str", "g", "Offset per axis x;y;z (calibrated = offset + "
                             "scale * raw)."),
    "calibration_scale": ("str", "1", "Scale per axis x;y;z."),
    "nonwear_ggir": ("int8", "0/1", "GGIR's offline non-wear (detect_nonwear_clipping + "
                     "g.weardec, 2013 or 2023 windows) per epoch: 1 non-wear, 0 wear, -1 in "
                     "the trailing part GGIR does not score. Agrees block for block with an "
                     "oracle of GGIR's rules (tests). Column nonwear is the live, causal "
                     "flag."),
}


def _columns(table: str) -> list[tuple[str, str]]:
    from movereg.storage.export import _schema

    if table == "features_extra":
        return [(n, d[0]) for n, d in FEATURE_FILE_COLUMNS.items()]
    return _schema(table, None)


def table_dictionary(table: str) -> list[dict[str, str]]:
    """``name, unit, dtype, definition`` of every column of an exported table, in order.

    ``"features_extra"`` covers the columns ``movereg features`` adds (calibration QC,
    ``nonwear_ggir``).
    """
    from movereg.signal import data_dictionary

    epoch = {e["name"]: e for e in data_dictionary()} if table == "epochs" else {}
    out = []
    for name, kind in _columns(table):
        if name in _ID:
            unit, text = _ID[name]
        elif name in epoch:
            unit, text = epoch[name]["unit"], epoch[name]["definition"]
        elif table == "features_extra":
            _, unit, text = FEATURE_FILE_COLUMNS[name]
        else:
            unit, text = _DEFS[table][name]
        out.append({"name": name, "unit": unit, "dtype": kind, "definition": text})
    return out


def _type(table: str, name: str, kind: str) -> dict[str, Any]:
    from movereg.storage.export import _NULLABLE

    if kind == "time":
        t: dict[str, Any] = {"type": "string", "format": "date-time"}
        nullable = table == "events" or name == "device_time"
        return {"anyOf": [t, {"type": "null"}]} if nullable else t
    if kind == "str":
        return {"type": "string"}
    if kind.startswith("float"):
        return {"type": ["number", "null"]}
    if name in _NULLABLE:
        return {"type": ["integer", "null"]}
    return {"type": "integer"}


def json_schema(table: str) -> dict[str, Any]:
    """JSON Schema (draft 2020-12) of one row of ``table`` as JSON."""
    props = {}
    for entry in table_dictionary(table):
        prop = _type(table, entry["name"], entry["dtype"])
        unit = f" Unit: {entry['unit']}." if entry["unit"] else ""
        props[entry["name"]] = {**prop, "description": entry["definition"] + unit}
    return {"$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": f"https://movereg.org/schemas/{table}.schema.json",
            "title": f"movereg {table} export row", "type": "object",
            "properties": props, "required": list(props), "additionalProperties": False}


def write_schemas(directory: Path) -> list[Path]:
    """Write ``<table>.schema.json`` for every table; returns the paths."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for table in TABLES:
        p = directory / f"{table}.schema.json"
        p.write_text(json.dumps(json_schema(table), indent=2) + "\n", encoding="utf-8")
        paths.append(p)
    return paths


def methods_text() -> str:
    """A methods paragraph with references, from the parameters the code uses."""
    from movereg.signal.calibration import ACCEPT_ERROR_MG, AUTO_MIN_HOURS, MIN_WINDOWS
    from movereg.signal.params import FeatureConfig
    from movereg.storage.days import DEFAULT_VALID_DAY_H

    c = FeatureConfig()
    return (
        "Wrist acceleration (g) was processed with movereg. Device files of at least "
        f"{AUTO_MIN_HOURS:g} h were autocalibrated: offset and scale per axis were fitted "
        "so that the means of 10-s windows without movement (SD < 13 mg on every axis) lie "
        "on the unit sphere, and the fit was accepted when at least "
        f"{MIN_WINDOWS} such windows covered both sides of every axis (+-0.3 g) and the "
        f"calibration error after the fit was below {ACCEPT_ERROR_MG:g} mg [1]. Live "
        "wristbands were calibrated per band with the same fit and acceptance rules on the "
        "still windows of that band's stored raw samples from earlier wear; the newest "
        "accepted fit was applied to every sample before any feature (stored raw samples "
        "were kept as the band sent them). The Euclidean "
        "norm minus one g with negative values set to zero (ENMO) was averaged per epoch "
        f"[2], and intensity zones were formed with the cut-points {c.light_mg:g}, "
        f"{c.moderate_mg:g} and {c.vigorous_mg:g} mg [3]. Activity counts followed the "
        "published ActiGraph algorithm [4]. Non-wear followed GGIR's criteria: in a "
        f"{c.nonwear_window_s / 60:g}-min window moved in {c.nonwear_step_s / 60:g}-min "
        f"steps, an axis counted as unworn when its SD was below {c.nonwear_sd_mg:g} mg and "
        f"its range below {c.nonwear_range_mg:g} mg, and a step as non-wear when at least "
        f"{c.nonwear_min_axes} axes did [2, 5] (the live flag uses the window ending at "
        "each epoch; GGIR's centred windows are reproduced exactly offline). Days were "
        "local calendar days; a day was "
        f"valid with at least {DEFAULT_VALID_DAY_H:g} h of wear time. "
        "References: [1] van Hees VT et al. J Appl Physiol 2014;117(7):738-44. "
        "[2] van Hees VT et al. PLoS One 2013;8(4):e61691. "
        "[3] Hildebrand M et al. Med Sci Sports Exerc 2014;46(9):1816-24. "
        "[4] Neishabouri A et al. Sci Rep 2022;12:11958. "
        "[5] Migueles JH et al. J Meas Phys Behav 2019;2(3):188-96 (GGIR)."
    )
