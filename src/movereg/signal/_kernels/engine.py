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

Module map::

    process            unpack istore/fstore into borrowed views, return the final rows
      _process         one push, in this order:
        _add_counts    stream C: 10-Hz count values into their epochs' rows
        _stream_a      stream A per sample; hops (epoch.hop_angle), epochs
                       (epoch.end_epoch_a), non-wear steps; state via .state accessors
        _decimate      stream B's bins (q samples each)
        run_bins       stream B (.rhythm): hop blocks, hops, an epoch's rhythm columns
        _close         end of stream: partial epoch and bin, padding to the last hop

Private module: no validation here, the wrapper in :mod:`movereg.signal.features` validates.
Indices into the stores are in :mod:`.layout`, named accessors of stream A's state in
:mod:`.state`; the kernels run on borrowed views of the stores (:mod:`.views`).
"""

from __future__ import annotations

import math

import numpy as np

from movereg.signal._jit import jit_fma, jit_fma_inline
from movereg.signal._kernels.epoch import end_epoch_a, end_hop_posture, hop_angle
from movereg.signal._kernels.layout import (
    F_BINSUM,
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
    S_ADONE,
    S_BASE,
    S_BDONE,
    S_BINC,
    S_BINN,
    S_HOPN,
    S_IABS,
    S_N10,
    S_NBINS,
    S_NWREF,
)
from movereg.signal._kernels.rhythm import end_bin, missing_bin, run_bins
from movereg.signal._kernels.state import (
    detector,
    epoch_acc,
    lowpass,
    lowpass_coefs,
    lowpass_start,
    lowpass_state,
    nw_acc,
    nw_add,
    nw_empty,
    nw_push_step,
    set_detector,
    set_epoch_acc,
    set_lowpass_state,
    set_nw_acc,
    set_vec3,
    vec3,
)
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


@jit_fma_inline
def _impacts(rf2: float, below2: float, imp: float, hard: float, i: int, refr: int,
             above: int, aboveh: int, lastimp: int,
             lasthard: int) -> tuple[int, int, int, int, int, int]:
    """Both impact detectors (:func:`_crossing`, thresholds ``imp`` and ``hard`` g) on
    sample ``i`` of the low-passed signal, whose squared magnitude is ``rf2`` (g²);
    below ``below2`` (g²) it is clearly below both thresholds (no square root needed).

    Returns ``(impact 0 or 1, hard impact 0 or 1, above, aboveh, lastimp, lasthard)``.
    """
    if rf2 < below2:
        return 0, 0, 0, 0, lastimp, lasthard
    rf = math.sqrt(rf2)
    c, lastimp, above = _crossing(rf, imp, above, i, lastimp, refr)
    ch, lasthard, aboveh = _crossing(rf, hard, aboveh, i, lasthard, refr)
    return c, ch, above, aboveh, lastimp, lasthard


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
    written back to the state arrays (:mod:`.state`) around it and at epoch/step
    boundaries.
    """
    L = pi[PI_L]
    hs = L // pi[PI_H]
    lb = pi[PI_LB]
    fs = pf[PF_FS]
    clip = pf[PF_CLIP]
    refr = pi[PI_REFR]
    imp = pf[PF_IMPACT]
    hard = pf[PF_HARD]
    pthr = pf[PF_POSTURE]
    # |low-passed|^2 below this is below both impact thresholds whatever the rounding
    low = min(imp, hard)
    below2 = low * low * (1.0 - 1e-9) if low > 0.0 else -1.0
    co = lowpass_coefs(sos)
    # state -> locals
    i = si[S_IABS]
    pos = i % L
    hpos = pos % hs
    kpos = i % lb
    epn, epnj, nimp, nhard, nclip, npost, enmo, jsum, ex, ey, ez = epoch_acc(si, sf)
    finit, prevvalid, lastimp, lasthard, above, aboveh = detector(si)
    hn = si[S_HOPN]
    nwref = si[S_NWREF]
    prevang = sf[F_PREVANG]
    lx, ly, lz = vec3(sf, F_LAST)
    px, py, pz = vec3(sf, F_PREVAF)
    hx, hy, hz = vec3(sf, F_HOPSUM)
    rx, ry, rz = vec3(sf, F_NWREF)
    zx = lowpass_state(zs, 0)
    zy = lowpass_state(zs, 1)
    zz = lowpass_state(zs, 2)
    nwa = nw_acc(nw)
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
                rx, ry, rz, nwref = xv, yv, zv, 1
            nwa = nw_add(nwa, xv, yv, zv, rx, ry, rz)
            lx, ly, lz = xv, yv, zv
        # band-limited signal: Butterworth low-pass (causal), NaN input held at last valid
        if valid or finit == 1:
            if finit == 0:
                zx = lowpass_start(zi, lx)
                zy = lowpass_start(zi, ly)
                zz = lowpass_start(zi, lz)
                finit = 1
            fx, zx = lowpass(lx, zx, co)
            fy, zy = lowpass(ly, zy, co)
            fz, zz = lowpass(lz, zz, co)
            if valid:
                if prevvalid == 1:
                    jx = fx - px
                    jy = fy - py
                    jz = fz - pz
                    jerk = fs * math.sqrt(jx * jx + jy * jy + jz * jz)
                    ebuf[1, epnj] = jerk
                    epnj += 1
                    jsum += jerk
                c, ch, above, aboveh, lastimp, lasthard = _impacts(
                    fx * fx + fy * fy + fz * fz, below2, imp, hard, i, refr, above, aboveh,
                    lastimp, lasthard)
                nimp += c
                nhard += ch
            px, py, pz = fx, fy, fz
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
            hn, hx, hy, hz, hpos = 0, 0.0, 0.0, 0.0, 0
        if pos == L or kpos == lb:
            set_nw_acc(nw, nwa)
            if pos == L:
                set_epoch_acc(si, sf, epn, epnj, nimp, nhard, nclip, npost, enmo, jsum,
                              ex, ey, ez)
                end_epoch_a((i - 1) // L, pi, pf, si, sf, ebuf, nw, rows_f, rows_i)
                epn, epnj, nimp, nhard, nclip, npost = 0, 0, 0, 0, 0, 0
                enmo, jsum, ex, ey, ez = 0.0, 0.0, 0.0, 0.0, 0.0
                pos = 0
            if kpos == lb:
                nw_push_step(nw, si, pi[PI_NWBACK])
                nwa = nw_empty()
                kpos = 0
    # locals -> state
    si[S_IABS] = i
    si[S_HOPN] = hn
    si[S_NWREF] = nwref
    sf[F_PREVANG] = prevang
    set_epoch_acc(si, sf, epn, epnj, nimp, nhard, nclip, npost, enmo, jsum, ex, ey, ez)
    set_detector(si, finit, prevvalid, lastimp, lasthard, above, aboveh)
    set_vec3(sf, F_LAST, lx, ly, lz)
    set_vec3(sf, F_PREVAF, px, py, pz)
    set_vec3(sf, F_HOPSUM, hx, hy, hz)
    set_vec3(sf, F_NWREF, rx, ry, rz)
    set_lowpass_state(zs, 0, zx)
    set_lowpass_state(zs, 1, zy)
    set_lowpass_state(zs, 2, zz)
    set_nw_acc(nw, nwa)


@jit_fma_inline
def _decimate(x: np.ndarray, q: int, si: np.ndarray,
              sf: np.ndarray) -> tuple[np.ndarray, int]:
    """Stream B's input: bins of ``q`` samples (valid-sample mean; column 3: 1.0 valid,
    0.0 none), in a loop of its own (a separate loop keeps both loops' registers free)."""
    bc = si[S_BINC]
    bn = si[S_BINN]
    bx, by, bz = vec3(sf, F_BINSUM)
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
    set_vec3(sf, F_BINSUM, bx, by, bz)
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
