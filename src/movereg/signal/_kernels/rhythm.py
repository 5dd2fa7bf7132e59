"""The rhythm stream (stream B): decimated bins to per-epoch rhythm features.

Bins (the mean of ``q`` raw samples) are high-passed by a centred moving average, their lag
products are accumulated per hop block, and each 1-s hop evaluates the vector
autocorrelation of its window from the block sums: strength and frequency of the strongest
periodicity, the 1.5-6 Hz (flap) band power and second spectral moment (its share of the
high-passed power, its RMS frequency and the flapping evidence from the band's jerk,
m2 / (m2 + ref) with m2 = jerk^2 / (2 pi)^2), and the hop's rhythm strength
``1 - (1 - periodicity) (1 - evidence)``. An epoch's rhythm columns are final once its last
hop is evaluated.
"""

from __future__ import annotations

import math

import numpy as np

from movereg.signal._jit import jit_fma, jit_fma_inline
from movereg.signal._kernels.layout import (
    F_BINSUM,
    F_HBEST,
    F_HBESTHZ,
    F_HFLAP,
    F_HSTR,
    F_MASUM,
    PF_FLAPREF,
    PF_GATE,
    PF_MINVALID,
    PF_RD,
    PF_RTHR,
    PI_B,
    PI_GATE,
    PI_H,
    PI_M,
    PI_NBW,
    PI_TMAX,
    PI_TMIN,
    RF_FLAP,
    RF_RFRAC,
    RF_RHZ,
    RF_RSTR,
    S_BASE,
    S_BDONE,
    S_BINC,
    S_BINN,
    S_BT,
    S_HEVAL,
    S_HFLAP,
    S_HRHY,
    S_KB,
    S_KR,
    S_MAC,
    S_NBINS,
    S_PD,
    S_PK,
    S_TB,
    S_TR,
)

__all__ = ["end_bin", "missing_bin", "run_bins"]


@jit_fma_inline
def _window_stats(b0: int, nbw: int, bstat: np.ndarray) -> tuple[float, float, float, float]:
    """Sums over hop blocks ``b0 .. b0 + nbw - 1`` (those >= 0) of the block statistics:
    valid bins, resultant (g), resultant squared (g^2) and high-passed energy |d|^2 (g^2)."""
    nb = bstat.shape[0]
    nv = 0.0
    sr = 0.0
    sr2 = 0.0
    en = 0.0
    for b in range(b0, b0 + nbw):
        if b >= 0:
            nv += bstat[b % nb, 0]
            sr += bstat[b % nb, 1]
            sr2 += bstat[b % nb, 2]
            en += bstat[b % nb, 3]
    return nv, sr, sr2, en


@jit_fma_inline
def _autocorrelation(b0: int, nbw: int, B: int, tmax: int, en: float, dbuf: np.ndarray,
                     scratch: np.ndarray) -> None:
    """The window's lag sums S (``scratch[0]``), the lagged partner's energy E2
    (``scratch[1]``) and the normalised vector autocorrelation rho (``scratch[2]``).

    Expects ``scratch[0]`` already summed from the window's blocks (:func:`_lag_sums`).
    2-D indexing, not row views, in the vectorised loops (see :mod:`.views`).
    """
    cd = dbuf.shape[1] // 2
    # energy of the lagged partner: E2(tau) = sum_{t in window} |d(t + tau)|^2,
    # from the window's block sums by sliding: E2(tau) = E2(tau-1) + |d(we-1+tau)|^2
    # - |d(ws+tau-1)|^2. The differences first (independent: vectorised), then
    # one running sum (a single add per lag on the dependency chain).
    ws = max(b0 * B, 0)
    we = b0 * B + nbw * B
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
    # normalised autocorrelation (a branch-free loop: vectorised square roots and
    # divisions)
    s0 = scratch[0, 0]
    scratch[2, 0] = 1.0
    for t in range(1, tmax + 1):
        den = s0 * scratch[1, t]
        scratch[2, t] = scratch[0, t] / math.sqrt(den) if den > 0.0 else 0.0


@jit_fma_inline
def _lag_sums(b0: int, nbw: int, tmax: int, bacc: np.ndarray, scratch: np.ndarray) -> None:
    """``scratch[0]``: the window's lag sums S(tau), tau = 0..tmax, from its blocks'."""
    nb = bacc.shape[0]
    for t in range(tmax + 1):
        scratch[0, t] = 0.0
    for b in range(b0, b0 + nbw):
        if b >= 0:
            rb = b % nb
            for t in range(tmax + 1):
                scratch[0, t] += bacc[rb, t]


@jit_fma_inline
def _periodicity(rho: np.ndarray, tmin: int, tmax: int, rd: float) -> tuple[float, float]:
    """Strength (the highest autocorrelation after the first negative lag, from ``tmin``)
    and frequency (Hz, NaN if none) of the strongest periodicity in ``rho``."""
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
            hz = rd / (best + delta)
    return strength, hz


@jit_fma_inline
def _band_sums(flapw: np.ndarray, s: np.ndarray, tmax: int) -> tuple[float, float]:
    """The flap band's power and second spectral moment from the lag sums ``s``: the
    weighted sums ``flapw[0] . s`` and ``max(flapw[1] . s, 0)`` (four partial sums each:
    no single long chain of dependent adds)."""
    f0 = 0.0
    f1 = 0.0
    f2 = 0.0
    f3 = 0.0
    c0 = 0.0
    c1 = 0.0
    c2 = 0.0
    c3 = 0.0
    t4 = (tmax + 1) // 4 * 4
    for t in range(0, t4, 4):
        f0 += flapw[0, t] * s[t]
        f1 += flapw[0, t + 1] * s[t + 1]
        f2 += flapw[0, t + 2] * s[t + 2]
        f3 += flapw[0, t + 3] * s[t + 3]
        c0 += flapw[1, t] * s[t]
        c1 += flapw[1, t + 1] * s[t + 1]
        c2 += flapw[1, t + 2] * s[t + 2]
        c3 += flapw[1, t + 3] * s[t + 3]
    for t in range(t4, tmax + 1):
        f0 += flapw[0, t] * s[t]
        c0 += flapw[1, t] * s[t]
    return (f0 + f1) + (f2 + f3), max((c0 + c1) + (c2 + c3), 0.0)


@jit_fma_inline
def _close_epoch(j: int, pi: np.ndarray, si: np.ndarray, sf: np.ndarray,
                 rows_f: np.ndarray) -> None:
    """After hop ``j``: if it is its epoch's last, write the epoch's rhythm columns from
    the hop accumulators and reset them."""
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


@jit_fma_inline
def _eval_hop(j: int, pi: np.ndarray, pf: np.ndarray, flapw: np.ndarray, si: np.ndarray,
              sf: np.ndarray, dbuf: np.ndarray, bacc: np.ndarray, bstat: np.ndarray,
              scratch: np.ndarray, rows_f: np.ndarray) -> None:
    """Evaluate rhythm hop ``j`` from its window's block sums; close its epoch if last.

    Inlined into :func:`run_bins` (its helpers into it), and 2-D indexing instead of row
    views in the loops: an ordinary call or a view costs reference-count updates
    (out-of-line calls), which per hop cost as much as the work (see :mod:`.views`).
    """
    B = pi[PI_B]
    nbw = pi[PI_NBW]
    tmax = pi[PI_TMAX]
    b0 = j - nbw // 2
    nv, sr, sr2, en = _window_stats(b0, nbw, bstat)
    if nv >= pf[PF_MINVALID] * (nbw * B):
        _lag_sums(b0, nbw, tmax, bacc, scratch)
        if pi[PI_GATE] == 0:
            gate = math.sqrt(scratch[0, 0] / nv) if scratch[0, 0] > 0.0 else 0.0
        else:
            mean_r = sr / nv
            v = sr2 / nv - mean_r * mean_r
            gate = math.sqrt(v) if v > 0.0 else 0.0
        si[S_HEVAL] += 1
        if gate >= pf[PF_GATE] and scratch[0, 0] > 0.0:
            _autocorrelation(b0, nbw, B, tmax, en, dbuf, scratch)
            s0 = scratch[0, 0]
            strength, hz = _periodicity(scratch[2], pi[PI_TMIN], tmax, pf[PF_RD])
            fsum, csum = _band_sums(flapw, scratch[0], tmax)
            flap = max(0.0, min(1.0, fsum / s0))
            # flapping evidence: the band's mean-square jerk per bin, as its second
            # spectral moment m2 = jerk^2 / (2 pi)^2, against the reference's,
            # m2 / (m2 + ref); the hop's strength is "periodic OR vigorous in the band"
            m2 = csum / nv
            ev = m2 / (m2 + pf[PF_FLAPREF])
            if ev > strength and 2.0 * fsum >= s0:
                # stronger evidence than the periodicity, and most of the power in the
                # band: the band's RMS frequency (Hz) names the rhythm
                hz = math.sqrt(csum / fsum)
                if not hz > 0.0:
                    hz = np.nan
            strength = 1.0 - (1.0 - strength) * (1.0 - ev)
            sf[F_HSTR] += strength
            if strength >= pf[PF_RTHR]:
                si[S_HRHY] += 1
            if strength > sf[F_HBEST]:
                sf[F_HBEST] = strength
                sf[F_HBESTHZ] = hz
            sf[F_HFLAP] += flap
            si[S_HFLAP] += 1
    _close_epoch(j, pi, si, sf, rows_f)


@jit_fma
def run_bins(bins: np.ndarray, nbins: int, pi: np.ndarray, pf: np.ndarray,
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
def missing_bin(pi: np.ndarray, pf: np.ndarray, flapw: np.ndarray, si: np.ndarray,
                 sf: np.ndarray, abuf: np.ndarray, dbuf: np.ndarray, bacc: np.ndarray,
                 bstat: np.ndarray, scratch: np.ndarray, rows_f: np.ndarray) -> None:
    """Append one missing bin (flush padding)."""
    one = np.empty((1, 4))
    one[0, 0] = np.nan
    one[0, 1] = np.nan
    one[0, 2] = np.nan
    one[0, 3] = 0.0
    # a non-constant count: a literal 1 compiles a specialisation of its own
    run_bins(one, one.shape[0], pi, pf, flapw, si, sf, abuf, dbuf, bacc, bstat, scratch,
              rows_f)


@jit_fma
def end_bin(pi: np.ndarray, pf: np.ndarray, flapw: np.ndarray, si: np.ndarray,
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
        run_bins(one, one.shape[0], pi, pf, flapw, si, sf, abuf, dbuf, bacc, bstat,
                  scratch, rows_f)
    else:
        missing_bin(pi, pf, flapw, si, sf, abuf, dbuf, bacc, bstat, scratch, rows_f)
    si[S_BINN] = 0
    si[S_BINC] = 0
    for a in range(3):
        sf[F_BINSUM + a] = 0.0
