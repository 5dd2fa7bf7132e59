from __future__ import annotations

import json
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import plotly.io as pio
import pytest

from movereg.analysis import daily_summary, event_changes, strategy_stats, week_summary
from movereg.dashboard.family_figures import day_ribbon
from movereg.dashboard.family_view import hour_labels, split_wear
from movereg.dashboard.figures import (
    OKABE_ITO,
    PLOT_CONFIG,
    before_after,
    figure_dict,
    live_strip,
    local_iso,
    week_view,
    zones_bar,
)
from movereg.signal.schema import EPOCH_COLUMNS

NS = 1_000_000_000
D0 = 1_772_409_600 * NS  # 2026-03-02T00:00:00Z


def _epochs(n: int, t0: int, enmo: np.ndarray) -> dict[str, np.ndarray]:
    cols = {name: np.zeros(n, dtype=dt) for name, dt in EPOCH_COLUMNS}
    cols["epoch_start"] = t0 + np.arange(n, dtype=np.int64) * NS
    cols["epoch_s"] = np.ones(n)
    cols["coverage"] = np.ones(n)
    cols["enmo_mg"] = enmo
    cols["zone"] = np.searchsorted([35.6, 201.4, 707.0], enmo, side="right").astype(np.int8)
    return cols


def _roundtrip(fig) -> dict:
    return json.loads(pio.to_json(fig))


def test_live_strip_traces_zones_and_spans() -> None:
    t = D0 + np.arange(120, dtype=np.int64) * NS
    feed = {"t_ns": t, "enmo_mg": np.linspace(10, 300, 120),
            "rhythmic_fraction": np.full(120, 0.25), "impacts": np.arange(120) % 3}
    spans = [{"label": "Wall push-ups", "start_ns": int(t[60]), "end_ns": None}]
    fig = _roundtrip(live_strip(feed, spans, window_s=600))
    names = [tr["name"] for tr in fig["data"]]
    assert names == ["Activity (ENMO, mg)", "Rhythmic movement (share, 0–1)",
                     "Impacts (per epoch)"]
    act, rhy, imp = fig["data"]
    assert act["y"][-1] == pytest.approx(300.0) and act["x"][0] == "2026-03-02T00:00:00.000"
    assert act["line"]["color"] == OKABE_ITO["blue"]
    assert rhy["line"]["dash"] == "dash" and imp["type"] == "bar"  # not colour alone
    assert [act["yaxis"], rhy["yaxis"], imp["yaxis"]] == ["y", "y2", "y3"]  # own worded axes
    texts = [a["text"] for a in fig["layout"]["annotations"]]
    for word in ("still", "light movement", "active", "very active", "▼ Wall push-ups"):
        assert word in texts
    zone_rects = [s for s in fig["layout"]["shapes"] if s.get("name") == "zone"]
    assert [(s["y0"], s["y1"]) for s in zone_rects][:3] == [(1.0, 35.6), (35.6, 201.4),
                                                         (201.4, 707.0)]
    assert fig["layout"]["yaxis"]["type"] == "log"
    labels = {a["text"]: a["y"] for a in fig["layout"]["annotations"] if a.get("name") == "zone"}
    assert labels["light movement"] == pytest.approx(np.log10(np.sqrt(35.6 * 201.4)))
    span = [s for s in fig["layout"]["shapes"] if s.get("name") == "strategy"]
    assert span[0]["x0"] == "2026-03-02T00:01:00.000"
    assert span[0]["x1"] == "2026-03-02T00:01:59.000"  # running: ends at the latest data
    assert fig["layout"]["xaxis"]["range"] == ["2026-03-01T23:51:59.000",
                                               "2026-03-02T00:01:59.000"]
    assert "Latest activity 300 mg (active)" in fig["layout"]["meta"]["alt"]


def test_live_strip_breaks_lines_at_gaps() -> None:
    t = D0 + np.array([0, 1, 2, 30, 31], dtype=np.int64) * NS
    fig = _roundtrip(live_strip({"t_ns": t, "enmo_mg": [5.0, 50, 60, 70, 80],
                                 "rhythmic_fraction": [0.1] * 5, "impacts": [0] * 5}))
    act = fig["data"][0]
    assert act["y"] == [5.0, 50.0, 60.0, None, 70.0, 80.0]
    assert act["x"][3] == "2026-03-02T00:00:03.000"
    assert act.get("connectgaps") in (None, False)


def test_local_iso_time_zone() -> None:
    assert local_iso([D0], "Europe/Berlin") == ["2026-03-02T01:00:00.000"]


def _summary():
    n = 3 * 3600
    enmo = np.full(n, 20.0)
    enmo[600:1200] = 250.0
    enmo[3000:3100] = 900.0
    cols = _epochs(n, D0 + 9 * 3600 * NS, enmo)
    events = [{"id": "1", "strategy": "pro.wall_push", "started_at": D0 + 9 * 3600 * NS + 2000 * NS}]
    return cols, events, daily_summary(cols, events, day=date(2026, 3, 2), tz="UTC",
                                       nickname="Sam")


def _day_ribbon(cols: dict[str, np.ndarray], s: Any) -> Any:
    utc = ZoneInfo("UTC")
    d1 = D0 + 24 * 3600 * NS
    return day_ribbon(s, split_wear(cols, D0, d1, utc), hour_labels(D0, d1, utc), utc)


def test_ribbon_bars_equal_summary_minutes() -> None:
    # moved from the removed figures.activity_ribbon onto the day page's day_ribbon: its
    # missing time is two bars ("not worn", "no signal") instead of one
    cols, _, s = _summary()
    fig = _roundtrip(_day_ribbon(cols, s))
    bars = [tr for tr in fig["data"] if tr["type"] == "bar"]
    assert [b["name"] for b in bars] == ["still", "light movement", "active", "very active",
                                         "not worn", "no signal"]
    assert len({b["marker"]["pattern"]["shape"] for b in bars}) == 6  # patterns, not colour alone
    for k, b in enumerate(bars[:4]):
        assert np.allclose(b["y"], np.round(s.hourly_zone_s[:, k] / 60, 2))
    assert bars[2]["y"][9] == pytest.approx(10.0)  # 600 s at 250 mg in the 09:00 hour
    marks = next(tr for tr in fig["data"] if tr["name"] == "strategy used")
    assert marks["x"] == [pytest.approx(9 + 2000 / 3600)]
    assert marks["text"] == ["Wall push-ups 09:33"]


def test_zones_bar_values_and_text() -> None:
    fig = _roundtrip(zones_bar((3600.0, 600.0, 90.0, 0.0)))
    (bar,) = fig["data"]
    assert bar["x"] == [60.0, 10.0, 1.5, 0.0]
    assert bar["text"] == ["1 h 00 min", "10 min", "2 min", "0 s"]
    assert fig["layout"]["meta"]["alt"].startswith("still: 1 h 00 min")


def test_before_after_ci_and_n() -> None:
    cols = _epochs(4 * 3600, D0, np.full(4 * 3600, 100.0))
    cols["enmo_mg"][1800:2700] = 50.0
    evs = [{"id": str(i), "strategy": "pro.wall_push", "started_at": D0 + (1500 + i) * NS}
           for i in range(1)]
    stats = strategy_stats(event_changes(cols, evs))
    fig = _roundtrip(before_after(stats))
    (tr,) = fig["data"]
    assert tr["y"] == ["Wall push-ups (n=1)"]
    assert tr["x"] == [pytest.approx(stats[0].median_change)]
    assert tr["marker"]["symbol"] == ["diamond-open"]  # too few uses -> hollow
    assert "too few to see a pattern" in fig["layout"]["meta"]["alt"]
    empty = _roundtrip(before_after([]))
    assert empty["data"] == [] and "No strategies" in empty["layout"]["meta"]["alt"]


def test_week_view_and_config() -> None:
    _, _, s = _summary()
    fig = _roundtrip(week_view(week_summary([s, s])))
    bar, uses, breaks = fig["data"]
    assert bar["y"] == [round(s.wear_s / 3600, 2)] * 2
    assert uses["y"] == [1, 1] and breaks["y"] == [s.break_count] * 2
    assert uses["marker"]["symbol"] != breaks["marker"]["symbol"]
    # phone-sized ticks: weekday over day of month, level; hover keeps the whole date
    xaxis = fig["layout"]["xaxis"]
    assert xaxis["tickvals"] == bar["x"] and xaxis["tickangle"] == 0
    day = s.day
    assert xaxis["ticktext"] == [f"{day:%a}<br>{day.day}"] * 2
    assert bar["x"] == [f"{day:%a %d %b}"] * 2
    assert PLOT_CONFIG["displayModeBar"] is False
    assert figure_dict(zones_bar((1.0, 2.0, 3.0, 4.0)))["layout"]["meta"]["alt"]


def _contrast(hex_a: str, hex_b: str = "#FFFFFF") -> float:
    def lum(h: str) -> float:
        r, g, b = (int(h.lstrip("#")[i:i + 2], 16) / 255 for i in (0, 2, 4))
        f = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in (r, g, b)]
        return 0.2126 * f[0] + 0.7152 * f[1] + 0.0722 * f[2]

    hi, lo = sorted((lum(hex_a), lum(hex_b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def test_lines_and_markers_meet_wcag_non_text_contrast() -> None:
    """WCAG 1.4.11: chart lines and markers >= 3:1 against the white plot background."""
    cols, _, s = _summary()
    t = D0 + np.arange(10, dtype=np.int64) * NS
    figs = [live_strip({"t_ns": t, "enmo_mg": np.ones(10), "rhythmic_fraction": np.zeros(10),
                        "impacts": np.zeros(10)}, [{"label": "x", "start_ns": int(t[2]),
                                                   "end_ns": None}]),
            week_view(week_summary([s])), _day_ribbon(cols, s)]
    seen = 0
    for fig in figs:
        for tr in _roundtrip(fig)["data"]:
            colour = (tr.get("line") or {}).get("color") if tr["type"] == "scatter" else None
            if tr["type"] == "scatter" and "lines" not in tr.get("mode", "lines"):
                colour = tr["marker"].get("color")
            if isinstance(colour, str) and colour.startswith("#"):
                assert _contrast(colour) >= 3.0, (tr["name"], colour)
                seen += 1
    assert seen >= 4
