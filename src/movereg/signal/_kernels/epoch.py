"""Closing an epoch's sample-local part (stream A) and a hop's z-angle.

ENMO, MAD, z-angle, jerk mean and 95th percentile, non-wear, impacts, posture changes and
clipping go to the epoch's row; the helpers (selection, percentile, partial sums) are the
kernels' own, checked against numpy in the tests.
"""

from __future__ import annotations

import math

import numpy as np

from movereg.signal._jit import jit_fma, jit_fma_inline
from movereg.signal._kernels.layout import (
    F_HOPSUM,
    F_PREVANG,
    NW_MN,
    NW_MX,
    NW_N,
    NW_S,
    NW_SS,
    PF_NWRANGE,
    PF_NWSD,
    PF_POSTURE,
    PI_L,
    PI_NWAXES,
    PI_NWMIN,
    RF_COV,
    RF_ENMO,
    RF_JERK,
    RF_JP95,
    RF_MAD,
    RF_ZANG,
    RI_CLIP,
    RI_HARD,
    RI_IMP,
    RI_NW,
    RI_POST,
    S_ADONE,
    S_BASE,
    S_EPPOST,
    S_HOPN,
    S_NWFILL,
)
from movereg.signal._kernels.state import epoch_acc, set_epoch_acc

__all__ = ["end_epoch_a", "end_hop_posture"]


@jit_fma
def _nonwear_flag(nw: np.ndarray, pi: np.ndarray, pf: np.ndarray, si: np.ndarray) -> int:
    """GGIR-2013 criterion on the current block so far plus the filled previous blocks."""
    nrows = 1 + si[S_NWFILL]
    n = 0.0
    for r in range(nrows):
        n += nw[r, NW_N]
    if n < pi[PI_NWMIN] or n < 2.0:
        return 0
    axes = 0
    for a in range(3):
        s = 0.0
        ss = 0.0
        mn = np.inf
        mx = -np.inf
        for r in range(nrows):
            s += nw[r, NW_S + a]
            ss += nw[r, NW_SS + a]
            mn = min(mn, nw[r, NW_MN + a])
            mx = max(mx, nw[r, NW_MX + a])
        var = (ss - s * s / n) / (n - 1.0)
        sd = math.sqrt(var) if var > 0.0 else 0.0
        if sd < pf[PF_NWSD] and (mx - mn) < pf[PF_NWRANGE]:
            axes += 1
    return 1 if axes >= pi[PI_NWAXES] else 0


@jit_fma
def _select(a: np.ndarray, n: int, k: int) -> float:
    """k-th smallest (0-based) of ``a[:n]``, reordering ``a[:n]`` (quickselect, O(n)).

    Branch-free: each round counts the values below and up to a median-of-three pivot
    (vectorised), returns the pivot if ``k`` falls among its equals, else moves the side
    holding ``k`` to the front with a conditional-move partition. The comparisons are
    data-dependent coin flips, so branching on them (Wirth's scheme) paid a mispredicted
    branch for every other value. NaN pivots give NaN.
    """
    lo = 0
    hi = n
    while hi - lo > 1:
        m = hi - lo
        x0 = a[lo]
        x1 = a[lo + m // 2]
        x2 = a[hi - 1]
        p = max(min(x0, x1), min(max(x0, x1), x2))
        nlt = 0
        nle = 0
        for i in range(lo, hi):
            x = a[i]
            nlt += 1 if x < p else 0
            nle += 1 if x <= p else 0
        if nle == 0:                    # p is NaN
            return np.nan
        kk = k - lo
        if nlt <= kk < nle:
            return p
        # k among the values < p: move those to the front and keep a[lo:lo+nlt]; else
        # move the values <= p to the front and keep the values > p, a[lo+nle:hi]
        left = kk < nlt
        st = lo
        for i in range(lo, hi):
            x = a[i]
            y = a[st]
            c = x < p if left else x <= p
            a[i] = y if c else x
            a[st] = x if c else y
            st += 1 if c else 0
        if left:
            hi = lo + nlt
        else:
            lo = lo + nle
    return a[lo]


@jit_fma
def _percentile(v: np.ndarray, n: int, q: float, scratch: np.ndarray) -> float:
    """Linear-interpolated percentile ``q`` (0..100) of ``v[:n]`` (numpy's default).

    Needs the ``lo``-th and ``lo+1``-th smallest values (``lo = floor((n-1) q/100)``);
    a value is independent of how it is found, so the result is exact. Selection instead
    of a sort (a sort per epoch cost more than all other features together), and for
    long inputs on a short list only: a lower bound ``p1`` from a 1-in-8 sample, one
    branch-free pass copying the values >= ``p1`` into ``scratch`` (length >= n), then
    selection among those. Falls back to selection on all of ``v[:n]`` (reordering it)
    when the bound was too high. NaN if a value is NaN (as numpy).
    """
    if n == 0:
        return np.nan
    pos = (n - 1) * q / 100.0
    lo = int(pos)  # pos >= 0: truncation is floor
    w = v
    m = n
    k = lo
    if n >= 64:
        ns = (n + 7) // 8
        for u in range(ns):
            scratch[u] = v[8 * u]
        rs = int(ns * (q / 100.0 - 0.08))
        rs = min(max(rs, 0), ns - 1)
        p1 = _select(scratch, ns, rs)
        c = 0
        bad = 0
        for u in range(n):
            x = v[u]
            scratch[c] = x
            c += 1 if x >= p1 else 0
            bad += 1 if x != x else 0
        if bad > 0:
            return np.nan                # as numpy: a NaN value makes every percentile NaN
        below = n - c
        if lo >= below:
            w = scratch
            m = c
            k = lo - below
    else:
        for u in range(n):
            if v[u] != v[u]:
                return np.nan
    a = _select(w, m, k)
    if a != a:
        return np.nan
    # the next order statistic: a again if a repeats past rank k, else the least value > a
    b = a
    if k + 1 < m:
        nle = 0
        above = np.inf
        for u in range(m):
            x = w[u]
            nle += 1 if x <= a else 0
            above = x if a < x < above else above
        if nle <= k + 1:
            b = above
    frac = pos - lo
    diff = b - a
    if frac >= 0.5:
        return b - diff * (1.0 - frac)
    return a + diff * frac


@jit_fma
def _sum4(v: np.ndarray, n: int, c: float, dev: bool) -> float:
    """``sum(v[:n])``, or ``sum(|v[:n] - c|)`` with ``dev``, in four interleaved partial
    sums (four short dependency chains instead of one long one)."""
    s0 = 0.0
    s1 = 0.0
    s2 = 0.0
    s3 = 0.0
    n4 = n // 4 * 4
    for k in range(0, n4, 4):
        if dev:
            s0 += abs(v[k] - c)
            s1 += abs(v[k + 1] - c)
            s2 += abs(v[k + 2] - c)
            s3 += abs(v[k + 3] - c)
        else:
            s0 += v[k]
            s1 += v[k + 1]
            s2 += v[k + 2]
            s3 += v[k + 3]
    for k in range(n4, n):
        s0 += abs(v[k] - c) if dev else v[k]
    return (s0 + s1) + (s2 + s3)


@jit_fma
def end_epoch_a(e: int, pi: np.ndarray, pf: np.ndarray, si: np.ndarray, sf: np.ndarray,
                 ebuf: np.ndarray, nw: np.ndarray, rows_f: np.ndarray,
                 rows_i: np.ndarray) -> None:
    """Write the sample-local features of epoch ``e`` and reset the epoch accumulators."""
    row = e - si[S_BASE]
    n, nj, nimp, nhard, nclip, npost, enmo, jsum, ex, ey, ez = epoch_acc(si, sf)
    rows_f[row, RF_COV] = n / pi[PI_L]
    if n > 0:
        rows_f[row, RF_ENMO] = 1000.0 * enmo / n
        r = ebuf[0]
        mean_r = _sum4(r, n, 0.0, False) / n
        rows_f[row, RF_MAD] = 1000.0 * _sum4(r, n, mean_r, True) / n
        mx = ex / n
        my = ey / n
        mz = ez / n
        rows_f[row, RF_ZANG] = math.degrees(math.atan2(mz, math.sqrt(mx * mx + my * my)))
    else:
        rows_f[row, RF_ENMO] = np.nan
        rows_f[row, RF_MAD] = np.nan
        rows_f[row, RF_ZANG] = np.nan
    if nj > 0:
        rows_f[row, RF_JERK] = jsum / nj
        # ebuf[0] (the resultants) is free once MAD is done: scratch for the selection
        rows_f[row, RF_JP95] = _percentile(ebuf[1], nj, 95.0, ebuf[0])
    else:
        rows_f[row, RF_JERK] = np.nan
        rows_f[row, RF_JP95] = np.nan
    rows_i[row, RI_NW] = _nonwear_flag(nw, pi, pf, si)
    rows_i[row, RI_IMP] = nimp
    rows_i[row, RI_HARD] = nhard
    rows_i[row, RI_POST] = npost
    rows_i[row, RI_CLIP] = nclip
    si[S_ADONE] = e + 1
    set_epoch_acc(si, sf, 0, 0, 0, 0, 0, 0, 0.0, 0.0, 0.0, 0.0, 0.0)


@jit_fma_inline
def hop_angle(sx: float, sy: float, sz: float, n: int, prev: float,
              thr: float) -> tuple[float, int]:
    """A 1-s hop's z-angle (deg) from its vector sum over ``n`` samples, and 1 if it differs
    from the previous hop's ``prev`` (NaN: none) by more than ``thr`` deg (a posture change)."""
    mx = sx / n
    my = sy / n
    mz = sz / n
    ang = math.degrees(math.atan2(mz, math.sqrt(mx * mx + my * my)))
    if not math.isnan(prev) and abs(ang - prev) > thr:
        return ang, 1
    return ang, 0

@jit_fma
def end_hop_posture(pf: np.ndarray, si: np.ndarray, sf: np.ndarray) -> None:
    """Close a 1-s hop from the state arrays (the stream's last, partial hop)."""
    n = si[S_HOPN]
    if n > 0:
        ang, moved = hop_angle(sf[F_HOPSUM], sf[F_HOPSUM + 1], sf[F_HOPSUM + 2], n,
                               sf[F_PREVANG], pf[PF_POSTURE])
        si[S_EPPOST] += moved
        sf[F_PREVANG] = ang
    si[S_HOPN] = 0
    for a in range(3):
        sf[F_HOPSUM + a] = 0.0
