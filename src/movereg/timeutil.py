"""Time in movereg: UTC ns since the Unix epoch inside, ISO 8601 with offset outside.

One place for the conversions every layer needs (no numba, no I/O beyond reading the
clock in :func:`now_ns`):

* :data:`NS_PER_S`, :data:`NS_PER_MS` — the unit constants;
* :func:`now_ns` — the current UTC time (ns);
* :func:`ns_from_datetime` / :func:`datetime_from_ns` — aware ``datetime`` <-> ns (exact
  to the microsecond);
* :func:`to_ns` — ns from an int, an aware ``datetime`` or ISO 8601 text (input
  adapters);
* :func:`iso_from_ns` / :func:`iso_utc` — one time / an array of times as ISO 8601
  text with ``+00:00``;
* :func:`day_bounds_ns` and :func:`clock_text` — a local calendar day as a ns range and
  a time as local ``HH:MM``;
* :func:`device_clock_plausible` — whether a device's clock readings can be placed at all.
"""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Final

import numpy as np
import numpy.typing as npt

from movereg.errors import ValidationError

__all__ = [
    "NS_PER_MS",
    "NS_PER_S",
    "clock_text",
    "datetime_from_ns",
    "day_bounds_ns",
    "device_clock_plausible",
    "iso_from_ns",
    "iso_utc",
    "now_ns",
    "ns_from_datetime",
    "to_ns",
]

#: nanoseconds per second
NS_PER_S: Final[int] = 1_000_000_000
#: nanoseconds per millisecond
NS_PER_MS: Final[int] = 1_000_000

_UNIX_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: Device clocks before 2005-01-01 UTC or more than 2 days past now were years off.
_DEVICE_EARLIEST_NS: Final[int] = 1_104_537_600 * NS_PER_S
_DEVICE_FUTURE_SLACK_NS: Final[int] = 2 * 86_400 * NS_PER_S


def now_ns() -> int:
    """Current UTC time in ns since the Unix epoch."""
    return time.time_ns()


def ns_from_datetime(value: datetime) -> int:
    """Aware datetime -> UTC ns (a naive one is taken as UTC); exact, no float."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    delta = value - _UNIX_EPOCH
    return (delta.days * 86_400 + delta.seconds) * NS_PER_S + delta.microseconds * 1000


def datetime_from_ns(value: int, tz: tzinfo = UTC) -> datetime:
    """UTC ns -> aware datetime in ``tz`` (microsecond precision, truncated)."""
    return (_UNIX_EPOCH + timedelta(microseconds=value // 1000)).astimezone(tz)


def to_ns(value: object, what: str = "time") -> int:
    """UTC ns from an int (ns), an aware datetime or an ISO 8601 string.

    Raises
    ------
    ValidationError
        ``value`` is none of these (``what`` names it in the message).
    """
    if isinstance(value, bool):
        raise ValidationError(f"{what}: expected a time, got {value!r}")
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError as exc:
            raise ValidationError(f"{what}: not an ISO 8601 time: {value!r}") from exc
    if isinstance(value, datetime):
        return ns_from_datetime(value)
    raise ValidationError(f"{what}: expected UTC ns, datetime or ISO text, got {value!r}")


def iso_from_ns(ns: int) -> str:
    """UTC ns -> ISO 8601 with ``+00:00`` (millisecond precision)."""
    text = np.datetime_as_string(np.datetime64(int(ns), "ns"), unit="ms", timezone="UTC")
    return str(text).replace("Z", "+00:00")


def iso_utc(ns: npt.ArrayLike, *, missing: int | None = None) -> list[str]:
    """UTC ns array -> ISO 8601 strings with ``+00:00`` (microseconds).

    Parameters
    ----------
    ns
        Times, UTC ns.
    missing
        A sentinel value that stands for "no time": it becomes ``""``.
    """
    arr = np.asarray(ns, dtype=np.int64)
    text = np.datetime_as_string(arr.astype("datetime64[ns]"), unit="us", timezone="UTC")
    out = [s.replace("Z", "+00:00") for s in text.tolist()]
    if missing is not None:
        out = [s if ok else "" for s, ok in zip(out, (arr != missing).tolist(), strict=True)]
    return out


def day_bounds_ns(day: date, tz: tzinfo, days: int = 1) -> tuple[int, int]:
    """``[start, end)`` of ``days`` local calendar days from ``day`` in ``tz``, UTC ns.

    Whole seconds (a day with a daylight-saving change is 23 or 25 h long).
    """
    start = datetime.combine(day, datetime.min.time(), tz)
    end = start + timedelta(days=days)
    return int(start.timestamp()) * NS_PER_S, int(end.timestamp()) * NS_PER_S


def clock_text(ns: int, tz: tzinfo) -> str:
    """UTC ns -> local wall-clock ``HH:MM`` in ``tz``."""
    return datetime.fromtimestamp(ns / NS_PER_S, tz).strftime("%H:%M")


def device_clock_plausible(first_ns: int, last_ns: int | None = None) -> bool:
    """True when a device's times from ``first_ns`` to ``last_ns`` (default: ``first_ns``),
    UTC ns, lie in [2005-01-01, now + 2 days]; outside it the device clock was years off
    and the samples cannot be placed (imports and band downloads refuse them)."""
    last = first_ns if last_ns is None else last_ns
    return first_ns >= _DEVICE_EARLIEST_NS and last <= now_ns() + _DEVICE_FUTURE_SLACK_NS
