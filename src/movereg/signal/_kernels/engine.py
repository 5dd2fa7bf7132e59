"""The streaming feature kernel: one sequential pass over raw samples, all state explicit.

Everything the engine computes per epoch happens in :func:`process`, except ActiGraph
counts, which come from :mod:`movereg.signal._kernels.counts`; :func:`feed` runs both in one
call (the streaming hot path).
Samples are visited strictly in order and every running quantity lives in the state arrays
the caller owns, so any chunking of the same recording performs the same floating-point
operations in the same order: streaming == batch by construction (the tests check it too).

Three sub-streams finish an epoch at different times and are joined in the row store
(``rows_f`` float columns, ``rows_i`` int columns, row 0 = epoch ``si[S_BASE]``):

* A, sample-local features, finish at the epoch's last sample;
* B, rhythm features, finish when the last 1-s hop window of the epoch and its lags are
  complete (about window/2 + max lag + MA/2 after the epoch end: ~6.5 s by default);
* C, counts, finish when the 10-Hz count values of the epoch have arrived.

Private module: no validation here, the wrapper in :mod:`movereg.signal.features` validates.
Helpers of the kernel live in this file (Numba's cache does not see cross-file edits); the
one cross-file caller, :func:`feed` (-> the counts and emission kernels), carries those
sources' digest in its cache key (:func:`movereg.signal._jit.source_stamp`).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numba.core import cgutils, types
from numba.core import config as numba_config
from numba.extending import intrinsic
from numba.np.arrayobj import make_array, populate_array

from movereg.signal._jit import jit_fma, jit_fma_inline, source_stamp
from movereg.signal._kernels import counts as _c
from movereg.signal._kernels import emit as _e

# --- integer parameters (pi) --------------------------------------------------------------
PI_L = 0            # samples per epoch
PI_H = 1            # hops per epoch
PI_Q = 2            # raw samples per decimated bin
PI_B = 3            # bins per hop block
PI_NBW = 4          # hop blocks per rhythm window
PI_M = 5            # half-width of the centred moving average, bins
PI_TMIN = 6         # minimum lag, bins
PI_TMAX = 7         # maximum lag, bins
PI_REFR = 8         # impact refractory period, samples
PI_LB = 9           # non-wear step (block) length, samples
PI_NWBACK = 10      # previous non-wear blocks in the window
PI_NWMIN = 11       # minimum valid samples in the non-wear window
PI_N10 = 12         # 10-Hz count values per epoch
PI_NWAXES = 13      # axes that must meet the non-wear criterion
PI_GATE = 14        # rhythm gate kind: 0 vector RMS of high-passed signal, 1 SD of |a|
PI_NSOS = 15        # low-pass second-order sections
N_PI = 16

# --- float parameters (pf) ----------------------------------------------------------------
PF_FS = 0
PF_CLIP = 1
PF_IMPACT = 2
PF_HARD = 3
PF_POSTURE = 4
PF_GATE = 5         # rhythm gate, g
PF_RTHR = 6         # rhythmic hop threshold on strength
PF_MINVALID = 7     # minimum valid share of a rhythm window
PF_NWSD = 8         # non-wear SD criterion, g
PF_NWRANGE = 9      # non-wear range criterion, g
PF_RD = 10          # decimated rate, Hz
PF_EPOCH_NS = 11    # epoch length, ns (emission: epoch starts)
PF_EPOCH_S = 12     # epoch length, s
PF_CUTS = 13        # 13..15 intensity-zone cut-points, mg
N_PF = 16

# --- integer state (si) -------------------------------------------------------------------
S_IABS = 0          # raw samples processed
S_NBINS = 1         # decimated bins appended (incl. flush padding)
S_ADONE = 2         # epochs whose sample-local part is final
S_BDONE = 3         # epochs whose rhythm part is final
S_BASE = 4          # epoch index of row 0 of the row store
S_LASTIMP = 5
S_LASTHARD = 6
S_FINIT = 7         # low-pass initialised
S_PREVVALID = 8
S_EPN = 9           # valid samples in the current epoch
S_EPCLIP = 10
S_EPIMP = 11
S_EPHARD = 12
S_EPPOST = 13
S_EPNJ = 14         # jerk values in the current epoch
S_HOPN = 15         # valid samples in the current hop (posture)
S_BINN = 16         # valid samples in the current bin
S_BINC = 17         # samples in the current bin
S_NWREF = 18        # non-wear reference set
S_N10 = 19          # 10-Hz count values received
S_HEVAL = 20        # evaluated hops in the current rhythm epoch
S_HRHY = 21         # rhythmic hops in it
S_HFLAP = 22        # hops with a flap share in it
S_NWFILL = 23       # previous non-wear blocks filled
S_NWPOS = 24        # ring position of the next previous block
S_MAC = 25          # valid bins in the moving-average window
S_ABOVE = 26        # previous valid sample was >= the impact threshold
S_ABOVEH = 27       # ... >= the hard-impact threshold
S_PK = 28           # ring positions and block counters of the decimated stream
S_PD = 29
S_KB = 30
S_KR = 31
S_TB = 32
S_TR = 33
S_BT = 34
S_T0 = 35           # UTC ns of the stream's first sample (emission: epoch starts)
N_SI = 36

# --- float state (sf) ---------------------------------------------------------------------
F_LAST = 0          # 0..2 last valid raw sample
F_PREVAF = 3        # 3..5 previous low-passed sample
F_EPENMO = 6
F_EPSUM = 7         # 7..9 epoch vector sum
F_HOPSUM = 10       # 10..12 hop vector sum
F_PREVANG = 13      # previous hop z-angle, deg (NaN none)
F_BINSUM = 14       # 14..16
F_NWREF = 17        # 17..19
F_EPJERK = 20
F_HSTR = 21         # sum of hop strengths
F_HBEST = 22
F_HBESTHZ = 23
F_HFLAP = 24
F_MASUM = 25        # 25..27 moving-average running sum
N_SF = 28

# --- row store columns ---------------------------------------------------------------------
RF_COV = 0
RF_ENMO = 1
RF_MAD = 2
RF_ZANG = 3
RF_JERK = 4
RF_JP95 = 5
RF_RSTR = 6
RF_RHZ = 7
RF_RFRAC = 8
RF_FLAP = 9
N_RF = 10
RI_CX = 0
RI_CY = 1
RI_CZ = 2
RI_NW = 3
RI_IMP = 4
RI_HARD = 5
RI_POST = 6
RI_CLIP = 7
N_RI = 8

# --- packed-store layout (after pi and si in istore): fstore offsets, then 3 sizes ------
LY_PF = 0
LY_SOS = 1
LY_ZI = 2
LY_FLAPW = 3
LY_SF = 4
LY_ZS = 5
LY_EBUF = 6
LY_NW = 7
LY_ABUF = 8
LY_DBUF = 9
LY_BACC = 10
LY_BSTAT = 11
LY_SCRATCH = 12
LY_CFPAR = 13       # the counts stream's float parameters, coefficients and state
LY_CCOEF = 14
LY_CFSTATE = 15
LY_CA = 16          # rows of abuf
LY_CD2 = 17         # columns of dbuf (each value stored twice: 2 * cd)
LY_NB = 18          # rows of bacc and bstat
N_LY = 19
# istore after pi, si and ly: the counts stream's integer parameters and state
CI_IPAR = N_PI + N_SI + N_LY
CI_ISTATE = CI_IPAR + _c.N_IPAR
N_ISTORE = CI_ISTATE + 3 * _c.N_ISTATE

# per-block statistics of the rhythm stream (bstat columns): valid bins, sum and sum of
# squares of their resultant (g), sum of |high-passed|^2 (g^2, the window energy E2(0))
N_BSTAT = 4

# non-wear aggregate layout (one row per 15-min block): n, sum(3), sumsq(3), min(3), max(3)
NW_N = 0
NW_S = 1
NW_SS = 4
NW_MN = 7
NW_MX = 10
N_NW = 13


# --- borrowed arrays -----------------------------------------------------------------------
# Numba reference-counts arrays: every view, and every array argument of a call that is not
# inlined, costs an increment and a decrement (out-of-line calls, atomic when the array owns
# a meminfo). Per hop and per push that was as much as the work itself. The kernels below
# therefore run on *borrowed* arrays: the same data, shape and strides with no meminfo, so
# those updates do nothing. A borrowed array is valid only while the array it was taken
# from is alive. Only an entry point's own arguments are borrowed (the caller holds them
# for the whole call), never a local allocation: Numba frees a local array after the last
# use of its variable, which would be the borrowing itself. Nothing borrowed is returned
# or stored.


@intrinsic
def _jit_borrow(typingctx: Any, a: Any) -> Any:
    """``a`` without reference counting (valid while ``a`` itself is alive)."""
    if not isinstance(a, types.Array):
        return None
    sig = a(a)

    def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
        ary = make_array(sig.args[0])(context, builder, args[0])
        out = make_array(sig.return_type)(context, builder)
        populate_array(out, data=ary.data, shape=ary.shape, strides=ary.strides,
                       itemsize=ary.itemsize, meminfo=None)
        return out._getvalue()

    return sig, codegen


@intrinsic
def _jit_view(typingctx: Any, a: Any, offset: Any, shape: Any) -> Any:
    """``a[offset:offset + prod(shape)].reshape(shape)`` for a 1-D C-contiguous ``a``,
    borrowed (no reference counting) and unchecked: the layout in ``istore``/``fstore``
    guarantees the bounds (:func:`store_shapes`)."""
    if not (isinstance(a, types.Array) and a.ndim == 1 and a.layout == "C"
            and isinstance(offset, types.Integer)
            and isinstance(shape, (types.Tuple, types.UniTuple))
            and all(isinstance(d, types.Integer) for d in shape.types)):
        return None
    retty = a.copy(ndim=len(shape), layout="C")
    sig = retty(a, offset, shape)

    def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
        ary = make_array(sig.args[0])(context, builder, args[0])
        out = make_array(retty)(context, builder)
        off = context.cast(builder, args[1], sig.args[1], types.intp)
        dims = [context.cast(builder, d, t, types.intp)
                for d, t in zip(cgutils.unpack_tuple(builder, args[2]), sig.args[2].types,
                                strict=True)]
        strides = [ary.itemsize]
        for d in reversed(dims[1:]):
            strides.insert(0, builder.mul(strides[0], d))
        populate_array(out, data=builder.gep(ary.data, [off]), shape=dims, strides=strides,
                       itemsize=ary.itemsize, meminfo=None)
        return out._getvalue()

    return sig, codegen


def _py_borrow(a: np.ndarray) -> np.ndarray:
    """:func:`_jit_borrow` as plain Python (``NUMBA_DISABLE_JIT=1``, the coverage run)."""
    return a


def _py_view(a: np.ndarray, offset: int, shape: tuple[int, ...]) -> np.ndarray:
    """:func:`_jit_view` as plain Python (``NUMBA_DISABLE_JIT=1``, the coverage run)."""
    return a[offset:offset + math.prod(shape)].reshape(shape)


_NO_JIT = bool(getattr(numba_config, "DISABLE_JIT", 0))
_borrow: Any = _py_borrow if _NO_JIT else _jit_borrow
_view: Any = _py_view if _NO_JIT else _jit_view


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
def _nw_reset(nw: np.ndarray, row: int) -> None:
    nw[row, NW_N] = 0.0
    for a in range(3):
        nw[row, NW_S + a] = 0.0
        nw[row, NW_SS + a] = 0.0
        nw[row, NW_MN + a] = np.inf
        nw[row, NW_MX + a] = -np.inf


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
def _end_epoch_a(e: int, pi: np.ndarray, pf: np.ndarray, si: np.ndarray, sf: np.ndarray,
                 ebuf: np.ndarray, nw: np.ndarray, rows_f: np.ndarray,
                 rows_i: np.ndarray) -> None:
    """Write the sample-local features of epoch ``e`` and reset the epoch accumulators."""
    row = e - si[S_BASE]
    n = si[S_EPN]
    rows_f[row, RF_COV] = n / pi[PI_L]
    if n > 0:
        rows_f[row, RF_ENMO] = 1000.0 * sf[F_EPENMO] / n
        r = ebuf[0]
        mean_r = _sum4(r, n, 0.0, False) / n
        rows_f[row, RF_MAD] = 1000.0 * _sum4(r, n, mean_r, True) / n
        mx = sf[F_EPSUM] / n
        my = sf[F_EPSUM + 1] / n
        mz = sf[F_EPSUM + 2] / n
        rows_f[row, RF_ZANG] = math.degrees(math.atan2(mz, math.sqrt(mx * mx + my * my)))
    else:
        rows_f[row, RF_ENMO] = np.nan
        rows_f[row, RF_MAD] = np.nan
        rows_f[row, RF_ZANG] = np.nan
    nj = si[S_EPNJ]
    if nj > 0:
        rows_f[row, RF_JERK] = sf[F_EPJERK] / nj
        # ebuf[0] (the resultants) is free once MAD is done: scratch for the selection
        rows_f[row, RF_JP95] = _percentile(ebuf[1], nj, 95.0, ebuf[0])
    else:
        rows_f[row, RF_JERK] = np.nan
        rows_f[row, RF_JP95] = np.nan
    rows_i[row, RI_NW] = _nonwear_flag(nw, pi, pf, si)
    rows_i[row, RI_IMP] = si[S_EPIMP]
    rows_i[row, RI_HARD] = si[S_EPHARD]
    rows_i[row, RI_POST] = si[S_EPPOST]
    rows_i[row, RI_CLIP] = si[S_EPCLIP]
    si[S_ADONE] = e + 1
    si[S_EPN] = 0
    si[S_EPCLIP] = 0
    si[S_EPIMP] = 0
    si[S_EPHARD] = 0
    si[S_EPPOST] = 0
    si[S_EPNJ] = 0
    sf[F_EPENMO] = 0.0
    sf[F_EPJERK] = 0.0
    for a in range(3):
        sf[F_EPSUM + a] = 0.0


@jit_fma
def _end_hop_posture(pf: np.ndarray, si: np.ndarray, sf: np.ndarray) -> None:
    """Close a 1-s hop: its z-angle, and a posture change if it moved > threshold."""
    n = si[S_HOPN]
    if n > 0:
        mx = sf[F_HOPSUM] / n
        my = sf[F_HOPSUM + 1] / n
        mz = sf[F_HOPSUM + 2] / n
        ang = math.degrees(math.atan2(mz, math.sqrt(mx * mx + my * my)))
        prev = sf[F_PREVANG]
        if not math.isnan(prev) and abs(ang - prev) > pf[PF_POSTURE]:
            si[S_EPPOST] += 1
        sf[F_PREVANG] = ang
    si[S_HOPN] = 0
    for a in range(3):
        sf[F_HOPSUM + a] = 0.0


@jit_fma_inline
def _eval_hop(j: int, pi: np.ndarray, pf: np.ndarray, flapw: np.ndarray, si: np.ndarray,
              sf: np.ndarray, dbuf: np.ndarray, bacc: np.ndarray, bstat: np.ndarray,
              scratch: np.ndarray, rows_f: np.ndarray) -> None:
    """Evaluate rhythm hop ``j`` from its window's block sums; close its epoch if last.

    Inlined into :func:`_run_bins`, and 2-D indexing instead of row views in its loops:
    an ordinary call or a view costs reference-count updates (out-of-line calls), which
    per hop cost as much as the work (see :func:`_jit_borrow`).
    """
    B = pi[PI_B]
    nbw = pi[PI_NBW]
    half = nbw // 2
    tmin = pi[PI_TMIN]
    tmax = pi[PI_TMAX]
    nb = bacc.shape[0]
    cd = dbuf.shape[1] // 2
    b0 = j - half
    nv = 0.0
    sr = 0.0
    sr2 = 0.0
    en = 0.0                           # sum of |d|^2 over the window (block sums)
    for b in range(b0, b0 + nbw):
        if b >= 0:
            nv += bstat[b % nb, 0]
            sr += bstat[b % nb, 1]
            sr2 += bstat[b % nb, 2]
            en += bstat[b % nb, 3]
    wd = nbw * B
    if nv >= pf[PF_MINVALID] * wd:
        for t in range(tmax + 1):
            scratch[0, t] = 0.0
        for b in range(b0, b0 + nbw):
            if b >= 0:
                rb = b % nb
                for t in range(tmax + 1):
                    scratch[0, t] += bacc[rb, t]
        if pi[PI_GATE] == 0:
            gate = math.sqrt(scratch[0, 0] / nv) if scratch[0, 0] > 0.0 else 0.0
        else:
            mean_r = sr / nv
            v = sr2 / nv - mean_r * mean_r
            gate = math.sqrt(v) if v > 0.0 else 0.0
        si[S_HEVAL] += 1
        if gate >= pf[PF_GATE] and scratch[0, 0] > 0.0:
            # energy of the lagged partner: E2(tau) = sum_{t in window} |d(t + tau)|^2,
            # from the window's block sums by sliding: E2(tau) = E2(tau-1) + |d(we-1+tau)|^2
            # - |d(ws+tau-1)|^2. The differences first (independent: vectorised), then
            # one running sum (a single add per lag on the dependency chain).
            ws = max(b0 * B, 0)
            we = b0 * B + wd
            n1 = we - ws
            # dbuf holds each value twice (at k % cd and k % cd + cd): contiguous from base
            base = ws % cd
            # (unsigned indices: no negative-index handling in the vectorised loop)
            for t in range(1, tmax + 1):
                pa = np.uint64(base + n1 - 1 + t)
                ps = np.uint64(base + t - 1)
                scratch[2, t] = ((dbuf[0, pa] * dbuf[0, pa] + dbuf[1, pa] * dbuf[1, pa]
                                  + dbuf[2, pa] * dbuf[2, pa])
                                 - (dbuf[0, ps] * dbuf[0, ps] + dbuf[1, ps] * dbuf[1, ps]
                                    + dbuf[2, ps] * dbuf[2, ps]))
            e = en
            scratch[1, 0] = e
            for t in range(1, tmax + 1):
                e += scratch[2, t]
                scratch[1, t] = e if e > 0.0 else 0.0
            s = scratch[0]
            e2 = scratch[1]
            rho = scratch[2]
            # normalised autocorrelation (a branch-free loop: vectorised square roots and
            # divisions), then the first negative lag in a loop of its own
            s0 = s[0]
            rho[0] = 1.0
            for t in range(1, tmax + 1):
                den = s0 * e2[t]
                rho[t] = s[t] / math.sqrt(den) if den > 0.0 else 0.0
            first_neg = -1
            for t in range(1, tmax + 1):
                if rho[t] < 0.0:
                    first_neg = t
                    break
            strength = 0.0
            hz = np.nan
            if first_neg > 0:
                lo = max(first_neg, tmin)
                top = -1
                for t in range(lo, tmax + 1):
                    if top < 0 or rho[t] > rho[top]:
                        top = t
                # the period is the first local maximum close to the top one (a multiple
                # of the period correlates as well: avoid octave errors)
                best = top
                for t in range(lo, top):
                    left = rho[t - 1] if t - 1 >= lo else -np.inf
                    if rho[t] >= rho[t + 1] and rho[t] > left and rho[t] >= 0.9 * rho[top]:
                        best = t
                        break
                if best > 0 and rho[top] > 0.0:
                    strength = min(rho[top], 1.0)
                    delta = 0.0
                    if best - 1 >= 1 and best + 1 <= tmax:
                        ym = rho[best - 1]
                        y0 = rho[best]
                        yp = rho[best + 1]
                        den2 = ym - 2.0 * y0 + yp
                        if den2 < 0.0:
                            delta = 0.5 * (ym - yp) / den2
                            delta = max(-0.5, min(0.5, delta))
                    hz = pf[PF_RD] / (best + delta)
            # four partial sums: no single long chain of dependent adds
            f0 = 0.0
            f1 = 0.0
            f2 = 0.0
            f3 = 0.0
            t4 = (tmax + 1) // 4 * 4
            for t in range(0, t4, 4):
                f0 += flapw[t] * s[t]
                f1 += flapw[t + 1] * s[t + 1]
                f2 += flapw[t + 2] * s[t + 2]
                f3 += flapw[t + 3] * s[t + 3]
            for t in range(t4, tmax + 1):
                f0 += flapw[t] * s[t]
            flap = (f0 + f1) + (f2 + f3)
            flap = max(0.0, min(1.0, flap / s0))
            sf[F_HSTR] += strength
            if strength >= pf[PF_RTHR]:
                si[S_HRHY] += 1
            if strength > sf[F_HBEST]:
                sf[F_HBEST] = strength
                sf[F_HBESTHZ] = hz
            sf[F_HFLAP] += flap
            si[S_HFLAP] += 1
    H = pi[PI_H]
    if j % H == H - 1:
        e = j // H
        row = e - si[S_BASE]
        ne = si[S_HEVAL]
        if ne > 0:
            rows_f[row, RF_RSTR] = sf[F_HSTR] / ne
            rows_f[row, RF_RFRAC] = si[S_HRHY] / ne
            rows_f[row, RF_RHZ] = sf[F_HBESTHZ] if sf[F_HBEST] > 0.0 else np.nan
        else:
            rows_f[row, RF_RSTR] = np.nan
            rows_f[row, RF_RFRAC] = np.nan
            rows_f[row, RF_RHZ] = np.nan
        nf = si[S_HFLAP]
        rows_f[row, RF_FLAP] = sf[F_HFLAP] / nf if nf > 0 else np.nan
        si[S_BDONE] = e + 1
        si[S_HEVAL] = 0
        si[S_HRHY] = 0
        si[S_HFLAP] = 0
        sf[F_HSTR] = 0.0
        sf[F_HBEST] = 0.0
        sf[F_HBESTHZ] = np.nan
        sf[F_HFLAP] = 0.0


@jit_fma
def _run_bins(bins: np.ndarray, nbins: int, pi: np.ndarray, pf: np.ndarray,
              flapw: np.ndarray, si: np.ndarray, sf: np.ndarray, abuf: np.ndarray,
              dbuf: np.ndarray, bacc: np.ndarray, bstat: np.ndarray, scratch: np.ndarray,
              rows_f: np.ndarray) -> None:
    """Append decimated bins ``bins[:nbins]`` (x, y, z mean in g; column 3: 1.0 valid,
    0.0 missing with NaN values): high-pass, accumulate lag products, evaluate ready hops.

    The bin-stream state lives in local variables for the whole run (written back at
    the end): the per-bin work is small, so state-array traffic would dominate it.
    """
    M = pi[PI_M]
    B = pi[PI_B]
    tmax = pi[PI_TMAX]
    nbw = pi[PI_NBW]
    jofs = nbw - 1 - nbw // 2
    ca = abuf.shape[0]
    cd = dbuf.shape[1] // 2
    nb = bacc.shape[0]
    k = si[S_NBINS]
    p = si[S_PK]                      # k % ca
    pd = si[S_PD]                     # kp % cd
    kb = si[S_KB]                     # kp % B
    r = si[S_KR]                      # (kp // B) % nb
    tb = si[S_TB]                     # t % B
    rt = si[S_TR]                     # (t // B) % nb
    bt = si[S_BT]                     # t // B
    mac = si[S_MAC]
    m0 = sf[F_MASUM]
    m1 = sf[F_MASUM + 1]
    m2 = sf[F_MASUM + 2]
    for ib in range(nbins):
        ax = bins[ib, 0]
        ay = bins[ib, 1]
        az = bins[ib, 2]
        valid = bins[ib, 3] > 0.0
        abuf[p, 0] = ax
        abuf[p, 1] = ay
        abuf[p, 2] = az
        abuf[p, 3] = 1.0 if valid else 0.0
        if valid:
            m0 += ax
            m1 += ay
            m2 += az
            mac += 1
        if k - 2 * M - 1 >= 0:
            po = p - 2 * M - 1
            if po < 0:
                po += ca
            if abuf[po, 3] > 0.0:
                m0 -= abuf[po, 0]
                m1 -= abuf[po, 1]
                m2 -= abuf[po, 2]
                mac -= 1
                if mac == 0:
                    m0 = 0.0
                    m1 = 0.0
                    m2 = 0.0
        kp = k - M
        pc = p - M
        k += 1
        p = p + 1 if p + 1 < ca else 0
        if kp < 0:
            continue
        # high-passed value at the window centre kp: a(kp) - mean of valid a in [kp-M, kp+M]
        if pc < 0:
            pc += ca
        if kb == 0:
            bstat[r, 0] = 0.0
            bstat[r, 1] = 0.0
            bstat[r, 2] = 0.0
            bstat[r, 3] = 0.0
        if abuf[pc, 3] > 0.0 and mac >= M + 1:
            v = abuf[pc, 0] - m0 / mac
            dbuf[0, pd] = v
            dbuf[0, pd + cd] = v
            v1 = abuf[pc, 1] - m1 / mac
            dbuf[1, pd] = v1
            dbuf[1, pd + cd] = v1
            v2 = abuf[pc, 2] - m2 / mac
            dbuf[2, pd] = v2
            dbuf[2, pd + cd] = v2
            bstat[r, 3] += v * v + v1 * v1 + v2 * v2
            rr = math.sqrt(abuf[pc, 0] ** 2 + abuf[pc, 1] ** 2 + abuf[pc, 2] ** 2)
            bstat[r, 0] += 1.0
            bstat[r, 1] += rr
            bstat[r, 2] += rr * rr
        else:
            for a in range(3):
                dbuf[a, pd] = 0.0
                dbuf[a, pd + cd] = 0.0
        pt = pd - tmax                # position of t = kp - tmax
        pd = pd + 1 if pd + 1 < cd else 0
        if kb + 1 < B:
            kb += 1
        else:
            kb = 0
            r = r + 1 if r + 1 < nb else 0
        # lag products for t = kp - tmax, whose partners up to t + tmax now exist
        if kp - tmax < 0:
            continue
        if pt < 0:
            pt += cd
        if tb == 0:
            for u in range(tmax + 1):
                bacc[rt, u] = 0.0
        # 2-D indexing, not row views: a view costs reference-count updates per bin; an
        # unsigned index: a signed one gets negative-index handling, and the vectorised
        # loop then gathers instead of loading (lag products ~10 -> ~4 ns/sample)
        dx = dbuf[0, pt]
        dy = dbuf[1, pt]
        dz = dbuf[2, pt]
        if dx != 0.0 or dy != 0.0 or dz != 0.0:
            ptu = np.uint64(pt)
            for u in range(tmax + 1):
                iu = ptu + np.uint64(u)
                bacc[rt, u] += dx * dbuf[0, iu] + dy * dbuf[1, iu] + dz * dbuf[2, iu]
        if tb + 1 < B:
            tb += 1
        else:
            tb = 0
            rt = rt + 1 if rt + 1 < nb else 0
            j = bt - jofs
            bt += 1
            if j >= 0:
                _eval_hop(j, pi, pf, flapw, si, sf, dbuf, bacc, bstat, scratch, rows_f)
    si[S_NBINS] = k
    si[S_PK] = p
    si[S_PD] = pd
    si[S_KB] = kb
    si[S_KR] = r
    si[S_TB] = tb
    si[S_TR] = rt
    si[S_BT] = bt
    si[S_MAC] = mac
    sf[F_MASUM] = m0
    sf[F_MASUM + 1] = m1
    sf[F_MASUM + 2] = m2


@jit_fma
def _missing_bin(pi: np.ndarray, pf: np.ndarray, flapw: np.ndarray, si: np.ndarray,
                 sf: np.ndarray, abuf: np.ndarray, dbuf: np.ndarray, bacc: np.ndarray,
                 bstat: np.ndarray, scratch: np.ndarray, rows_f: np.ndarray) -> None:
    """Append one missing bin (flush padding)."""
    one = np.empty((1, 4))
    one[0, 0] = np.nan
    one[0, 1] = np.nan
    one[0, 2] = np.nan
    one[0, 3] = 0.0
    # a non-constant count: a literal 1 compiles a specialisation of its own
    _run_bins(one, one.shape[0], pi, pf, flapw, si, sf, abuf, dbuf, bacc, bstat, scratch,
              rows_f)


@jit_fma
def _end_bin(pi: np.ndarray, pf: np.ndarray, flapw: np.ndarray, si: np.ndarray,
             sf: np.ndarray, abuf: np.ndarray, dbuf: np.ndarray, bacc: np.ndarray,
             bstat: np.ndarray, scratch: np.ndarray, rows_f: np.ndarray) -> None:
    """Close the trailing partial bin (flush)."""
    n = si[S_BINN]
    if n > 0:
        one = np.empty((1, 4))
        one[0, 0] = sf[F_BINSUM] / n
        one[0, 1] = sf[F_BINSUM + 1] / n
        one[0, 2] = sf[F_BINSUM + 2] / n
        one[0, 3] = 1.0
        _run_bins(one, one.shape[0], pi, pf, flapw, si, sf, abuf, dbuf, bacc, bstat,
                  scratch, rows_f)
    else:
        _missing_bin(pi, pf, flapw, si, sf, abuf, dbuf, bacc, bstat, scratch, rows_f)
    si[S_BINN] = 0
    si[S_BINC] = 0
    for a in range(3):
        sf[F_BINSUM + a] = 0.0


@jit_fma
def process(x: np.ndarray, cvals: np.ndarray, final: bool, istore: np.ndarray,
            fstore: np.ndarray, rows_f: np.ndarray, rows_i: np.ndarray) -> int:
    """Entry point: :func:`_process` on the arrays packed in ``istore``/``fstore``.

    Seven arguments instead of twenty: each array argument costs about 50 ns of
    unboxing per call, which a 1-s streaming push pays every time. The kernels below
    run on borrowed views of them (:func:`_jit_borrow`, :func:`_jit_view`).

    Returns the number of rows at the front of the row store that are final (all
    three parts done; with ``final``, every epoch started).
    """
    pi = _view(istore, 0, (N_PI,))
    si = _view(istore, N_PI, (N_SI,))
    ly = _view(istore, N_PI + N_SI, (N_LY,))
    nsos = pi[PI_NSOS]
    tm1 = pi[PI_TMAX] + 1
    L = pi[PI_L]
    nwr = 1 + pi[PI_NWBACK]
    ca = ly[LY_CA]
    cd2 = ly[LY_CD2]
    nb = ly[LY_NB]
    o = ly[LY_PF]
    pf = _view(fstore, o, (N_PF,))
    o = ly[LY_SOS]
    sos = _view(fstore, o, (nsos, 6))
    o = ly[LY_ZI]
    zi = _view(fstore, o, (nsos, 2))
    o = ly[LY_FLAPW]
    flapw = _view(fstore, o, (tm1,))
    o = ly[LY_SF]
    sf = _view(fstore, o, (N_SF,))
    o = ly[LY_ZS]
    zs = _view(fstore, o, (nsos, 3, 2))
    o = ly[LY_EBUF]
    ebuf = _view(fstore, o, (2, L))
    o = ly[LY_NW]
    nw = _view(fstore, o, (nwr, N_NW))
    o = ly[LY_ABUF]
    abuf = _view(fstore, o, (ca, 4))
    o = ly[LY_DBUF]
    dbuf = _view(fstore, o, (3, cd2))
    o = ly[LY_BACC]
    bacc = _view(fstore, o, (nb, tm1))
    o = ly[LY_BSTAT]
    bstat = _view(fstore, o, (nb, N_BSTAT))
    o = ly[LY_SCRATCH]
    scratch = _view(fstore, o, (3, tm1))
    _process(_borrow(x), _borrow(cvals), final, pi, pf, sos, zi, flapw, si, sf, zs, ebuf, nw,
             abuf, dbuf, bacc, bstat, scratch, _borrow(rows_f), _borrow(rows_i))
    if final:
        return si[S_ADONE] - si[S_BASE]
    return min(si[S_ADONE], si[S_BDONE], si[S_N10] // pi[PI_N10]) - si[S_BASE]


def store_shapes(pi: np.ndarray, ca: int, cd: int, nb: int) -> tuple[tuple[int, ...], ...]:
    """Shapes of the float arrays in ``fstore``, in the order of the ``LY_*`` offsets.

    (Plain Python for the wrapper; :func:`process` unpacks with the same shapes.)
    """
    nsos = int(pi[PI_NSOS])
    tm1 = int(pi[PI_TMAX]) + 1
    return ((N_PF,), (nsos, 6), (nsos, 2), (tm1,), (N_SF,), (nsos, 3, 2),
            (2, int(pi[PI_L])), (1 + int(pi[PI_NWBACK]), N_NW), (ca, 4), (3, 2 * cd),
            (nb, tm1), (nb, N_BSTAT), (3, tm1), (_c.N_FPAR,), (_c.N_COEF,),
            (3, _c.N_FSTATE))


def _make_feed(stamp: int) -> Any:
    """Build :func:`feed`; ``stamp`` (the digest of the counts and emission kernels'
    sources) sits in its closure, hence in Numba's cache key: an edit to those files
    recompiles it (Numba's cache checks only the caller's own file)."""

    @jit_fma
    def feed(x: np.ndarray, istore: np.ndarray, fstore: np.ndarray, rows_f: np.ndarray,
             rows_i: np.ndarray, out_f: np.ndarray, out_i: np.ndarray,
             out_b: np.ndarray) -> int:
        """Counts, features and emission of samples ``x`` (n, 3) g in one call (the
        streaming hot path: one dispatch per push instead of three).

        Returns the number ``k`` of final rows. With outputs of at least one column
        (``out_*`` as :func:`movereg.signal._kernels.emit.emit_rows` takes them, as many
        columns as the row store has rows) those rows are written there and dropped from
        the store; with zero columns they stay (as :func:`process` leaves them). Returns
        ``-need`` and changes nothing if the row store has fewer than ``need`` rows.

        The counts stream's parameters and state live in the stores (``CI_*`` in
        ``istore``, ``LY_C*`` offsets in ``fstore``), bound there by the wrapper.
        """
        if stamp < 0:                  # never: ties the compiled code to the sources
            return 0
        pi = _view(istore, 0, (N_PI,))
        si = _view(istore, N_PI, (N_SI,))
        # rows the block can touch: 10-Hz counts never run ahead of the samples, so the
        # sample position bounds both (+1 for a value finishing a sample late)
        need = (si[S_IABS] + x.shape[0]) // pi[PI_L] + 3 - si[S_BASE]
        if need > rows_f.shape[0]:
            return -need
        ly = _view(istore, N_PI + N_SI, (N_LY,))
        ipar = _view(istore, CI_IPAR, (_c.N_IPAR,))
        cis = _view(istore, CI_ISTATE, (3, _c.N_ISTATE))
        fpar = _view(fstore, ly[LY_CFPAR], (_c.N_FPAR,))
        coef = _view(fstore, ly[LY_CCOEF], (_c.N_COEF,))
        cfs = _view(fstore, ly[LY_CFSTATE], (3, _c.N_FSTATE))
        pf = _view(fstore, ly[LY_PF], (N_PF,))
        # as CountsStream._max_values: an upper bound on the 10-Hz values n samples finish
        cvals = np.empty((int(x.shape[0] * 10.0 / pf[PF_FS]) + 8, 3), dtype=np.int64)
        xb = _borrow(x)
        kc = _c.counts_push_packed(xb, ipar, fpar, coef, cfs, cis, cvals)
        k = process(xb, cvals[:kc], False, _borrow(istore), _borrow(fstore), _borrow(rows_f),
                    _borrow(rows_i))
        if k > 0 and out_f.shape[1] > 0:
            base = si[S_BASE]
            _e.emit_rows(rows_f, rows_i, k, RI_CX, RI_NW, RF_ENMO, si[S_T0], base,
                         pf[PF_EPOCH_NS], pf[PF_EPOCH_S], pf[PF_CUTS:PF_CUTS + 3], out_f,
                         out_i, out_b)
            si[S_BASE] = base + k
        return k

    return feed


feed = _make_feed(source_stamp(_c, _e))


@jit_fma
def _process(x: np.ndarray, cvals: np.ndarray, final: bool, pi: np.ndarray, pf: np.ndarray,
             sos: np.ndarray, zi: np.ndarray, flapw: np.ndarray, si: np.ndarray,
             sf: np.ndarray, zs: np.ndarray, ebuf: np.ndarray, nw: np.ndarray,
             abuf: np.ndarray, dbuf: np.ndarray, bacc: np.ndarray, bstat: np.ndarray,
             scratch: np.ndarray, rows_f: np.ndarray, rows_i: np.ndarray) -> None:
    """Consume samples ``x`` (n, 3) g (NaN rows missing) and 10-Hz counts ``cvals`` (k, 3).

    With ``final`` the trailing partial epoch is closed and the rhythm windows are
    completed with missing data, so every epoch started is written to the row store.
    The hot loop keeps the per-sample accumulators in local variables and writes them
    back to the state arrays only around epoch/hop/bin/step boundaries.
    """
    # counts: add the 10-Hz values to their epochs' rows
    n10 = pi[PI_N10]
    v0 = si[S_N10]
    base = si[S_BASE]
    for u in range(cvals.shape[0]):
        row = (v0 + u) // n10 - base
        rows_i[row, RI_CX] += cvals[u, 0]
        rows_i[row, RI_CY] += cvals[u, 1]
        rows_i[row, RI_CZ] += cvals[u, 2]
    si[S_N10] = v0 + cvals.shape[0]

    L = pi[PI_L]
    hs = L // pi[PI_H]
    q = pi[PI_Q]
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
                ang = math.degrees(math.atan2(hz / hn, math.sqrt((hx / hn) ** 2 + (hy / hn) ** 2)))
                if not math.isnan(prevang) and abs(ang - prevang) > pthr:
                    npost += 1
                prevang = ang
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
                _end_epoch_a((i - 1) // L, pi, pf, si, sf, ebuf, nw, rows_f, rows_i)
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

    # decimated bins -> rhythm stream, in a loop of its own (the same samples in the same
    # order as the loop above; a separate loop keeps both loops' registers free)
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
    _run_bins(bins, nbins, pi, pf, flapw, si, sf, abuf, dbuf, bacc, bstat, scratch, rows_f)

    if final:
        H = pi[PI_H]
        i = si[S_IABS]
        if i % L != 0:
            if si[S_HOPN] > 0:
                _end_hop_posture(pf, si, sf)
            _end_epoch_a(i // L, pi, pf, si, sf, ebuf, nw, rows_f, rows_i)
        if si[S_BINC] > 0:
            _end_bin(pi, pf, flapw, si, sf, abuf, dbuf, bacc, bstat, scratch, rows_f)
        # pad with missing bins until every hop of every started epoch is evaluated
        last_hop = si[S_ADONE] * H - 1
        nbw = pi[PI_NBW]
        need = (last_hop + nbw - nbw // 2) * pi[PI_B] + pi[PI_TMAX] + pi[PI_M]
        while si[S_BDONE] < si[S_ADONE] and si[S_NBINS] < need + 1:
            _missing_bin(pi, pf, flapw, si, sf, abuf, dbuf, bacc, bstat, scratch, rows_f)
