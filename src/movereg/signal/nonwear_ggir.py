"""GGIR's non-wear detection, reproduced exactly (``detect_nonwear_clipping``, GGIR 3.x).

GGIR (van Hees et al., PLoS One 2013;8(4):e61691) scores every ``ws2`` block (15 min) with
``NWav``, the number of axes (0-3) that look unworn: in a ``ws`` window (60 min), an
axis is unworn when its range (max - min) is below ``racriter`` (50 mg) and its standard
deviation below ``sdcriter`` (13 mg). Two variants, as GGIR's ``nonwear_approach``:

``"2013"`` (GGIR's default)
    the window is centred on the block; the first blocks (up to ``crit = ws/ws2/2 + 1``)
    use the recording's first window and the last ones its last ``crit`` blocks, exactly
    as GGIR indexes them. The block takes its own window's score.
``"2023"``
    the window starts at the block's left edge and every block it covers is flagged;
    samples are read every ``ceiling(sf / 5)``-th.

Afterwards a single block scored 1 between two blocks scored >= 2 becomes 2. A block is
non-wear when ``NWav >= wearthreshold`` (2), as GGIR's ``g.weardec``; the edge correction
of ``g.weardec`` (``nonWearEdgeCorrection``) is not applied here. Blocks are
``floor(n / (ws2 * fs))``: a trailing partial block is not scored (as GGIR).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from movereg.errors import ParameterError

__all__ = ["GgirNonwear", "nonwear_ggir", "nonwear_ggir_epochs"]

APPROACHES = ("2013", "2023")


@dataclass(frozen=True)
class GgirNonwear:
    """Per-block result: ``nwav`` (axes 0-3) and ``nonwear`` (``nwav >= threshold``)."""

    nwav: np.ndarray
    nonwear: np.ndarray
    block_s: float
    approach: str


def _windows(n: int, fs: float, ws2: float, ws: float, approach: str
             ) -> tuple[int, list[tuple[int, int, int]], list[tuple[int, int]]]:
    """0-based sample slices ``(lo, hi, step)`` and flagged block ranges per block."""
    w2 = round(ws2 * fs)
    w = round(ws * fs)
    nmin = n // w2
    crit = (w / w2) / 2 + 1
    slices: list[tuple[int, int, int]] = []
    flags: list[tuple[int, int]] = []
    for h in range(1, nmin + 1):  # GGIR's 1-based block number
        if approach == "2013":
            if h <= crit:
                hoc1, hoc2 = 1.0, float(w)
            elif h >= nmin - crit:
                hoc1, hoc2 = (nmin - crit) * w2, float(nmin * w2)
            else:
                mid = (h - 1) * w2 + w2 * 0.5
                hoc1, hoc2 = mid - w * 0.5, mid + w * 0.5
            # R's (1 + hoc1):hoc2, 1-based inclusive -> 0-based [hoc1, hoc2)
            slices.append((int(hoc1), min(int(hoc2), n), 1))
            flags.append((h - 1, h))
        else:
            first = h * w2 - w2 + 1
            last = min(first + w - 1, n)
            slices.append((first, last, math.ceil(fs / 5)))
            flags.append((h - 1, min(h - 1 + w // w2, nmin)))
    return nmin, slices, flags


def nonwear_ggir(samples: np.ndarray, fs_hz: float, *, approach: str = "2013",
                 ws2_s: float = 900.0, ws_s: float = 3600.0, sd_mg: float = 13.0,
                 range_mg: float = 50.0, wearthreshold: int = 2) -> GgirNonwear:
    """GGIR non-wear per ``ws2_s`` block of ``(n, 3)`` samples in g (NaN ignored).

    Defaults are GGIR's (``windowsizes = c(5, 900, 3600)``, ``sdcriter = 0.013``,
    ``racriter = 0.05``, ``wearthreshold = 2``).
    """
    x = np.asarray(samples, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != 3:
        raise ParameterError(f"samples must have shape (n, 3), got {x.shape}")
    if approach not in APPROACHES:
        raise ParameterError(f"approach must be one of {APPROACHES}, got {approach!r}")
    if not (fs_hz > 0 and 0 < ws2_s <= ws_s):
        raise ParameterError("need fs_hz > 0 and 0 < ws2_s <= ws_s")
    nmin, slices, flags = _windows(x.shape[0], fs_hz, ws2_s, ws_s, approach)
    nw = np.zeros((nmin, 3), dtype=bool)
    sd_g, range_g = sd_mg / 1000.0, range_mg / 1000.0
    for (lo, hi, step), (f0, f1) in zip(slices, flags, strict=True):
        seg = x[lo:hi:step]
        ok = ~np.isnan(seg)
        cnt = ok.sum(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            mx = np.where(ok, seg, -np.inf).max(axis=0, initial=-np.inf)
            mn = np.where(ok, seg, np.inf).min(axis=0, initial=np.inf)
            rng = np.abs(mx - mn)
            mean = np.where(ok, seg, 0.0).sum(axis=0) / cnt
            var = np.where(ok, (seg - mean) ** 2, 0.0).sum(axis=0) / (cnt - 1)
        unworn = (rng < range_g) & (cnt >= 2) & (np.sqrt(var) < sd_g)
        nw[f0:f1] |= unworn
    nwav = nw.sum(axis=1).astype(np.int8)
    fixed = nwav.copy()
    for i in np.flatnonzero(nwav == 1):
        if 0 < i < nmin - 1 and fixed[i - 1] > 1 and fixed[i + 1] > 1:
            fixed[i] = 2
    return GgirNonwear(fixed, (fixed >= wearthreshold).astype(np.int8), float(ws2_s),
                       approach)


def nonwear_ggir_epochs(result: GgirNonwear, t0_ns: int,
                        epoch_start_ns: np.ndarray) -> np.ndarray:
    """GGIR flags for epochs (int8; 1 non-wear, 0 wear, -1 outside the scored blocks).

    Each epoch takes the flag of the block holding its start; blocks start at ``t0_ns``
    (the recording's first sample).
    """
    starts = np.asarray(epoch_start_ns, dtype=np.int64)
    k = (starts - int(t0_ns)) // round(result.block_s * 1e9)
    inside = (k >= 0) & (k < result.nonwear.shape[0])
    out = np.full(starts.shape[0], -1, dtype=np.int8)
    out[inside] = result.nonwear[k[inside]]
    return out
