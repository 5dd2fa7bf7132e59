"""movereg.timeutil: the one place for ns <-> datetime / ISO 8601 / local days."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from movereg.errors import ValidationError
from movereg.timeutil import (
    NS_PER_S,
    clock_text,
    datetime_from_ns,
    day_bounds_ns,
    device_clock_plausible,
    iso_from_ns,
    iso_utc,
    now_ns,
    ns_from_datetime,
    to_ns,
)


@given(st.integers(min_value=0, max_value=4_102_444_800 * NS_PER_S))
def test_datetime_roundtrip_is_exact_to_the_microsecond(ns: int) -> None:
    assert ns_from_datetime(datetime_from_ns(ns)) == ns - ns % 1000


def test_to_ns_accepts_ns_datetimes_and_iso_text() -> None:
    t = 1_750_000_000 * NS_PER_S + 123_456_000
    assert to_ns(t) == to_ns(np.int64(t)) == t
    assert to_ns("2025-06-15T15:06:40.123456Z") == t
    assert to_ns("2025-06-15T17:06:40.123456+02:00") == t
    assert to_ns(datetime(2025, 6, 15, 15, 6, 40, 123456)) == t  # naive = UTC
    for bad in (True, "yesterday", 1.5):
        with pytest.raises(ValidationError):
            to_ns(bad)  # type: ignore[arg-type]


def test_iso_text_single_and_array() -> None:
    t = 1_750_000_000 * NS_PER_S
    assert iso_from_ns(t) == "2025-06-15T15:06:40.000+00:00"
    assert iso_utc([t, -1], missing=-1) == ["2025-06-15T15:06:40.000000+00:00", ""]


def test_local_days_follow_daylight_saving() -> None:
    london = ZoneInfo("Europe/London")
    a, b = day_bounds_ns(date(2025, 3, 30), london)  # clocks go forward: 23 h
    assert (b - a) == 23 * 3600 * NS_PER_S
    assert datetime_from_ns(a, london) == datetime(2025, 3, 30, tzinfo=london)
    a7, b7 = day_bounds_ns(date(2025, 6, 1), UTC, days=7)
    assert b7 - a7 == 7 * 86_400 * NS_PER_S
    plus2 = timezone(timedelta(hours=2))
    assert clock_text(a7, plus2) == "02:00"


def test_device_clock_plausible_from_2005_to_two_days_ahead() -> None:
    y2005 = ns_from_datetime(datetime(2005, 1, 1, tzinfo=UTC))
    now = now_ns()
    day = 86_400 * NS_PER_S
    assert device_clock_plausible(y2005)
    assert not device_clock_plausible(y2005 - 1)
    assert device_clock_plausible(now + day)
    assert not device_clock_plausible(now + 3 * day)
    assert device_clock_plausible(y2005, now + day)            # a span: first and last
    assert not device_clock_plausible(y2005 - 1, now)
    assert not device_clock_plausible(y2005, now + 3 * day)

