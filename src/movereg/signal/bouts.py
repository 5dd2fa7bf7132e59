"""Bouts from the epoch series: movement breaks (light-or-above) and vigorous bouts."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from movereg.errors import ParameterError
from movereg.signal.params import FeatureConfig
from movereg.signal.table import EpochTable

__all__ = ["Bout", "movement_breaks", "vigorous_bouts"]


@dataclass(frozen=True)
class Bout:
    """One bout: ``[start_ns, end_ns)`` UTC ns, its length and ENMO over its epochs."""

    start_ns: int
    end_ns: int
    duration_s: float
    peak_enmo_mg: float
    mean_enmo_mg: float
    active_fraction: float


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, stop) index pairs of the True runs of ``mask``."""
    m = np.concatenate([[False], mask, [False]]).astype(np.int8)
    d = np.diff(m)
    return list(zip(np.flatnonzero(d == 1).tolist(), np.flatnonzero(d == -1).tolist(),
                    strict=True))


def _bouts(table: EpochTable, active: np.ndarray, max_gap_s: float, min_duration_s: float,
           min_fraction: float) -> list[Bout]:
    n = table.n
    if n == 0:
        return []
    start = table["epoch_start"]
    ep_ns = np.round(table["epoch_s"] * 1e9).astype(np.int64)
    enmo = table["enmo_mg"]
    # rows that do not follow each other in time never join one bout
    contiguous = np.ones(n, dtype=bool)
    contiguous[1:] = start[1:] == start[:-1] + ep_ns[:-1]
    merged: list[tuple[int, int]] = []
    for a, b in _runs(active):
        if merged:
            pa, pb = merged[-1]
            gap_s = (start[a] - (start[pb - 1] + ep_ns[pb - 1])) / 1e9
            if gap_s <= max_gap_s + 1e-9 and bool(np.all(contiguous[pb:a + 1])):
                merged[-1] = (pa, b)
                continue
        merged.append((a, b))
    out = []
    for a, b in merged:
        end_ns = int(start[b - 1] + ep_ns[b - 1])
        dur = (end_ns - int(start[a])) / 1e9
        frac = float(np.sum(ep_ns[a:b][active[a:b]]) / np.sum(ep_ns[a:b]))
        if dur + 1e-9 < min_duration_s or frac + 1e-12 < min_fraction:
            continue
        e = enmo[a:b]
        ok = np.isfinite(e)
        out.append(Bout(int(start[a]), end_ns, dur,
                        float(np.max(e[ok])) if ok.any() else float("nan"),
                        float(np.mean(e[ok])) if ok.any() else float("nan"), frac))
    return out


def movement_breaks(table: EpochTable, *, config: FeatureConfig | None = None,
                    min_duration_s: float | None = None,
                    max_dip_s: float | None = None) -> list[Bout]:
    """Bouts of light-or-above movement (ENMO >= ``light_mg``) lasting >= ``min_duration_s``.

    Runs of active epochs separated by dips of at most ``max_dip_s`` of less intense
    (or missing) epochs are joined; rows that are not back-to-back in time never are.
    Defaults: ``FeatureConfig.break_min_duration_s`` (60 s), ``break_max_dip_s`` (10 s).
    """
    cfg = config or FeatureConfig()
    dur = cfg.break_min_duration_s if min_duration_s is None else min_duration_s
    dip = cfg.break_max_dip_s if max_dip_s is None else max_dip_s
    if dur < 0 or dip < 0:
        raise ParameterError("min_duration_s and max_dip_s must be >= 0")
    e = table["enmo_mg"] if table.n else np.empty(0)
    active = np.isfinite(e) & (e >= cfg.light_mg)
    return _bouts(table, active, dip, dur, 0.0)


def vigorous_bouts(table: EpochTable, *, config: FeatureConfig | None = None,
                   threshold_mg: float | None = None, min_duration_s: float | None = None,
                   min_fraction: float | None = None, max_gap_s: float = 2.0) -> list[Bout]:
    """GGIR-like bouts: epochs >= ``threshold_mg`` (default vigorous, 707 mg) joined over
    gaps <= ``max_gap_s``; kept when >= ``min_duration_s`` long (10 s) and >= 80 % of the
    bout's time is above the threshold (``bout_min_fraction``)."""
    cfg = config or FeatureConfig()
    thr = cfg.vigorous_mg if threshold_mg is None else threshold_mg
    dur = cfg.bout_min_duration_s if min_duration_s is None else min_duration_s
    frac = cfg.bout_min_fraction if min_fraction is None else min_fraction
    e = table["enmo_mg"] if table.n else np.empty(0)
    active = np.isfinite(e) & (e >= thr)
    return _bouts(table, active, max_gap_s, dur, frac)
