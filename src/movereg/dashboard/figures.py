"""Pure Plotly figure builders for the pages (server-side JSON, rendered by Plotly.js).

Okabe–Ito colours for categories, a single-hue sequential scale for intensity, and never
colour alone: every trace also differs in line style, marker symbol or fill pattern and
is labelled in words. Each figure carries a plain-text summary in ``layout.meta.alt``
(the pages show it next to the chart, with a "view as table" toggle). The mode bar is
hidden through :data:`PLOT_CONFIG` (it is not keyboard-accessible).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, tzinfo
from typing import Any, Final
from zoneinfo import ZoneInfo

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from movereg.analysis.stats import StrategyStat
from movereg.analysis.summary import ZONE_WORDS, WeekSummary, format_duration
from movereg.timeutil import NS_PER_S

__all__ = [
    "INTENSITY_FILLS",
    "OKABE_ITO",
    "PLOT_CONFIG",
    "ZONE_EDGES_MG",
    "before_after",
    "figure_dict",
    "live_strip",
    "local_iso",
    "short_label",
    "week_view",
    "zones_bar",
]

OKABE_ITO: Final[dict[str, str]] = {
    "black": "#000000", "orange": "#E69F00", "sky": "#56B4E9", "green": "#009E73",
    "yellow": "#F0E442", "blue": "#0072B2", "vermillion": "#D55E00", "purple": "#CC79A7",
}
#: Sequential single-hue (blue) fills for still .. very active, plus "not worn" grey.
INTENSITY_FILLS: Final[tuple[str, ...]] = ("#DCE9F5", "#9DC3E6", "#4A90C8", "#08407A", "#BDBDBD")
_PATTERNS: Final[tuple[str, ...]] = ("", "/", ".", "x", "-")
#: ENMO zone edges, mg (Hildebrand child non-dominant wrist; not validated for this
#: population or device).
ZONE_EDGES_MG: Final[tuple[float, float, float]] = (35.6, 201.4, 707.0)
PLOT_CONFIG: Final[dict[str, Any]] = {"displayModeBar": False, "responsive": True,
                                      "displaylogo": False, "scrollZoom": False}
_FONT: Final[dict[str, Any]] = {"family": "system-ui, sans-serif", "size": 15,
                                "color": "#1a1a1a"}
_FLOOR_MG: Final[float] = 1.0  # the log activity axis starts here; lower values drawn at it


def _zone(tz: str | tzinfo) -> tzinfo:
    return ZoneInfo(tz) if isinstance(tz, str) else tz


def local_iso(ns: Iterable[int] | np.ndarray, tz: str | tzinfo = "UTC") -> list[str]:
    """UTC ns -> naive local ISO strings (what Plotly's date axis shows as-is)."""
    z = _zone(tz)
    arr = ns if isinstance(ns, np.ndarray) else np.asarray(list(ns), dtype=np.int64)
    return [datetime.fromtimestamp(v / NS_PER_S, z).replace(tzinfo=None).isoformat(
        timespec="milliseconds") for v in arr.astype(np.int64).tolist()]


def _base_layout(fig: go.Figure, *, title: str, alt: str, height: int) -> go.Figure:
    fig.update_layout(
        title={"text": title, "x": 0.0, "xanchor": "left"}, font=_FONT, height=height,
        margin={"l": 64, "r": 110, "t": 48, "b": 48}, plot_bgcolor="#FFFFFF",
        paper_bgcolor="#FFFFFF", hovermode="x unified",
        legend={"orientation": "h", "y": -0.18, "x": 0.0}, meta={"alt": alt})
    fig.update_xaxes(showline=True, linecolor="#595959", gridcolor="#E6E6E6")
    fig.update_yaxes(showline=True, linecolor="#595959", gridcolor="#E6E6E6")
    return fig


def figure_dict(fig: go.Figure) -> dict[str, Any]:
    """JSON-ready ``{"data": [...], "layout": {...}}`` for embedding in a page."""
    out: dict[str, Any] = fig.to_plotly_json()
    return out


def short_label(label: str) -> str:
    """A strategy label without its parenthesised examples (for chart markers)."""
    return label.split(" (")[0].strip()


def _span_shapes(spans: Sequence[Mapping[str, Any]], now_ns: int, tz: str | tzinfo,
                 window_s: float) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    shapes: list[dict[str, Any]] = []
    notes: list[dict[str, Any]] = []
    for sp in spans:
        start = int(sp["start_ns"])
        end = sp.get("end_ns")
        x0, x1 = local_iso([start, int(end) if end is not None else now_ns], tz)
        shapes.append({"type": "rect", "xref": "x", "yref": "paper", "x0": x0, "x1": x1,
                       "y0": 0, "y1": 1, "fillcolor": OKABE_ITO["purple"], "opacity": 0.18,
                       "line": {"color": "#7A3E66", "width": 2, "dash": "dot"},
                       "layer": "below", "name": "strategy"})
        notes.append({"x": x0, "y": 1.0, "xref": "x", "yref": "paper", "yanchor": "bottom",
                      # labels of recent spans extend leftwards so they stay on the chart
                      "xanchor": "right" if (now_ns - start) / NS_PER_S < 0.4 * window_s else "left",
                      "showarrow": False,
                      "text": f"▼ {short_label(str(sp['label']))}",
                      "font": {"size": 13, "color": "#5A2D4B"}, "name": "strategy"})
    return shapes, notes


def live_strip(feed: Mapping[str, Sequence[Any]], spans: Sequence[Mapping[str, Any]] = (), *,
               now_ns: int | None = None, window_s: float = 600.0,
               tz: str | tzinfo = "UTC", title: str = "Movement, last 10 minutes",
               ) -> go.Figure:
    """Live strip chart of one band.

    Parameters
    ----------
    feed
        Columns ``t_ns`` (epoch start, UTC ns), ``enmo_mg``, ``rhythmic_fraction`` (0..1)
        and ``impacts`` (count per epoch).
    spans
        Strategy spans: ``{"label", "start_ns", "end_ns" (None while running)}``.
    now_ns, window_s
        Right edge (default: last epoch) and width of the x window, s.

    Trace order (the page's JS extends them by index): 0 activity, 1 rhythmic movement,
    2 impacts. Activity uses a log axis (1-2000 mg; values under 1 mg are drawn at 1 mg)
    so still and very active movement are both readable.
    """
    t = np.asarray(feed.get("t_ns", []), dtype=np.int64)
    enmo = np.asarray(feed.get("enmo_mg", []), dtype=np.float64)
    rf = np.asarray(feed.get("rhythmic_fraction", []), dtype=np.float64)
    imp = np.asarray(feed.get("impacts", []), dtype=np.float64)
    now = int(now_ns if now_ns is not None else (t[-1] if t.size else 0))
    if t.size > 1:  # missing data: a NaN point breaks the lines instead of bridging the gap
        step = int(np.median(np.diff(t)))
        cut = np.flatnonzero(np.diff(t) > 2.5 * step) + 1
        t = np.insert(t, cut, t[cut - 1] + step)
        enmo, rf, imp = (np.insert(a, cut, np.nan) for a in (enmo, rf, imp))
    x = local_iso(t, tz)
    fig = make_subplots(rows=3, cols=1, shared_xaxes=True, vertical_spacing=0.05,
                        row_heights=[0.6, 0.22, 0.18])
    shown = np.where(np.isfinite(enmo), np.maximum(enmo, _FLOOR_MG), np.nan)
    fig.add_trace(go.Scatter(x=x, y=shown.tolist(), name="Activity (ENMO, mg)", mode="lines",
                             line={"color": OKABE_ITO["blue"], "width": 2.5}), row=1, col=1)
    fig.add_trace(go.Scatter(x=x, y=rf.tolist(), name="Rhythmic movement (share, 0–1)",
                             mode="lines", line={"color": "#9A6700", "width": 2.5,
                                                 "dash": "dash"}), row=2, col=1)
    fig.add_trace(go.Bar(x=x, y=imp.tolist(), name="Impacts (per epoch)",
                         marker={"color": OKABE_ITO["vermillion"],
                                 "pattern": {"shape": "x", "fgcolor": "#000000",
                                             "fgopacity": 0.4}}), row=3, col=1)
    top = max(2000.0, float(np.nanmax(enmo)) * 1.2 if np.isfinite(enmo).any() else 0.0)
    edges = (_FLOOR_MG, *ZONE_EDGES_MG, top)
    for z in range(4):
        fig.add_shape(type="rect", xref="paper", yref="y", x0=0, x1=1, y0=edges[z],
                      y1=edges[z + 1], line_width=0, fillcolor=INTENSITY_FILLS[z],
                      opacity=0.35, layer="below", name="zone")
        # annotations on a log axis take log10 values
        fig.add_annotation(xref="paper", yref="y", x=0.005, xanchor="left", showarrow=False,
                           y=float(np.log10(np.sqrt(edges[z] * edges[z + 1]))),
                           text=ZONE_WORDS[z], font={"size": 12, "color": "#1a1a1a"},
                           bgcolor="rgba(255,255,255,0.7)",
                           name="zone")
    shapes, notes = _span_shapes(spans, now, tz, window_s)
    for s in shapes:
        fig.add_shape(s)
    for a in notes:
        fig.add_annotation(a)
    if t.size or now:
        x0, x1 = local_iso([now - int(window_s * NS_PER_S), now], tz)
        fig.update_xaxes(range=[x0, x1])
    fig.update_yaxes(title_text="activity mg", type="log",
                     range=[np.log10(_FLOOR_MG), float(np.log10(top))],
                     tickvals=[1, 10, 100, 1000], row=1, col=1)
    fig.update_yaxes(title_text="rhythm", range=[0, 1.05], tickvals=[0, 0.5, 1], row=2, col=1)
    fig.update_yaxes(title_text="impacts", rangemode="tozero", nticks=3, row=3, col=1)
    last = (f"Latest activity {enmo[-1]:.0f} mg ({ZONE_WORDS[_zone_index(enmo[-1])]})"
            if enmo.size and np.isfinite(enmo[-1]) else "No data yet")
    alt = (f"{last}. {len(spans)} strategy marker{'s' if len(spans) != 1 else ''} shown. "
           f"Shaded bands mark intensity: {', '.join(ZONE_WORDS)}.")
    _base_layout(fig, title=title, alt=alt, height=480)
    fig.update_xaxes(tickformat="%H:%M:%S", nticks=6)
    # each row has one trace and a worded axis title: direct labels, no legend needed
    fig.update_layout(uirevision="live", margin={"l": 64, "r": 16, "t": 56, "b": 36},
                      showlegend=False, bargap=0.1)
    return fig


def _zone_index(enmo_mg: float) -> int:
    return int(np.searchsorted(np.asarray(ZONE_EDGES_MG), enmo_mg, side="right"))


def zones_bar(zone_s: Sequence[float]) -> go.Figure:
    """Time in each intensity word (horizontal bars, patterned, labelled with durations)."""
    minutes = [round(v / 60.0, 1) for v in zone_s]
    text = [format_duration(v) for v in zone_s]
    fig = go.Figure(go.Bar(
        y=list(ZONE_WORDS), x=minutes, orientation="h", text=text, textposition="outside",
        marker={"color": list(INTENSITY_FILLS[:4]), "line": {"color": "#404040", "width": 1},
                "pattern": {"shape": list(_PATTERNS[:4]), "fgcolor": "#1a1a1a",
                            "fgopacity": 0.45}},
        name="time", hovertemplate="%{y}: %{text}<extra></extra>", cliponaxis=False))
    fig.update_yaxes(autorange="reversed")
    fig.update_xaxes(title_text="minutes", rangemode="tozero")
    alt = "; ".join(f"{w}: {t}" for w, t in zip(ZONE_WORDS, text, strict=True)) + "."
    _base_layout(fig, title="Time in each kind of movement", alt=alt, height=260)
    fig.update_layout(showlegend=False, hovermode="closest")
    return fig


def before_after(stats: Sequence[StrategyStat], *, min_n: int = 3) -> go.Figure:
    """Median change (after - before) per strategy with its 95% bootstrap interval and n.
    Strategies with fewer than ``min_n`` compared uses are drawn hollow and say so."""
    rows = [s for s in stats if s.n_compared > 0]
    labels = [f"{s.label} (n={s.n_compared})" for s in rows]
    med = [s.median_change for s in rows]
    fig = go.Figure()
    if rows:
        fig.add_trace(go.Scatter(
            x=med, y=labels, mode="markers", name="median change, 95% interval",
            error_x={"type": "data", "symmetric": False,
                     "array": [s.ci_high - s.median_change for s in rows],
                     "arrayminus": [s.median_change - s.ci_low for s in rows],
                     "color": "#333333", "thickness": 2, "width": 6},
            marker={"symbol": ["diamond" if s.n_compared >= min_n else "diamond-open"
                               for s in rows], "size": 14, "color": OKABE_ITO["blue"],
                    "line": {"color": "#000000", "width": 1}},
            text=[s.sentence for s in rows], hovertemplate="%{text}<extra></extra>"))
    fig.add_vline(x=0, line={"color": "#595959", "dash": "dash", "width": 1.5},
                  annotation_text="no change", annotation_position="top")
    unit = rows[0].unit if rows else ""
    feat = rows[0].feature if rows else "enmo_mg"
    fig.update_xaxes(title_text=f"after minus before ({feat}, {unit})")
    alt = " ".join(s.sentence for s in stats) or "No strategies with band data around them yet."
    _base_layout(fig, title="Movement after each strategy, compared with before", alt=alt,
                 height=max(220, 80 + 46 * len(rows)))
    fig.update_layout(showlegend=False, hovermode="closest", margin={"l": 280})
    return fig


def week_view(week: WeekSummary) -> go.Figure:
    """Hours worn per day (bars) with strategy uses and movement breaks (lines+markers,
    labelled with their numbers) on a second axis. No scores."""
    days = [d.day.strftime("%a %d %b") for d in week.days]
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    fig.add_trace(go.Bar(x=days, y=[round(w / 3600, 2) for w in week.wear_s],
                         name="hours worn", marker={"color": INTENSITY_FILLS[1],
                                                    "line": {"color": "#404040", "width": 1}},
                         text=[format_duration(w) for w in week.wear_s],
                         textposition="inside"), secondary_y=False)
    counts = (  # name, per day, label position, colour, dash, marker, marker size
        ("strategy uses", week.strategy_uses, "top", "purple", "solid", "triangle-down", 12),
        ("movement breaks", week.break_counts, "bottom", "vermillion", "dot", "square", 10))
    for name, per_day, where, colour, dash, symbol, size in counts:
        fig.add_trace(go.Scatter(x=days, y=list(per_day), name=name, mode="lines+markers+text",
                                 text=list(per_day), textposition=f"{where} center",
                                 line={"color": OKABE_ITO[colour], "dash": dash, "width": 2},
                                 marker={"symbol": symbol, "size": size}), secondary_y=True)
    # ticks "Tue" over "1" stay level and readable on a 390-px phone; hover keeps the date
    fig.update_xaxes(tickvals=days, tickangle=0,
                     ticktext=[f"{d.day:%a}<br>{d.day.day}" for d in week.days])
    fig.update_yaxes(title_text="hours worn", rangemode="tozero", secondary_y=False)
    top = max([3, *week.strategy_uses, *week.break_counts]) + 1
    fig.update_yaxes(title_text="count", range=[0, top], dtick=max(1, top // 6),
                     secondary_y=True, showgrid=False)
    _base_layout(fig, title="The week", alt=" ".join(week.sentences), height=360)
    fig.update_layout(legend={"y": -0.26})     # below the two-line day ticks
    return fig
