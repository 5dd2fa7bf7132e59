from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from conftest import NS, T0, make_epochs
from movereg.analysis import event_changes, event_epochs
from movereg.errors import ParameterError, ValidationError


def _stepped(n: int = 3600) -> dict[str, np.ndarray]:
    """Activity 100 mg, then 400 mg during [1200, 1320) s, then 40 mg."""
    enmo = np.full(n, 100.0)
    enmo[1200:1320] = 400.0
    enmo[1320:] = 40.0
    return make_epochs(n, enmo=enmo)


def test_change_is_after_minus_before_with_during_excluded() -> None:
    ev = {"id": "e1", "strategy": "mov.break", "started_at": T0 + 1200 * NS,
          "ended_at": T0 + 1320 * NS, "child_id": "c1"}
    (ch,) = event_changes(_stepped(), [ev])
    assert ch.status == "ok" and ch.included
    assert ch.before["enmo_mg"] == pytest.approx(100.0)
    assert ch.after["enmo_mg"] == pytest.approx(40.0)  # during's 400 mg not counted
    assert ch.change["enmo_mg"] == pytest.approx(-60.0)
    assert ch.before_s == 300 and ch.during_s == 120 and ch.after_s == 600 - 120


def test_anchor_end_measures_post_s_after_the_end() -> None:
    ev = {"id": "e1", "strategy": "mov.break", "started_at": T0 + 1200 * NS,
          "ended_at": T0 + 1320 * NS}
    (ch,) = event_changes(_stepped(), [ev], anchor="end")
    assert ch.after_s == 600


def test_times_may_be_datetimes_or_iso_text() -> None:
    dt = datetime.fromtimestamp((T0 + 1200 * NS) / NS, UTC)
    a = event_changes(_stepped(), [{"strategy": "x", "started_at": dt}])[0]
    b = event_changes(_stepped(), [{"strategy": "x", "started_at": dt.isoformat()}])[0]
    c = event_changes(_stepped(), [{"strategy": "x", "started_at": T0 + 1200 * NS}])[0]
    assert a.change == b.change == c.change


def test_overlapping_events_are_excluded_and_named() -> None:
    evs = [{"id": "a", "strategy": "s1", "started_at": T0 + 1000 * NS},
           {"id": "b", "strategy": "s2", "started_at": T0 + 1120 * NS},   # inside a's response
           {"id": "c", "strategy": "s3", "started_at": T0 + 3000 * NS}]   # far away
    epochs = make_epochs(4200)
    a, b, c = event_changes(epochs, evs)
    assert (a.status, a.contaminated_by, a.contaminated_phases) == ("overlap", ("b",), ("after",))
    assert (b.status, b.contaminated_by, b.contaminated_phases) == ("overlap", ("a",), ("before",))
    assert c.status == "ok" and c.contaminated_by == ()
    flagged = event_changes(epochs, evs, overlap="flag")
    assert [x.included for x in flagged] == [True, True, True]
    assert flagged[0].contaminated_by == ("b",)


def test_long_running_event_contaminates_both_windows() -> None:
    evs = [{"id": "vest", "strategy": "pro.vest", "started_at": T0 + 500 * NS,
            "ended_at": T0 + 3000 * NS},
           {"id": "jump", "strategy": "mov.break", "started_at": T0 + 1500 * NS}]
    vest, jump = event_changes(make_epochs(4000), evs)
    assert jump.contaminated_by == ("vest",) and jump.contaminated_phases == ("before", "after")
    assert vest.status == "no_response_window"  # 2500 s vest > the 600 s response end
    assert vest.contaminated_by == ("jump",)
    vest_end = event_changes(make_epochs(4000), evs, anchor="end")[0]
    assert vest_end.status == "overlap" and vest_end.contaminated_phases == ("after",)


def test_voided_events_neither_count_nor_contaminate() -> None:
    evs = [{"id": "a", "strategy": "s1", "started_at": T0 + 1000 * NS},
           {"id": "b", "strategy": "s2", "started_at": T0 + 1100 * NS, "voided": True}]
    out = event_changes(make_epochs(3000), evs)
    assert [c.event_id for c in out] == ["a"] and out[0].status == "ok"


def test_insufficient_coverage_and_nonwear() -> None:
    n = 3000
    nonwear = np.zeros(n, dtype=np.int8)
    nonwear[800:1000] = 1  # 200 of the 300 baseline seconds not worn
    cov = np.ones(n)
    cov[2000:2500] = 0.2   # response of the second event mostly missing
    epochs = make_epochs(n, nonwear=nonwear, coverage=cov)
    evs = [{"id": "a", "strategy": "s", "started_at": T0 + 1000 * NS},
           {"id": "b", "strategy": "s", "started_at": T0 + 1900 * NS}]
    a, b = event_changes(epochs, evs)
    assert a.status == "insufficient_baseline" and a.before_s == 100
    assert b.status == "insufficient_response" and not b.included
    late = event_changes(epochs, [{"strategy": "s", "started_at": T0 + 2900 * NS}])[0]
    assert late.status == "insufficient_response" and late.after_s == 100


def test_strategy_longer_than_window_has_no_response_window() -> None:
    ev = {"strategy": "s", "started_at": T0 + 400 * NS, "ended_at": T0 + 1100 * NS}
    (ch,) = event_changes(make_epochs(3000), [ev])
    assert ch.status == "no_response_window"


def test_count_features_are_rates_per_minute() -> None:
    impacts = np.zeros(1200, dtype=np.int64)
    impacts[0:300:10] = 2      # 60 impacts in the 300 s baseline -> 12/min
    ev = {"strategy": "s", "started_at": T0 + 300 * NS}
    (ch,) = event_changes(make_epochs(1200, impacts=impacts), [ev])
    assert ch.before["impacts"] == pytest.approx(12.0)
    assert ch.after["impacts"] == 0.0


def test_event_epochs_tidy_phases() -> None:
    ev = {"id": "e", "strategy": "s", "started_at": T0 + 1200 * NS, "ended_at": T0 + 1260 * NS}
    out = event_epochs(_stepped(), [ev], pre_s=60, post_s=120)
    cols = out.columns
    assert out.event_ids == ("e",)
    assert cols["t_rel_s"][0] == -60 and cols["t_rel_s"][-1] == 119
    phases, counts = np.unique(cols["phase"].astype(str), return_counts=True)
    assert dict(zip(phases.tolist(), counts.tolist(), strict=True)) == {
        "before": 60, "during": 60, "after": 60}


def test_bad_parameters_and_events() -> None:
    with pytest.raises(ParameterError):
        event_changes(make_epochs(10), [], pre_s=0)
    with pytest.raises(ValidationError):
        event_changes(make_epochs(10), [{"strategy": "s"}])
    with pytest.raises(ValidationError):
        event_changes(make_epochs(10), [{"strategy": "s", "started_at": "yesterday"}])
    with pytest.raises(ValidationError):
        event_changes(make_epochs(10), [{"strategy": "s", "started_at": 10, "ended_at": 5}])
