"""Open mHealth exports: raw samples as ``omh:acceleration:2.0`` and valid days as
``omh:physical-activity:2.0`` data points, one JSON object per line (JSON Lines).

Each line is an Open mHealth data point ``{"header": ..., "body": ...}`` (the
``omh:data-point:1.0`` envelope with an ``omh:header:1.1`` header). The mapping:

* **raw** -> ``omh:acceleration:2.0``, one data point per sample: ``acceleration_x/y/z``
  in **m/s^2** (the schema's only unit; movereg's g times the standard gravity
  9.80665 m/s^2), ``effective_time_frame.date_time`` = the sample's UTC time (ISO 8601,
  microseconds, as the CSV export). ``sensor_body_location`` is left out: movereg does
  not record which wrist a band is on and the value set has only "left wrist" / "right
  wrist".
* **days** -> ``omh:physical-activity:2.0``, for each *valid* day (the ``--valid-day``
  rule) three data points, one per intensity zone: ``activity_name`` "light-intensity
  physical activity", "moderate-intensity ..." or "vigorous-intensity ...",
  ``effective_time_frame.time_interval`` = the local calendar day (start and end with
  the zone's UTC offset), ``effective_duration`` = minutes of worn time in that zone
  (``{light,moderate,vigorous}_min`` of the day table). Invalid days are not exported:
  a day too short in wear is not a measure of that day's activity (GGIR part 2 leaves
  them out of person-level means for the same reason). ``reported_activity_intensity``
  is not used: it is defined as *self-reported*, and these are sensed.

Headers: ``id`` is a UUID5 of (table, child code, band, time / day, zone), so the same
record exported twice has the same id; ``user_id`` is the child's pseudonymous code
(never a name); ``acquisition_provenance`` = ``{"source_name": "movereg <version>",
"modality": "sensed", "source_creation_date_time": <measurement time>}``;
``movereg_device`` (an extension the header's schema allows) is the band's salted hash,
as in the CSV export. The export's parameters, sources and sha256 go to ``OUT.json``.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterator
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from movereg.errors import ValidationError
from movereg.storage.export import Chunk
from movereg.timeutil import NS_PER_S, day_bounds_ns, iso_utc

__all__ = ["OMH_DAY_ZONES", "OMH_KINDS", "OMH_SCHEMAS", "STANDARD_GRAVITY", "OmhWriter"]

#: Export tables with an Open mHealth mapping.
OMH_KINDS: tuple[str, ...] = ("raw", "days")
#: Standard acceleration of gravity, m/s^2 per g (CGPM 1901; ISO 80000-3).
STANDARD_GRAVITY = 9.80665
#: The Open mHealth body schema of each table: (namespace, name, version).
OMH_SCHEMAS: dict[str, tuple[str, str, str]] = {
    "raw": ("omh", "acceleration", "2.0"),
    "days": ("omh", "physical-activity", "2.0"),
}
#: Day-table zone columns exported as physical activity, with their activity names.
OMH_DAY_ZONES: tuple[tuple[str, str], ...] = (
    ("light", "light-intensity physical activity"),
    ("moderate", "moderate-intensity physical activity"),
    ("vigorous", "vigorous-intensity physical activity"),
)
_NAMESPACE = uuid.UUID("6f1c2b9e-8d53-4a57-9d1e-3c0a7e51b2d4")   # movereg's UUID5 space


class OmhWriter:
    """Turns export chunks into Open mHealth JSON lines and counts what it wrote.

    ``created`` is the export time (``creation_date_time`` of every header);
    ``lines`` the data points written, ``skipped_days`` the days left out as invalid.
    """

    def __init__(self, what: str, *, created: str | None = None) -> None:
        if what not in OMH_KINDS:
            raise ValidationError(f"no Open mHealth mapping for {what!r}",
                                  advice=f"--format omh applies to {' and '.join(OMH_KINDS)}")
        from movereg import __version__

        self.what = what
        self.created = created or datetime.now().astimezone().isoformat(timespec="seconds")
        self.lines = 0
        self.skipped_days = 0
        ns, name, version = OMH_SCHEMAS[what]
        self._schema_id = {"namespace": ns, "name": name, "version": version}
        self._source = f"movereg {__version__}"

    def stream(self, chunks: Iterator[Chunk], *, lines_per_part: int = 2048
               ) -> Iterator[bytes]:
        """UTF-8 JSON lines, a few thousand data points per yielded piece."""
        rows = (self._raw_lines(chunks) if self.what == "raw" else
                (json.dumps(p, separators=(",", ":"), allow_nan=False)
                 for p in self._day_points(chunks)))
        buf: list[str] = []
        for line in rows:
            buf.append(line)
            self.lines += 1
            if len(buf) >= lines_per_part:
                yield ("\n".join(buf) + "\n").encode()
                buf = []
        if buf:
            yield ("\n".join(buf) + "\n").encode()

    def _header(self, key: str, code: str, measured: str, device: str | None
                ) -> dict[str, Any]:
        head: dict[str, Any] = {
            "id": str(uuid.uuid5(_NAMESPACE, key)),
            "creation_date_time": self.created,
            "schema_id": self._schema_id,
            "acquisition_provenance": {"source_name": self._source, "modality": "sensed",
                                       "source_creation_date_time": measured},
            "user_id": code}
        if device is not None:
            head["movereg_device"] = device
        return head

    def _raw_lines(self, chunks: Iterator[Chunk]) -> Iterator[str]:
        """One ``omh:acceleration`` data point per sample, built from fixed pieces (the
        JSON :func:`json.dumps` would give for :meth:`_header` + body, ~4x faster)."""
        dumps = json.dumps
        mid = ('","creation_date_time":' + dumps(self.created) + ',"schema_id":'
               + dumps(self._schema_id, separators=(",", ":"))
               + ',"acquisition_provenance":{"source_name":' + dumps(self._source)
               + ',"modality":"sensed","source_creation_date_time":"')
        unit = ',"unit":"m/s^2"}'
        for chunk in chunks:
            times = iso_utc(chunk["time"])
            ms2 = np.column_stack([chunk[f"{ax}_g"].astype(np.float64) * STANDARD_GRAVITY
                                   for ax in "xyz"])
            if not np.isfinite(ms2).all():
                raise ValidationError("a raw sample is not a finite number: Open mHealth "
                                      "values must be numbers")
            ns = chunk["time"].tolist()
            codes, devs = chunk["child_code"].tolist(), chunk["device"].tolist()
            who: dict[tuple[str, str], tuple[Any, str]] = {}
            for i, (t, (x, y, z)) in enumerate(zip(times, ms2.tolist(), strict=True)):
                got = who.get((codes[i], devs[i]))
                if got is None:      # the UUID5 name's hash, up to the time, once per band
                    got = who[(codes[i], devs[i])] = (
                        hashlib.sha1(_NAMESPACE.bytes + f"raw:{codes[i]}:{devs[i]}:".encode(),
                                     usedforsecurity=False),
                        '"},"user_id":' + dumps(codes[i]) + ',"movereg_device":'
                        + dumps(devs[i]) + '},"body":{"acceleration_x":{"value":')
                sha = got[0].copy()
                sha.update(str(ns[i]).encode())
                yield ('{"header":{"id":"' + _uuid5_text(sha.digest()) + mid + t + got[1]
                       + repr(x) + unit
                       + ',"acceleration_y":{"value":' + repr(y) + unit
                       + ',"acceleration_z":{"value":' + repr(z) + unit
                       + ',"effective_time_frame":{"date_time":"' + t + '"}}}')

    def _day_points(self, chunks: Iterator[Chunk]) -> Iterator[dict[str, Any]]:
        for chunk in chunks:
            n = len(chunk["date"])
            for i in range(n):
                if not int(chunk["valid_day"][i]):
                    self.skipped_days += 1
                    continue
                code, day, tz = (str(chunk["child_code"][i]), str(chunk["date"][i]),
                                 str(chunk["tz"][i]))
                start, end = day_interval(day, tz)
                for zone, activity in OMH_DAY_ZONES:
                    minutes = float(chunk[f"{zone}_min"][i])
                    yield {"header": self._header(f"days:{code}:{day}:{zone}", code, end,
                                                  None),
                           "body": {
                               "activity_name": activity,
                               "effective_time_frame": {"time_interval": {
                                   "start_date_time": start, "end_date_time": end}},
                               "effective_duration": {"value": minutes, "unit": "min"}}}


def _uuid5_text(sha1: bytes) -> str:
    """The text of the UUID5 whose name hashed (with the namespace) to ``sha1`` (RFC 4122
    4.3: the hash's first 16 bytes with the version and variant bits set)."""
    b = bytearray(sha1[:16])
    b[6] = (b[6] & 0x0F) | 0x50
    b[8] = (b[8] & 0x3F) | 0x80
    h = b.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def day_interval(day: str, tz: str) -> tuple[str, str]:
    """ISO 8601 start and end (with the zone's UTC offsets) of a local calendar day."""
    zone = ZoneInfo(tz)
    a, b = day_bounds_ns(date.fromisoformat(day), zone)
    return (datetime.fromtimestamp(a // NS_PER_S, zone).isoformat(),
            datetime.fromtimestamp(b // NS_PER_S, zone).isoformat())
