"""Family pages and rules: local days across daylight-saving changes (both directions),
"not worn" vs "no signal", plain words for parents (units only for clinicians), the home
plan (planned vs done), check-ins (off by default, never a score), a parent's own logging."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from h5_api_support import Api, make_api

from movereg.dashboard.family_view import (
    activity_words,
    day_bounds,
    hour_labels,
    plan_day,
    split_wear,
)
from movereg.signal import EpochTable
from movereg.signal.schema import EPOCH_COLUMNS
from movereg.storage import IngestBatch

NS = 10**9
LONDON = ZoneInfo("Europe/London")
NEW_YORK = ZoneInfo("America/New_York")
UNITS = re.compile(r"\bmg\b|milli-?g|ENMO|\bcounts?\b|cut-?points?", re.I)


@pytest.fixture
def api(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Api]:
    yield from make_api(tmp_path, monkeypatch)


def _epochs(t0: int, n: int, step_s: int = 60, *, nonwear: slice | None = None) -> EpochTable:
    cols = {name: np.zeros(n, dtype=dt) for name, dt in EPOCH_COLUMNS}
    enmo = np.full(n, 80.0)
    cols.update(epoch_start=t0 + np.arange(n, dtype=np.int64) * step_s * NS,
                epoch_s=np.full(n, float(step_s)), coverage=np.ones(n), enmo_mg=enmo,
                zone=np.ones(n, dtype=np.int8), rhythm_hz=np.full(n, np.nan))
    if nonwear is not None:
        cols["nonwear"][nonwear] = 1
    return EpochTable(cols)


# --- daylight saving ------------------------------------------------------------------
@pytest.mark.parametrize("tz, day, hours, missing, doubled", [
    (LONDON, date(2026, 3, 29), 23, "01:00", None),      # spring forward
    (LONDON, date(2026, 10, 25), 25, None, "01:00"),     # fall back
    (NEW_YORK, date(2026, 3, 8), 23, "02:00", None),
    (NEW_YORK, date(2026, 11, 1), 25, None, "01:00"),
    (LONDON, date(2026, 6, 1), 24, None, None),
])
def test_a_day_is_local_midnight_to_midnight(tz: ZoneInfo, day: date, hours: int,
                                             missing: str | None, doubled: str | None) -> None:
    d0, d1 = day_bounds(day, tz)
    assert (d1 - d0) == hours * 3600 * NS
    labels = hour_labels(d0, d1, tz)
    assert len(labels) == hours and labels[0] == "00:00" and labels[-1] == "23:00"
    if missing:
        assert missing not in labels
    if doubled:
        assert labels.count(doubled) == 2


@pytest.mark.parametrize("day, hours", [("2026-03-29", 23), ("2026-10-25", 25)])
def test_day_page_counts_the_local_day_across_dst(api: Api, day: str, hours: int) -> None:
    d0, d1 = day_bounds(date.fromisoformat(day), LONDON)
    a = api.child_a.id
    api.store.set_child_settings(a, by="pat", tz="Europe/London")
    # 1-min epochs from 2 h before local midnight to 2 h after the next one
    t0 = d0 - 2 * 3600 * NS
    n = (d1 - d0) // (60 * NS) + 4 * 60
    api.store.assign_device("dev-dst", a, at_ns=t0 - NS)
    api.store.write_batch(IngestBatch(epochs=[("dev-dst", _epochs(t0, int(n)))]))
    r = api.client.get(f"/day?child={a}&day={day}", headers=api.h("parent"))
    assert r.status_code == 200, r.text
    assert f"a {hours}-hour day" in r.text and "Times in Europe/London" in r.text
    figs = [json.loads(m) for m in re.findall(
        r'<script type="application/json" data-figure="ribbon">(.*?)</script>', r.text, re.S)]
    bars = [t for t in figs[0]["data"] if t["type"] == "bar"]
    assert len(bars[1]["y"]) == hours                        # one bar per elapsed hour
    assert sum(bars[1]["y"]) == pytest.approx(hours * 60)    # every minute, once
    assert f"Robin wore the band for {hours} h 00 min." in r.text


def test_the_childs_zone_wins_over_the_browsers(api: Api) -> None:
    a = api.child_a.id
    api.store.set_child_settings(a, by="pat", tz="America/New_York")
    r = api.client.get(f"/day?child={a}&day=2026-06-01", headers=api.h("parent"))
    assert "Times in America/New_York" in r.text and 'data-tz-set="yes"' in r.text
    r = api.client.put(f"/api/children/{a}/settings", headers=api.h("parent"),
                       json={"tz": "Mars/Olympus"})
    assert r.status_code == 422


# --- not worn vs no signal ------------------------------------------------------------
def test_not_worn_and_no_signal_are_told_apart() -> None:
    day = date(2026, 6, 1)
    d0, d1 = day_bounds(day, LONDON)
    t0 = d0 + 8 * 3600 * NS
    # 08:00-12:00 recorded, 09:00-10:00 of it off the wrist; 12:00-13:00 nothing arrived
    t = _epochs(t0, 240, nonwear=slice(60, 120))
    after = _epochs(t0 + 5 * 3600 * NS, 60)
    cols = {k: np.concatenate([t.columns[k], after.columns[k]]) for k in t.columns}
    wear = split_wear(cols, d0, d1, LONDON, min_span_s=600)
    assert wear.not_worn_total == 3600
    assert wear.not_worn_spans == (("09:00", "10:00"),)
    assert ("12:00", "13:00") in wear.no_signal_spans and ("00:00", "08:00") in \
        wear.no_signal_spans
    assert wear.no_signal_total == (24 - 5) * 3600
    # the future is neither: until 12:30 only half of the 12:00 hour is "no signal"
    part = split_wear(cols, d0, d1, LONDON, until_ns=d0 + int(12.5 * 3600) * NS)
    assert part.no_signal_s[12] == 1800 and part.no_signal_s[13:].sum() == 0


def test_activity_words_compare_with_the_usual_for_that_hour() -> None:
    labels = {h: f"{h:02d}:00" for h in range(25)}
    usual = {16: [100.0, 110.0, 90.0], 17: [100.0, 95.0, 105.0], 9: [50.0, 60.0],
             20: [100.0, 100.0, 100.0]}
    words = activity_words({16: 200.0, 17: 180.0, 9: 500.0, 20: 40.0}, usual, labels)
    assert words == ["From 16:00 to 18:00: more active than usual for this time of day.",
                     "From 20:00 to 21:00: quieter than usual for this time of day."]


# --- parents read words, clinicians units ------------------------------------------------
def test_parent_pages_have_no_units_and_therapists_keep_them(api: Api) -> None:
    a = api.child_a.id
    day = date.fromtimestamp(1_750_000_000)
    api.store.create_event(a, "pro.wall_push", started_at=1_750_000_000 * NS + 300 * NS)
    for path in (f"/day?child={a}&day={day}&tz=UTC", f"/week?child={a}&end={day}&tz=UTC",
                 f"/home?child={a}", f"/family/data?child={a}"):
        r = api.client.get(path, headers=api.h("parent"))
        assert r.status_code == 200, (path, r.text[:300])
        text = re.sub(r"<script.*?</script>|<[^>]+>", " ", r.text, flags=re.S)
        assert not UNITS.search(text), (path, UNITS.search(text))
        for block in re.findall(r'data-figure="[^"]*">(.*?)</script>', r.text, re.S):
            assert not UNITS.search(block), (path, UNITS.search(block))
    r = api.client.get(f"/day?child={a}&day={day}&tz=UTC", headers=api.h("therapist"))
    assert "ENMO in milli-g" in r.text


# --- home plan and check-ins --------------------------------------------------------------
def test_plan_is_set_by_the_therapist_and_counted_per_day(api: Api) -> None:
    a = api.child_a.id
    r = api.client.post(f"/api/children/{a}/plan", headers=api.h("parent"),
                        json={"strategy": "pro.carry"})
    assert r.status_code == 403
    for strategy, times in (("pro.carry", 1), ("ves.bounce", 2), ("mov.break", 2)):
        r = api.client.post(f"/api/children/{a}/plan", headers=api.h("therapist"),
                            json={"strategy": strategy, "when": "after school",
                                  "times_per_day": times})
        assert r.status_code == 201, r.text
    plan = api.store.list_plan(a)
    today = date.today()
    d0, d1 = day_bounds(today, ZoneInfo("UTC"))
    evs = [api.store.create_event(a, k, started_at=d0 + i * 60 * NS) for i, k in
           enumerate(("pro.carry", "pro.carry", "ves.bounce", "mov.break", "mov.break",
                      "mov.break"))]
    api.store.void_event(evs[-1].id, reason="tapped twice", by=None)
    pd = plan_day(plan, api.store.list_events(child_id=a), today, d0, d1)
    assert [(i[1].split(" (")[0], i[3], i[4]) for i in pd.items] == [
        ("Carry heavy items", 1, 1), ("Trampoline / bouncing", 1, 2),
        ("Structured movement break", 2, 2)]
    assert pd.sentence == "4 of 5 planned"
    r = api.client.get(f"/week?child={a}&tz=UTC", headers=api.h("parent"))
    assert "4 of 5 planned" in r.text and "Nothing planned" not in r.text.split(
        today.strftime("%a %d %b"))[1][:200]
    # taking an item off keeps earlier days as they were
    api.client.delete(f"/api/children/{a}/plan/{plan[0].id}", headers=api.h("therapist"))
    assert [p.strategy for p in api.store.list_plan(a)] == ["ves.bounce", "mov.break"]
    assert len(api.store.list_plan(a, include_retired=True)) == 3


def test_checkins_are_off_by_default_and_never_a_score(api: Api) -> None:
    a = api.child_a.id
    body = {"rating": 2, "note": "tired after swimming", "part": "evening"}
    r = api.client.post(f"/api/children/{a}/checkins", headers=api.h("parent"), json=body)
    assert r.status_code == 422 and "switched off" in r.text
    assert api.client.put(f"/api/children/{a}/settings", headers=api.h("parent"),
                          json={"checkins_enabled": True}).status_code == 200
    r = api.client.post(f"/api/children/{a}/checkins", headers=api.h("parent"), json=body)
    assert r.status_code == 201, r.text
    bad = api.client.post(f"/api/children/{a}/checkins", headers=api.h("parent"),
                          json={"rating": 6})
    assert bad.status_code == 422
    day = date.today().isoformat()
    r = api.client.get(f"/day?child={a}&day={day}&tz=UTC", headers=api.h("parent"))
    assert "a bit hard (2 of 5)" in r.text and "tired after swimming" in r.text
    assert not re.search(r"average|score|mean rating", r.text, re.I)
    # a therapist may add one too, from the day page of today
    r = api.client.get(f"/day?child={a}&day={day}&tz=UTC", headers=api.h("therapist"))
    assert 'id="checkin-form"' in r.text
    r = api.client.post(f"/api/children/{a}/checkins", headers=api.h("therapist"),
                        json={"rating": 5, "part": "session"})
    assert r.status_code == 201


def test_a_parent_logs_for_their_own_child_only(api: Api) -> None:
    r = api.client.post("/api/events", headers=api.h("parent"),
                        json={"child_id": api.child_a.id, "strategy": "ves.bounce",
                              "started_ago_s": 600, "note": "trampoline after school",
                              "planned": True})
    assert r.status_code == 201, r.text
    r = api.client.post("/api/events", headers=api.h("parent"),
                        json={"child_id": api.child_b.id, "strategy": "ves.bounce"})
    assert r.status_code in (403, 404)
    assert [e.strategy for e in api.store.list_events(child_id=api.child_b.id)] == []


def test_the_guardian_sees_who_looked(api: Api) -> None:
    a = api.child_a.id
    api.client.get(f"/day?child={a}&day=2026-06-01&tz=UTC", headers=api.h("therapist"))
    r = api.client.get(f"/family/data?child={a}", headers=api.h("parent"))
    assert r.status_code == 200
    assert "tess (therapist)" in r.text and "looked at the day page" in r.text
    assert "Download everything" in r.text and "del-step2" in r.text
