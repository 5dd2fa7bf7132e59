"""The day table: one row per child and local day, with a valid-day rule (GGIR part 2).

Days are calendar days in ``tz`` (IANA; UTC when none is known), so a day may last 23 or
25 h at a DST change. Wear is the time of epochs with data and ``nonwear == 0``; a day is
*valid* when wear reaches the rule (default 16 h, GGIR's ``includedaycrit`` is often 16).
Intensity minutes, counts per minute and rhythmic minutes are over worn epochs only.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from movereg.errors import ValidationError
from movereg.signal.schema import ZONE_LABELS
from movereg.storage.export import Chunk
from movereg.storage.store import Store
from movereg.timeutil import NS_PER_S

__all__ = ["DAY_COLUMNS", "DEFAULT_VALID_DAY_H", "day_chunks", "days_from_epochs",
           "parse_valid_day", "person_summary"]

_NS = NS_PER_S   # ns per s, from the one time module
#: Default valid-day rule: hours of wear.
DEFAULT_VALID_DAY_H = 16.0
DAY_COLUMNS: list[tuple[str, str]] = [
    ("child_code", "str"), ("date", "str"), ("tz", "str"), ("weekday", "int8"),
    ("weekend", "int8"), ("day_h", "float64"), ("recorded_h", "float64"),
    ("wear_h", "float64"), ("coverage", "float64"), ("valid_day", "int8"),
    ("valid_day_rule_h", "float64"),
    *((f"{z}_min", "float64") for z in ZONE_LABELS),
    ("counts_per_min", "float64"), ("movement_breaks", "int64"),
    ("rhythmic_min", "float64"), ("strategies_n", "int64"), ("strategies_used", "str"),
]
_FEATURES = ["epoch_start", "epoch_s", "coverage", "nonwear", "zone", "counts_vm",
             "rhythmic_fraction", "enmo_mg"]


def parse_valid_day(text: str) -> float:
    """Hours from ``16h``, ``10h``, ``16`` or ``600min``."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(h|min)?\s*", text or "")
    if not m:
        raise ValidationError(f"--valid-day: not a duration: {text!r}", advice="e.g. 16h or 10h")
    hours = float(m.group(1)) / (60.0 if m.group(2) == "min" else 1.0)
    if not 0 < hours <= 24:
        raise ValidationError(f"--valid-day must be between 0 and 24 h, got {hours:g} h")
    return hours


def _local_days(lo_ns: int, hi_ns: int, zone: ZoneInfo) -> list[tuple[date, int, int]]:
    """(date, start ns, end ns) of every local day touching ``[lo_ns, hi_ns]``."""
    d = datetime.fromtimestamp(lo_ns / _NS, zone).date()
    last = datetime.fromtimestamp(hi_ns / _NS, zone).date()
    out = []
    while d <= last:
        a = datetime(d.year, d.month, d.day, tzinfo=zone)
        nd = d + timedelta(days=1)
        b = datetime(nd.year, nd.month, nd.day, tzinfo=zone)
        out.append((d, int(a.timestamp()) * _NS, int(b.timestamp()) * _NS))
        d = nd
    return out


def _day_values(cols: dict[str, np.ndarray], code: str, tzname: str, d: date, a: int,
                b: int, valid_h: float) -> dict[str, Any]:
    """A day row (without strategies) from the day's epoch columns (``_FEATURES``)."""
    from movereg.signal import EpochTable, movement_breaks
    from movereg.signal.schema import EPOCH_COLUMNS

    secs = cols["epoch_s"] * cols["coverage"]
    worn = (cols["nonwear"] == 0) & (cols["coverage"] > 0)
    wear_s = float(secs[worn].sum())
    row: dict[str, Any] = {
        "child_code": code, "date": d.isoformat(), "tz": tzname, "weekday": d.weekday(),
        "weekend": int(d.weekday() >= 5), "day_h": (b - a) / _NS / 3600,
        "recorded_h": float(secs.sum()) / 3600, "wear_h": wear_s / 3600}
    row["coverage"] = row["recorded_h"] / row["day_h"]
    row["valid_day"] = int(row["wear_h"] >= valid_h - 1e-9)
    row["valid_day_rule_h"] = valid_h
    for i, z in enumerate(ZONE_LABELS):
        row[f"{z}_min"] = float(secs[worn & (cols["zone"] == i)].sum()) / 60
    cvm = cols["counts_vm"][worn]
    row["counts_per_min"] = float(np.nansum(cvm)) / (wear_s / 60) if wear_s > 0 else np.nan
    rf = cols["rhythmic_fraction"][worn]
    row["rhythmic_min"] = float(np.nansum(rf * secs[worn])) / 60
    n = cols["epoch_start"].shape[0]
    full = {name: cols[name] if name in cols else np.zeros(n, dtype=dt)
            for name, dt in EPOCH_COLUMNS}
    row["movement_breaks"] = len(movement_breaks(EpochTable(full))) if n else 0
    row["strategies_n"] = 0
    row["strategies_used"] = ""
    return row


def _day_row(store: Store, cid: int, code: str, tzname: str, d: date, a: int, b: int,
             valid_h: float) -> dict[str, Any]:
    cols = store.epochs(child_id=cid, start_ns=a, end_ns=b, features=_FEATURES)
    row = _day_values(cols, code, tzname, d, a, b, valid_h)
    evs = [e for e in store.list_events(child_id=cid, start_ns=a, end_ns=b)
           if a <= e.started_at < b]
    row["strategies_n"] = len(evs)
    row["strategies_used"] = ";".join(sorted({e.strategy for e in evs}))
    return row


def days_from_epochs(code: str, cols: dict[str, np.ndarray], *, tz: str | None = None,
                     valid_h: float = DEFAULT_VALID_DAY_H) -> list[dict[str, Any]]:
    """Day rows of one recording's epoch columns (e.g. a cohort's Parquet), no events."""
    starts = np.asarray(cols["epoch_start"], dtype=np.int64)
    if starts.shape[0] == 0:
        return []
    zone = ZoneInfo(tz or "UTC")
    rows = []
    for d, a, b in _local_days(int(starts[0]), int(starts[-1]), zone):
        sel = (starts >= a) & (starts < b)
        day = {k: np.asarray(cols[k])[sel] for k in _FEATURES}
        row = _day_values(day, code, tz or "UTC", d, a, b, valid_h)
        if row["recorded_h"] > 0:
            rows.append(row)
    return rows


def day_chunks(store: Store, child_ids: Sequence[int], *, tz: str | None = None,
               valid_h: float = 16.0, start_ns: int | None = None,
               end_ns: int | None = None) -> Iterator[Chunk]:
    """One chunk of day rows per child (days with any epoch or event in range)."""
    zone = ZoneInfo(tz or "UTC")
    tzname = tz or "UTC"
    for cid in child_ids:
        bounds = store.epoch_bounds(child_id=cid, start_ns=start_ns, end_ns=end_ns)
        if bounds is None:
            continue
        code = store.get_child(cid).code
        rows = [_day_row(store, cid, code, tzname, d, a, b, valid_h)
                for d, a, b in _local_days(bounds[0], bounds[1], zone)]
        rows = [r for r in rows if r["recorded_h"] > 0]
        if rows:
            yield {name: np.array([r[name] for r in rows],
                                  dtype=object if kind == "str" else kind)
                   for name, kind in DAY_COLUMNS}


def person_summary(days: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per child: days, valid days, and weekday/weekend means of valid days (GGIR part 2)."""
    out = []
    for code in sorted({d["child_code"] for d in days}):
        mine = [d for d in days if d["child_code"] == code]
        valid = [d for d in mine if int(d["valid_day"])]
        row: dict[str, Any] = {"child_code": code, "days": len(mine),
                               "valid_days": len(valid),
                               "valid_weekdays": sum(1 for d in valid if not int(d["weekend"])),
                               "valid_weekend_days": sum(1 for d in valid if int(d["weekend"]))}
        for key in ("wear_h", *(f"{z}_min" for z in ZONE_LABELS), "counts_per_min",
                    "rhythmic_min", "movement_breaks"):
            for part, sel in (("weekday", 0), ("weekend", 1)):
                vals = [float(d[key]) for d in valid if int(d["weekend"]) == sel]
                row[f"{key}_{part}_mean"] = float(np.mean(vals)) if vals else None
        out.append(row)
    return out
