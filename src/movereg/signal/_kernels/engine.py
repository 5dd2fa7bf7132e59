"""The streaming feature kernel: one sequential pass over raw samples, all state explicit.

Everything the engine computes per epoch happens in :func:`process`, except ActiGraph
counts, which come from :mod:`movereg.signal._kernels.counts`;
:func:`movereg.signal._kernels.feed.feed` runs both and the emission in one call (the
streaming hot path). Samples are visited strictly in order and
every running quantity lives in the state arrays the caller owns, so any chunking of the
same recording performs the same floating-point operations in the same order: streaming ==
batch by construction (the tests check it too).

Three sub-streams finish an epoch at different times and are joined in the row store
(``rows_f`` float columns, ``rows_i`` int columns, row 0 = epoch ``si[S_BASE]``):

* A, sample-local features, finish at the epoch's last sample (:mod:`.epoch`);
* B, rhythm features, finish when the last 1-s hop window of the epoch and its lags are
  complete (about window/2 + max lag + MA/2 after the epoch end: ~6.5 s by default;
  :mod:`.rhythm`);
* C, counts, finish when the 10-Hz count values of the epoch have arrived.

Private module: no validation here, the wrapper in :mod:`movereg.signal.features` validates.
Indices into the stores are in :mod:`.layout`; the kernels run on borrowed views of them
(:mod:`.views`).
"""

from __future__ import annotations

import math

import numpy as np

from movereg.signal._jit import jit_fma, jit_fma_inline
from movereg.signal._kernels.epoch import end_epoch_a, end_hop_posture, hop_angle
from movereg.signal._kernels.layout import (
    F_BINSUM,
    F_EPENMO,
    F_EPJERK,
    F_EPSUM,
    F_HOPSUM,
    F_LAST,
    F_NWREF,
    F_PREVAF,
    F_PREVANG,
    LY_ABUF,
    LY_BACC,
    LY_BSTAT,
    LY_CA,
    LY_CD2,
    LY_DBUF,
    LY_EBUF,
    LY_FLAPW,
    LY_NB,
    LY_NW,
    LY_PF,
    LY_SCRATCH,
    LY_SF,
    LY_SOS,
    LY_ZI,
    LY_ZS,
    N_BSTAT,
    N_LY,
    N_NW,
    N_PF,
    N_PI,
    N_SF,
    N_SI,
    NW_MN,
    NW_MX,
    NW_N,
    NW_S,
    NW_SS,
    PF_CLIP,
    PF_FS,
    PF_HARD,
    PF_IMPACT,
    PF_POSTURE,
    PI_B,
    PI_H,
    PI_L,
    PI_LB,
    PI_M,
    PI_N10,
    PI_NBW,
    PI_NSOS,
    PI_NWBACK,
    PI_Q,
    PI_REFR,
    PI_TMAX,
    RI_CX,
    RI_CY,
    RI_CZ,
    S_ABOVE,
    S_ABOVEH,
    S_ADONE,
    S_BASE,
    S_BDONE,
    S_BINC,
    S_BINN,
    S_EPCLIP,
    S_EPHARD,
    S_EPIMP,
    S_EPN,
    S_EPNJ,
    S_EPPOST,
    S_FINIT,
    S_HOPN,
    S_IABS,
    S_LASTHARD,
    S_LASTIMP,
    S_N10,
    S_NBINS,
    S_NWFILL,
    S_NWPOS,
    S_NWREF,
    S_PREVVALID,
)
from movereg.signal._kernels.rhythm import end_bin, missing_bin, run_bins
from movereg.signal._kernels.views import borrow, borrow_view

__all__ = ["process"]


@jit_fma_inline
def _crossing(v: float, thr: float, above: int, i: int, last: int,
              refr: int) -> tuple[int, int, int]:
    """One step of an impact detector: an upward crossing of ``thr`` at sample ``i`` at
    least ``refr`` samples after the ``last`` one is an event.

    Returns ``(events 0 or 1, index of the last event, 1 if v >= thr else 0)``.
    """
    if v >= thr:
        if above == 0 and i - last >= refr:
            return 1, i, 1
        return 0, last, 1
    return 0, last, 0


@jit_fma
def process(x: np.ndarray, cvals: np.ndarray, final: bool, istore: np.ndarray,
            fstore: np.ndarray, rows_f: np.ndarray, rows_i: np.ndarray) -> int:
    """Entry point: :func:`_process` on the arrays packed in ``istore``/``fstore``.

    Seven arguments instead of twenty: each array argument costs about 50 ns of
    unboxing per call, which a 1-s streaming push pays every time. The kernels run on
    borrowed views of them (:mod:`.views`).

    Returns the number of rows at the front of the row store that are final (all
    three parts done; with ``final``, every epoch started).
    """
    pi = borrow_view(istore, 0, (N_PI,))
    si = borrow_view(istore, N_PI, (N_SI,))
    ly = borrow_view(istore, N_PI + N_SI, (N_LY,))
    nsos = pi[PI_NSOS]
    tm1 = pi[PI_TMAX] + 1
    L = pi[PI_L]
    nwr = 1 + pi[PI_NWBACK]
    ca = ly[LY_CA]
    cd2 = ly[LY_CD2]
    nb = ly[LY_NB]
    pf = borrow_view(fstore, ly[LY_PF], (N_PF,))
    sos = borrow_view(fstore, ly[LY_SOS], (nsos, 6))
    zi = borrow_view(fstore, ly[LY_ZI], (nsos, 2))
    flapw = borrow_view(fstore, ly[LY_FLAPW], (2, tm1))
    sf = borrow_view(fstore, ly[LY_SF], (N_SF,))
    zs = borrow_view(fstore, ly[LY_ZS], (nsos, 3, 2))
    ebuf = borrow_view(fstore, ly[LY_EBUF], (2, L))
    nw = borrow_view(fstore, ly[LY_NW], (nwr, N_NW))
    abuf = borrow_view(fstore, ly[LY_ABUF], (ca, 4))
    dbuf = borrow_view(fstore, ly[LY_DBUF], (3, cd2))
    bacc = borrow_view(fstore, ly[LY_BACC], (nb, tm1))
    bstat = borrow_view(fstore, ly[LY_BSTAT], (nb, N_BSTAT))
    scratch = borrow_view(fstore, ly[LY_SCRATCH], (3, tm1))
    _process(borrow(x), borrow(cvals), final, pi, pf, sos, zi, flapw, si, sf, zs, ebuf, nw,
             abuf, dbuf, bacc, bstat, scratch, borrow(rows_f), borrow(rows_i))
    if final:
        return si[S_ADONE] - si[S_BASE]
    return min(si[S_ADONE], si[S_BDONE], si[S_N10] // pi[PI_N10]) - si[S_BASE]


@jit_fma
def _process(x: np.ndarray, cvals: np.ndarray, final: bool, pi: np.ndarray, pf: np.ndarray,
             sos: np.ndarray, zi: np.ndarray, flapw: np.ndarray, si: np.ndarray,
             sf: np.ndarray, zs: np.ndarray, ebuf: np.ndarray, nw: np.ndarray,
             abuf: np.ndarray, dbuf: np.ndarray, bacc: np.ndarray, bstat: np.ndarray,
             scratch: np.ndarray, rows_f: np.ndarray, rows_i: np.ndarray) -> None:
    """Consume samples ``x`` (n, 3) g (NaN rows missing) and 10-Hz counts ``cvals`` (k, 3).

    With ``final`` the trailing partial epoch is closed and the rhythm windows are
    completed with missing data, so every epoch started is written to the row store.
    Stream C (counts), stream A (per sample, :func:`_stream_a`), the bins of stream B
    (:func:`_decimate`, then :func:`.rhythm.run_bins`) and, with ``final``, :func:`_close`:
    all inlined into this one kernel.
    """
    _add_counts(cvals, pi, si, rows_i)
    _stream_a(x, pi, pf, sos, zi, si, sf, zs, ebuf, nw, rows_f, rows_i)
    bins, nbins = _decimate(x, pi[PI_Q], si, sf)
    run_bins(bins, nbins, pi, pf, flapw, si, sf, abuf, dbuf, bacc, bstat, scratch, rows_f)
    if final:
        _close(pi, pf, flapw, si, sf, ebuf, nw, abuf, dbuf, bacc, bstat, scratch, rows_f,
               rows_i)


@jit_fma_inline
def _add_counts(cvals: np.ndarray, pi: np.ndarray, si: np.ndarray, rows_i: np.ndarray) -> None:
    """Stream C: add the 10-Hz count values ``cvals`` (k, 3) to their epochs' rows."""
    n10 = pi[PI_N10]
    v0 = si[S_N10]
    base = si[S_BASE]
    for u in range(cvals.shape[0]):
        row = (v0 + u) // n10 - base
        rows_i[row, RI_CX] += cvals[u, 0]
        rows_i[row, RI_CY] += cvals[u, 1]
        rows_i[row, RI_CZ] += cvals[u, 2]
    si[S_N10] = v0 + cvals.shape[0]


@jit_fma_inline
def _stream_a(x: np.ndarray, pi: np.ndarray, pf: np.ndarray, sos: np.ndarray,
              zi: np.ndarray, si: np.ndarray, sf: np.ndarray, zs: np.ndarray,
              ebuf: np.ndarray, nw: np.ndarray, rows_f: np.ndarray,
              rows_i: np.ndarray) -> None:
    """Stream A, per sample: epoch sums, low-pass, jerk, impacts, hop z-angle, non-wear
    blocks; closes hops, epochs (:func:`.epoch.end_epoch_a`) and non-wear steps.

    The per-sample accumulators live in local variables for the whole call, read from and
    written back to the state arrays around it and at epoch/step boundaries.
    """
    L = pi[PI_L]
    hs = L // pi[PI_H]
    lb = pi[PI_LB]
    fs = pf[PF_FS]
    clip = pf[PF_CLIP]
    refr = pi[PI_REFR]
    imp = pf[PF_IMPACT]
    hard = pf[PF_HARD]
    # |low-passed|^2 below this is below both impact thresholds whatever the rounding
    low = min(imp, hard)
    below2 = low * low * (1.0 - 1e-9) if low > 0.0 else -1.0
    b00 = sos[0, 0]
    b01 = sos[0, 1]
    b02 = sos[0, 2]
    a01 = sos[0, 4]
    a02 = sos[0, 5]
    b10 = sos[1, 0]
    b11 = sos[1, 1]
    b12 = sos[1, 2]
    a11 = sos[1, 4]
    a12 = sos[1, 5]
    # state -> locals
    i = si[S_IABS]
    pos = i % L
    hpos = pos % hs
    kpos = i % lb
    epn = si[S_EPN]
    epnj = si[S_EPNJ]
    finit = si[S_FINIT]
    prevvalid = si[S_PREVVALID]
    lastimp = si[S_LASTIMP]
    lasthard = si[S_LASTHARD]
    above = si[S_ABOVE]
    aboveh = si[S_ABOVEH]
    nimp = si[S_EPIMP]
    nhard = si[S_EPHARD]
    nclip = si[S_EPCLIP]
    hn = si[S_HOPN]
    npost = si[S_EPPOST]
    prevang = sf[F_PREVANG]
    pthr = pf[PF_POSTURE]
    lx = sf[F_LAST]
    ly = sf[F_LAST + 1]
    lz = sf[F_LAST + 2]
    px = sf[F_PREVAF]
    py = sf[F_PREVAF + 1]
    pz = sf[F_PREVAF + 2]
    enmo = sf[F_EPENMO]
    jsum = sf[F_EPJERK]
    ex = sf[F_EPSUM]
    ey = sf[F_EPSUM + 1]
    ez = sf[F_EPSUM + 2]
    hx = sf[F_HOPSUM]
    hy = sf[F_HOPSUM + 1]
    hz = sf[F_HOPSUM + 2]
    nwref = si[S_NWREF]
    rx = sf[F_NWREF]
    ry = sf[F_NWREF + 1]
    rz = sf[F_NWREF + 2]
    x00 = zs[0, 0, 0]
    x01 = zs[0, 0, 1]
    x10 = zs[1, 0, 0]
    x11 = zs[1, 0, 1]
    y00 = zs[0, 1, 0]
    y01 = zs[0, 1, 1]
    y10 = zs[1, 1, 0]
    y11 = zs[1, 1, 1]
    z00 = zs[0, 2, 0]
    z01 = zs[0, 2, 1]
    z10 = zs[1, 2, 0]
    z11 = zs[1, 2, 1]
    nwn = nw[0, NW_N]
    s0 = nw[0, NW_S]
    s1 = nw[0, NW_S + 1]
    s2 = nw[0, NW_S + 2]
    q0 = nw[0, NW_SS]
    q1 = nw[0, NW_SS + 1]
    q2 = nw[0, NW_SS + 2]
    mn0 = nw[0, NW_MN]
    mn1 = nw[0, NW_MN + 1]
    mn2 = nw[0, NW_MN + 2]
    mx0 = nw[0, NW_MX]
    mx1 = nw[0, NW_MX + 1]
    mx2 = nw[0, NW_MX + 2]
    for t in range(x.shape[0]):
        xv = x[t, 0]
        yv = x[t, 1]
        zv = x[t, 2]
        valid = math.isfinite(xv) and math.isfinite(yv) and math.isfinite(zv)
        if valid:
            r = math.sqrt(xv * xv + yv * yv + zv * zv)
            ebuf[0, epn] = r
            epn += 1
            if r > 1.0:
                enmo += r - 1.0
            ex += xv
            ey += yv
            ez += zv
            hx += xv
            hy += yv
            hz += zv
            hn += 1
            if abs(xv) >= clip or abs(yv) >= clip or abs(zv) >= clip:
                nclip += 1
            if nwref == 0:
                rx = xv
                ry = yv
                rz = zv
                nwref = 1
            nwn += 1.0
            d0 = xv - rx
            d1 = yv - ry
            d2 = zv - rz
            s0 += d0
            s1 += d1
            s2 += d2
            q0 += d0 * d0
            q1 += d1 * d1
            q2 += d2 * d2
            mn0 = min(mn0, xv)
            mn1 = min(mn1, yv)
            mn2 = min(mn2, zv)
            mx0 = max(mx0, xv)
            mx1 = max(mx1, yv)
            mx2 = max(mx2, zv)
            lx = xv
            ly = yv
            lz = zv
        # band-limited signal: Butterworth low-pass (causal), NaN input held at last valid
        if valid or finit == 1:
            if finit == 0:
                x00 = zi[0, 0] * lx
                x01 = zi[0, 1] * lx
                x10 = zi[1, 0] * lx
                x11 = zi[1, 1] * lx
                y00 = zi[0, 0] * ly
                y01 = zi[0, 1] * ly
                y10 = zi[1, 0] * ly
                y11 = zi[1, 1] * ly
                z00 = zi[0, 0] * lz
                z01 = zi[0, 1] * lz
                z10 = zi[1, 0] * lz
                z11 = zi[1, 1] * lz
                finit = 1
            # section 0 then 1, transposed direct form II (as scipy.signal.sosfilt)
            u = b00 * lx + x00
            x00 = b01 * lx - a01 * u + x01
            x01 = b02 * lx - a02 * u
            fx = b10 * u + x10
            x10 = b11 * u - a11 * fx + x11
            x11 = b12 * u - a12 * fx
            u = b00 * ly + y00
            y00 = b01 * ly - a01 * u + y01
            y01 = b02 * ly - a02 * u
            fy = b10 * u + y10
            y10 = b11 * u - a11 * fy + y11
            y11 = b12 * u - a12 * fy
            u = b00 * lz + z00
            z00 = b01 * lz - a01 * u + z01
            z01 = b02 * lz - a02 * u
            fz = b10 * u + z10
            z10 = b11 * u - a11 * fz + z11
            z11 = b12 * u - a12 * fz
            if valid:
                if prevvalid == 1:
                    jx = fx - px
                    jy = fy - py
                    jz = fz - pz
                    jerk = fs * math.sqrt(jx * jx + jy * jy + jz * jz)
                    ebuf[1, epnj] = jerk
                    epnj += 1
                    jsum += jerk
                rf2 = fx * fx + fy * fy + fz * fz
                if rf2 < below2:
                    # clearly below both thresholds (no square root needed)
                    above = 0
                    aboveh = 0
                else:
                    rf = math.sqrt(rf2)
                    c, lastimp, above = _crossing(rf, imp, above, i, lastimp, refr)
                    nimp += c
                    c, lasthard, aboveh = _crossing(rf, hard, aboveh, i, lasthard, refr)
                    nhard += c
            px = fx
            py = fy
            pz = fz
        prevvalid = 1 if valid else 0
        i += 1
        pos += 1
        hpos += 1
        kpos += 1
        if hpos == hs:
            # close a 1-s hop: its z-angle; a posture change if it moved > threshold
            if hn > 0:
                prevang, moved = hop_angle(hx, hy, hz, hn, prevang, pthr)
                npost += moved
            hn = 0
            hx = 0.0
            hy = 0.0
            hz = 0.0
            hpos = 0
        if pos == L or kpos == lb:
            nw[0, NW_N] = nwn
            nw[0, NW_S] = s0
            nw[0, NW_S + 1] = s1
            nw[0, NW_S + 2] = s2
            nw[0, NW_SS] = q0
            nw[0, NW_SS + 1] = q1
            nw[0, NW_SS + 2] = q2
            nw[0, NW_MN] = mn0
            nw[0, NW_MN + 1] = mn1
            nw[0, NW_MN + 2] = mn2
            nw[0, NW_MX] = mx0
            nw[0, NW_MX + 1] = mx1
            nw[0, NW_MX + 2] = mx2
            if pos == L:
                si[S_EPN] = epn
                si[S_EPNJ] = epnj
                si[S_EPIMP] = nimp
                si[S_EPHARD] = nhard
                si[S_EPCLIP] = nclip
                si[S_EPPOST] = npost
                sf[F_EPENMO] = enmo
                sf[F_EPJERK] = jsum
                sf[F_EPSUM] = ex
                sf[F_EPSUM + 1] = ey
                sf[F_EPSUM + 2] = ez
                end_epoch_a((i - 1) // L, pi, pf, si, sf, ebuf, nw, rows_f, rows_i)
                epn = 0
                epnj = 0
                nimp = 0
                nhard = 0
                nclip = 0
                npost = 0
                enmo = 0.0
                jsum = 0.0
                ex = 0.0
                ey = 0.0
                ez = 0.0
                pos = 0
            if kpos == lb:
                back = pi[PI_NWBACK]
                if back > 0:
                    dst = 1 + si[S_NWPOS]
                    for c in range(N_NW):
                        nw[dst, c] = nw[0, c]
                    si[S_NWPOS] = (si[S_NWPOS] + 1) % back
                    if si[S_NWFILL] < back:
                        si[S_NWFILL] += 1
                nwn = 0.0
                s0 = 0.0
                s1 = 0.0
                s2 = 0.0
                q0 = 0.0
                q1 = 0.0
                q2 = 0.0
                mn0 = np.inf
                mn1 = np.inf
                mn2 = np.inf
                mx0 = -np.inf
                mx1 = -np.inf
                mx2 = -np.inf
                kpos = 0
    # locals -> state
    si[S_IABS] = i
    si[S_EPN] = epn
    si[S_EPNJ] = epnj
    si[S_FINIT] = finit
    si[S_PREVVALID] = prevvalid
    si[S_LASTIMP] = lastimp
    si[S_LASTHARD] = lasthard
    si[S_ABOVE] = above
    si[S_ABOVEH] = aboveh
    si[S_EPIMP] = nimp
    si[S_EPHARD] = nhard
    si[S_EPCLIP] = nclip
    si[S_EPPOST] = npost
    sf[F_PREVANG] = prevang
    si[S_HOPN] = hn
    si[S_NWREF] = nwref
    sf[F_LAST] = lx
    sf[F_LAST + 1] = ly
    sf[F_LAST + 2] = lz
    sf[F_PREVAF] = px
    sf[F_PREVAF + 1] = py
    sf[F_PREVAF + 2] = pz
    sf[F_EPENMO] = enmo
    sf[F_EPJERK] = jsum
    sf[F_EPSUM] = ex
    sf[F_EPSUM + 1] = ey
    sf[F_EPSUM + 2] = ez
    sf[F_HOPSUM] = hx
    sf[F_HOPSUM + 1] = hy
    sf[F_HOPSUM + 2] = hz
    sf[F_NWREF] = rx
    sf[F_NWREF + 1] = ry
    sf[F_NWREF + 2] = rz
    zs[0, 0, 0] = x00
    zs[0, 0, 1] = x01
    zs[1, 0, 0] = x10
    zs[1, 0, 1] = x11
    zs[0, 1, 0] = y00
    zs[0, 1, 1] = y01
    zs[1, 1, 0] = y10
    zs[1, 1, 1] = y11
    zs[0, 2, 0] = z00
    zs[0, 2, 1] = z01
    zs[1, 2, 0] = z10
    zs[1, 2, 1] = z11
    nw[0, NW_N] = nwn
    nw[0, NW_S] = s0
    nw[0, NW_S + 1] = s1
    nw[0, NW_S + 2] = s2
    nw[0, NW_SS] = q0
    nw[0, NW_SS + 1] = q1
    nw[0, NW_SS + 2] = q2
    nw[0, NW_MN] = mn0
    nw[0, NW_MN + 1] = mn1
    nw[0, NW_MN + 2] = mn2
    nw[0, NW_MX] = mx0
    nw[0, NW_MX + 1] = mx1
    nw[0, NW_MX + 2] = mx2



@jit_fma_inline
def _decimate(x: np.ndarray, q: int, si: np.ndarray,
              sf: np.ndarray) -> tuple[np.ndarray, int]:
    """Stream B's input: bins of ``q`` samples (valid-sample mean; column 3: 1.0 valid,
    0.0 none), in a loop of its own (a separate loop keeps both loops' registers free)."""
    bc = si[S_BINC]
    bn = si[S_BINN]
    bx = sf[F_BINSUM]
    by = sf[F_BINSUM + 1]
    bz = sf[F_BINSUM + 2]
    bins = np.empty((x.shape[0] // q + 1, 4))
    nbins = 0
    for t in range(x.shape[0]):
        xv = x[t, 0]
        yv = x[t, 1]
        zv = x[t, 2]
        if math.isfinite(xv) and math.isfinite(yv) and math.isfinite(zv):
            bx += xv
            by += yv
            bz += zv
            bn += 1
        bc += 1
        if bc == q:
            if bn > 0:
                bins[nbins, 0] = bx / bn
                bins[nbins, 1] = by / bn
                bins[nbins, 2] = bz / bn
                bins[nbins, 3] = 1.0
            else:
                bins[nbins, 0] = np.nan
                bins[nbins, 1] = np.nan
                bins[nbins, 2] = np.nan
                bins[nbins, 3] = 0.0
            nbins += 1
            bn = 0
            bc = 0
            bx = 0.0
            by = 0.0
            bz = 0.0
    si[S_BINN] = bn
    si[S_BINC] = bc
    sf[F_BINSUM] = bx
    sf[F_BINSUM + 1] = by
    sf[F_BINSUM + 2] = bz
    return bins, nbins


@jit_fma_inline
def _close(pi: np.ndarray, pf: np.ndarray, flapw: np.ndarray, si: np.ndarray,
           sf: np.ndarray, ebuf: np.ndarray, nw: np.ndarray, abuf: np.ndarray,
           dbuf: np.ndarray, bacc: np.ndarray, bstat: np.ndarray, scratch: np.ndarray,
           rows_f: np.ndarray, rows_i: np.ndarray) -> None:
    """End of stream: close the partial epoch and bin, then pad with missing bins until
    every hop of every started epoch is evaluated."""
    L = pi[PI_L]
    H = pi[PI_H]
    i = si[S_IABS]
    if i % L != 0:
        if si[S_HOPN] > 0:
            end_hop_posture(pf, si, sf)
        end_epoch_a(i // L, pi, pf, si, sf, ebuf, nw, rows_f, rows_i)
    if si[S_BINC] > 0:
        end_bin(pi, pf, flapw, si, sf, abuf, dbuf, bacc, bstat, scratch, rows_f)
    # pad with missing bins until every hop of every started epoch is evaluated
    last_hop = si[S_ADONE] * H - 1
    nbw = pi[PI_NBW]
    need = (last_hop + nbw - nbw // 2) * pi[PI_B] + pi[PI_TMAX] + pi[PI_M]
    while si[S_BDONE] < si[S_ADONE] and si[S_NBINS] < need + 1:
        missing_bin(pi, pf, flapw, si, sf, abuf, dbuf, bacc, bstat, scratch, rows_f)
