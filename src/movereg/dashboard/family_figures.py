"""The family day chart: minutes per local hour in each kind of movement, with "not
worn" and "no signal" as two different, patterned categories (legible in black and
white) and strategy markers. No units beyond minutes."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, tzinfo

import numpy as np
import plotly.graph_objects as go

from movereg.analysis import ZONE_WORDS, DailySummary, format_duration, strategy_label
from movereg.dashboard.family_view import NS, Wear
from movereg.dashboard.figures import INTENSITY_FILLS, OKABE_ITO

__all__ = ["MISSING_STYLE", "day_ribbon"]

#: name -> (fill colour, pattern): "not worn" a mid grey with horizontal lines, "no
#: signal" white with crosses, so the two never look alike, in colour or on paper.
MISSING_STYLE: dict[str, tuple[str, str, str]] = {
    "not_worn": ("not worn", "#9E9E9E", "-"),
    "no_signal": ("no signal", "#FFFFFF", "x"),
}
_ZONE_PATTERNS = ("", "/", ".", "\\")


def day_ribbon(summary: DailySummary, wear: Wear, labels: Sequence[str], tz: tzinfo,
               *, title: str = "The day, hour by hour") -> go.Figure:
    """Stacked minutes per elapsed local hour: still .. very active (from
    ``summary.hourly_zone_s``), not worn, no signal; strategy markers above."""
    h = summary.hourly_zone_s[:, :4] / 60.0
    n = h.shape[0]
    x = (np.arange(n) + 0.5).tolist()
    fig = go.Figure()
    for k, word in enumerate(ZONE_WORDS):
        fig.add_trace(go.Bar(
            x=x, y=np.round(h[:, k], 2).tolist(), name=word, width=0.92,
            marker={"color": INTENSITY_FILLS[k], "line": {"color": "#404040", "width": 0.6},
                    "pattern": {"shape": _ZONE_PATTERNS[k], "fgcolor": "#1a1a1a",
                                "fgopacity": 0.5}},
            hovertemplate=f"%{{y:.0f}} min {word}<extra></extra>"))
    for key, arr in (("not_worn", wear.not_worn_s), ("no_signal", wear.no_signal_s)):
        word, colour, pattern = MISSING_STYLE[key]
        fig.add_trace(go.Bar(
            x=x, y=np.round(arr[:n] / 60.0, 2).tolist(), name=word, width=0.92,
            marker={"color": colour, "line": {"color": "#1a1a1a", "width": 0.8},
                    "pattern": {"shape": pattern, "fgcolor": "#1a1a1a", "fgopacity": 0.7}},
            hovertemplate=f"%{{y:.0f}} min {word}<extra></extra>"))
    ev_x, ev_text = [], []
    for e in summary.events:
        ev_x.append((e.onset_ns - summary.day_start_ns) / (3600 * NS))
        when = datetime.fromtimestamp(e.onset_ns / NS, tz).strftime("%H:%M")
        ev_text.append(f"{strategy_label(e.strategy)} {when}")
    fig.add_trace(go.Scatter(
        x=ev_x, y=[64] * len(ev_x), mode="markers", name="strategy used",
        marker={"symbol": "triangle-down", "size": 13, "color": OKABE_ITO["purple"],
                "line": {"color": "#000000", "width": 1}},
        text=ev_text, hovertemplate="%{text}<extra></extra>"))
    ticks = list(range(0, n, 3))
    fig.update_layout(barmode="stack", bargap=0.05, title={"text": title, "x": 0.0},
                      font={"family": "system-ui, sans-serif", "size": 14, "color": "#1a1a1a"},
                      height=300, margin={"l": 48, "r": 12, "t": 40, "b": 40},
                      plot_bgcolor="#FFFFFF", paper_bgcolor="#FFFFFF", hovermode="closest",
                      legend={"orientation": "h", "y": -0.16, "x": 0.0, "font": {"size": 12}})
    fig.update_xaxes(range=[0, n], tickvals=ticks, ticktext=[labels[t] for t in ticks],
                     showline=True, linecolor="#595959")
    fig.update_yaxes(range=[0, 70], title_text="minutes", tickvals=[0, 15, 30, 45, 60],
                     showline=True, linecolor="#595959", gridcolor="#D9D9D9")
    busiest = int(np.argmax(h[:, 1:4].sum(axis=1))) if n and h[:, 1:4].sum() > 0 else None
    alt = (f"Band worn {format_duration(summary.wear_s)}; most movement in the hour from "
           f"{labels[busiest]}." if busiest is not None else "No movement recorded.")
    alt += (f" Not worn {format_duration(wear.not_worn_total)}; no signal "
            f"{format_duration(wear.no_signal_total)}. {len(ev_x)} strategy "
            f"marker{'s' if len(ev_x) != 1 else ''}.")
    fig.update_layout(meta={"alt": alt})
    return fig
