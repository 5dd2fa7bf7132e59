from __future__ import annotations

import re
from datetime import date

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import NS, make_epochs
from movereg.analysis import (
    LIMITS_TEXT,
    daily_summary,
    day_breaks,
    format_duration,
    seeking_episodes,
    week_summary,
)

DAY = date(2026, 3, 2)
D0 = 1_772_409_600 * NS  # 2026-03-02T00:00:00Z
CUTS = np.array([35.6, 201.4, 707.0])


def _day_epochs(seed: int, n: int = 6 * 3600, epoch_s: float = 5.0) -> dict[str, np.ndarray]:
    """Six hours of 5-s epochs from 08:00 UTC with random activity and some non-wear."""
    rng = np.random.default_rng(seed)
    m = int(n / epoch_s)
    enmo = np.exp(rng.normal(3.5, 1.5, m))
    nonwear = (rng.random(m) < 0.05).astype(np.int8)
    cov = np.where(rng.random(m) < 0.05, 0.2, 1.0)
    return make_epochs(m, t0=D0 + 8 * 3600 * NS, epoch_s=epoch_s, enmo=enmo,
                       nonwear=nonwear, coverage=cov)


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 10_000))
def test_totals_equal_independent_computation(seed: int) -> None:
    cols = _day_epochs(seed)
    s = daily_summary(cols, [], day=DAY, tz="UTC")
    worn = (cols["nonwear"] == 0) & (cols["coverage"] >= 0.5)
    assert s.wear_s == 5.0 * worn.sum()
    zone = np.searchsorted(CUTS, cols["enmo_mg"], side="right")
    for z in range(4):
        assert s.zone_s[z] == 5.0 * np.sum(worn & (zone == z))
    assert sum(s.zone_s) == s.wear_s
    assert s.hourly_zone_s.shape == (24, 5)
    assert np.isclose(s.hourly_zone_s[:, :4].sum(), s.wear_s)
    assert np.allclose(s.hourly_zone_s.sum(axis=1), 3600.0)
    assert s.hourly_zone_s[:8, 4].tolist() == [3600.0] * 8  # nothing before 08:00
    assert s.break_total_s == sum(b.duration_s for b in s.breaks)
    for b in s.breaks:
        assert b.duration_s >= 60


def test_breaks_not_worn_and_narrative() -> None:
    n = 4 * 3600  # 1-s epochs from 08:00
    enmo = np.full(n, 10.0)
    enmo[600:900] = 300.0       # 5-min break at 08:10
    enmo[2000:2030] = 300.0     # 30 s: too short to be a break
    enmo[5000:5120] = 100.0     # 2-min break at 09:23:20
    enmo[5060:5065] = 5.0       # 5-s dip, bridged
    nonwear = np.zeros(n, dtype=np.int8)
    nonwear[7200:9000] = 1      # 10:00-10:30 not worn
    rf = np.zeros(n)
    rf[3000:3060] = 0.9         # one minute of rhythmic movement
    cols = make_epochs(n, t0=D0 + 8 * 3600 * NS, enmo=enmo, nonwear=nonwear,
                       rhythmic_fraction=rf)
    events = [{"id": "1", "strategy": "pro.wall_push", "started_at": D0 + 8 * 3600 * NS + 4000 * NS},
              {"id": "2", "strategy": "pro.wall_push", "started_at": D0 + 8 * 3600 * NS + 6000 * NS,
               "voided": True}]
    s = daily_summary(cols, events, day=DAY, tz="UTC", nickname="Sam")
    assert [(round((b.start_ns - D0) / NS), b.duration_s) for b in s.breaks] == [
        (8 * 3600 + 600, 300.0), (8 * 3600 + 5000, 120.0)]
    assert s.break_count == 2 and s.break_total_s == 420.0
    assert s.not_worn == ((D0 + (8 * 3600 + 7200) * NS, D0 + (8 * 3600 + 9000) * NS),)
    assert len(s.episodes) == 1 and s.episodes[0].kind == "rhythmic movement"
    assert s.strategy_counts == {"pro.wall_push": 1}
    text = " ".join(s.narrative)
    assert "Sam wore the band for 3 h 30 min." in text
    assert "2 movement breaks (7 min in all)" in text
    assert "Wall push-ups ×1" in text
    assert "Only 1 use so far — too few to see a pattern." in text
    assert s.limits == LIMITS_TEXT
    banned = r"dysregulat|meltdown|\bbad\b|\bgood\b|\bcalm(ed)? down\b|\bred\b|\bgreen\b"
    assert not re.search(banned, text, re.IGNORECASE)


def test_local_day_boundaries_follow_the_time_zone() -> None:
    # 23:30 UTC on 1 March is 00:30 on 2 March in Berlin (UTC+1)
    t0 = D0 - 30 * 60 * NS
    cols = make_epochs(3600, t0=t0, enmo=100.0)
    utc = daily_summary(cols, [], day=DAY, tz="UTC")
    berlin = daily_summary(cols, [], day=DAY, tz="Europe/Berlin")
    assert utc.wear_s == 1800 and berlin.wear_s == 3600


def test_empty_day_and_week() -> None:
    empty = daily_summary(make_epochs(0), [], day=DAY)
    assert empty.wear_s == 0 and empty.narrative == ("No band data for this day.",)
    full = daily_summary(_day_epochs(1), [], day=DAY)
    w = week_summary([empty, full], previous=[full])
    assert w.wear_s == (0.0, full.wear_s)
    assert w.sentences[0].startswith("Band worn on 1 of 2 days")
    assert w.sentences[1].startswith("0 strategy uses and ")
    assert "Last week" in w.sentences[-1] and "0 strategy uses." in w.sentences[-1]


def test_breaks_ignore_not_worn_epochs_and_seeking_impacts() -> None:
    enmo = np.full(600, 300.0)
    nonwear = np.zeros(600, dtype=np.int8)
    nonwear[100:200] = 1
    assert [b.duration_s for b in day_breaks(make_epochs(600, enmo=enmo, nonwear=nonwear))] == [
        100.0, 400.0]
    impacts = np.zeros(600, dtype=np.int64)
    impacts[50:90] = 1          # 60 per minute for 40 s
    (ep,) = seeking_episodes(make_epochs(600, impacts=impacts))
    assert ep.kind == "impacts" and ep.duration_s == 40.0


def test_format_duration() -> None:
    assert [format_duration(x) for x in (0, 59, 60, 3599, 7500)] == [
        "0 s", "59 s", "1 min", "1 h 00 min", "2 h 05 min"]
