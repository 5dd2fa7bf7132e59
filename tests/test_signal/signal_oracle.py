"""Slow, obviously-correct numpy oracles of every epoch feature (for the tests only).

Each feature is recomputed from its written definition with plain numpy and Python loops,
independently of the streaming kernel (only the derived integer parameters are shared).
"""

from __future__ import annotations

import math

import numpy as np
from scipy.signal import sosfilt

from movereg.signal._kernels import layout as K
from movereg.signal._plan import make_plan
from movereg.signal.counts import CountsStream
from movereg.signal.features import zone_of
from movereg.signal.params import FeatureConfig


def oracle_table(x: np.ndarray, fs: float, epoch_s: float, cfg: FeatureConfig | None = None,
                 t0_ns: int = 0) -> dict[str, np.ndarray]:
    cfg = cfg or FeatureConfig()
    p = make_plan(fs, epoch_s, cfg)
    pi = p.pi
    L = int(pi[K.PI_L])
    H = int(pi[K.PI_H])
    hs = L // H
    q = int(pi[K.PI_Q])
    B = int(pi[K.PI_B])
    nbw = int(pi[K.PI_NBW])
    M = int(pi[K.PI_M])
    tmin = int(pi[K.PI_TMIN])
    tmax = int(pi[K.PI_TMAX])
    rd = float(p.pf[K.PF_RD])
    n = x.shape[0]
    m = -(-n // L)
    valid = np.isfinite(x).all(axis=1)
    out: dict[str, np.ndarray] = {}
    out["epoch_start"] = (t0_ns + np.round(np.arange(m) * epoch_s * 1e9)).astype(np.int64)
    out["epoch_s"] = np.full(m, float(epoch_s))

    # --- sample-local features ---------------------------------------------------------
    cov = np.zeros(m)
    enmo = np.full(m, np.nan)
    mad = np.full(m, np.nan)
    zang = np.full(m, np.nan)
    clipped = np.zeros(m, dtype=np.int64)
    for e in range(m):
        seg = x[e * L:(e + 1) * L]
        seg = seg[np.isfinite(seg).all(axis=1)]
        cov[e] = seg.shape[0] / L
        if seg.shape[0]:
            r = np.linalg.norm(seg, axis=1)
            enmo[e] = 1000 * np.mean(np.maximum(r - 1, 0))
            mad[e] = 1000 * np.mean(np.abs(r - r.mean()))
            mv = seg.mean(axis=0)
            zang[e] = math.degrees(math.atan2(mv[2], math.hypot(mv[0], mv[1])))
            clipped[e] = int(np.sum(np.any(np.abs(seg) >= cfg.clip_g, axis=1)))
    out["coverage"], out["enmo_mg"], out["mad_mg"], out["z_angle_deg"] = cov, enmo, mad, zang
    out["clipped"] = clipped

    # low-pass on the held signal, from the first valid sample
    jerk_mean = np.full(m, np.nan)
    jerk_p95 = np.full(m, np.nan)
    impacts = np.zeros(m, dtype=np.int64)
    hard = np.zeros(m, dtype=np.int64)
    if valid.any():
        i0 = int(np.argmax(valid))
        held = x.copy()
        for i in range(i0 + 1, n):
            if not valid[i]:
                held[i] = held[i - 1]
        af = np.full((n, 3), np.nan)
        for a in range(3):
            zi = p.zi * held[i0, a]
            af[i0:, a], _ = sosfilt(p.sos, held[i0:, a], zi=zi)
        rf = np.linalg.norm(af, axis=1)
        jerks: list[list[float]] = [[] for _ in range(m)]
        for i in range(i0 + 1, n):
            if valid[i] and valid[i - 1]:
                jerks[i // L].append(fs * float(np.linalg.norm(af[i] - af[i - 1])))
        for e in range(m):
            if jerks[e]:
                jerk_mean[e] = np.mean(jerks[e])
                jerk_p95[e] = np.percentile(jerks[e], 95)
        refr = round(cfg.impact_refractory_s * fs)
        last_i = last_h = -(10**12)
        up_i = up_h = False
        for i in range(i0, n):
            if not valid[i]:
                continue
            if rf[i] >= cfg.impact_g:
                if not up_i and i - last_i >= refr:
                    impacts[i // L] += 1
                    last_i = i
                up_i = True
            else:
                up_i = False
            if rf[i] >= cfg.hard_impact_g:
                if not up_h and i - last_h >= refr:
                    hard[i // L] += 1
                    last_h = i
                up_h = True
            else:
                up_h = False
    out["jerk_g_s"], out["jerk_p95_g_s"] = jerk_mean, jerk_p95
    out["impacts"], out["hard_impacts"] = impacts, hard

    # posture: z-angle of each hop's mean vector vs the previous hop that had data
    posture = np.zeros(m, dtype=np.int64)
    prev = math.nan
    for h in range(-(-n // hs)):
        seg = x[h * hs:(h + 1) * hs]
        seg = seg[np.isfinite(seg).all(axis=1)]
        if seg.shape[0] == 0:
            continue
        mv = seg.mean(axis=0)
        ang = math.degrees(math.atan2(mv[2], math.hypot(mv[0], mv[1])))
        if not math.isnan(prev) and abs(ang - prev) > cfg.posture_change_deg:
            posture[(h * hs) // L] += 1
        prev = ang
    out["posture_changes"] = posture

    # non-wear: current step so far + previous steps, ending at the epoch's end
    lb = round(cfg.nonwear_step_s * fs)
    back = round(cfg.nonwear_window_s / cfg.nonwear_step_s) - 1
    nwmin = round(cfg.nonwear_min_coverage * cfg.nonwear_window_s * fs)
    nonwear = np.zeros(m, dtype=np.int8)
    for e in range(m):
        end = min((e + 1) * L, n)
        cb = (end - 1) // lb
        seg = x[max(0, (cb - back) * lb):end]
        seg = seg[np.isfinite(seg).all(axis=1)]
        if seg.shape[0] < max(nwmin, 2):
            continue
        sd = seg.std(axis=0, ddof=1)
        rng = seg.max(axis=0) - seg.min(axis=0)
        ok = (sd < cfg.nonwear_sd_mg / 1000) & (rng < cfg.nonwear_range_mg / 1000)
        nonwear[e] = int(ok.sum() >= cfg.nonwear_min_axes)
    out["nonwear"] = nonwear

    # --- rhythm ---------------------------------------------------------------------------
    nh = m * H
    kmax = (nh - 1 + nbw - nbw // 2) * B + tmax + 2 * M + 8
    a = np.full((kmax, 3), np.nan)
    for k in range(kmax):
        seg = x[k * q:(k + 1) * q]
        seg = seg[np.isfinite(seg).all(axis=1)] if seg.shape[0] else seg
        if seg.shape[0]:
            a[k] = seg.mean(axis=0)
    d = np.zeros((kmax, 3))
    dv = np.zeros(kmax, dtype=bool)
    av = ~np.isnan(a).any(axis=1)
    for k in range(kmax):
        lo, hi = max(0, k - M), k + M + 1
        win = a[lo:hi][av[lo:hi]]
        if av[k] and win.shape[0] >= M + 1:
            d[k] = a[k] - win.mean(axis=0)
            dv[k] = True
    dpad = np.vstack([d, np.zeros((tmax + 1, 3))])
    strength = np.full(m, np.nan)
    rhz = np.full(m, np.nan)
    frac = np.full(m, np.nan)
    flap = np.full(m, np.nan)
    wd = nbw * B
    for e in range(m):
        sts, hzs, flaps = [], [], []
        for j in range(e * H, (e + 1) * H):
            ws = (j - nbw // 2) * B
            idx = [t for t in range(ws, ws + wd) if t >= 0]
            nv = int(dv[idx].sum())
            if nv < cfg.rhythm_min_valid * wd:
                continue
            s = np.array([sum(float(dpad[t] @ dpad[t + tau]) for t in idx)
                          for tau in range(tmax + 1)])
            gate = math.sqrt(s[0] / nv) if s[0] > 0 else 0.0
            if not (gate >= cfg.rhythm_gate_mg / 1000 and s[0] > 0):
                sts.append(0.0)
                hzs.append(math.nan)
                continue
            e2 = np.array([sum(float(dpad[t + tau] @ dpad[t + tau]) for t in idx)
                           for tau in range(tmax + 1)])
            rho = np.zeros(tmax + 1)
            for tau in range(1, tmax + 1):
                den = s[0] * e2[tau]
                rho[tau] = s[tau] / math.sqrt(den) if den > 0 else 0.0
            neg = [tau for tau in range(1, tmax + 1) if rho[tau] < 0]
            st, hz = 0.0, math.nan
            if neg:
                lo = max(neg[0], tmin)
                top = lo + int(np.argmax(rho[lo:]))
                best = top
                for tau in range(lo, top):
                    left = rho[tau - 1] if tau - 1 >= lo else -np.inf
                    if rho[tau] >= rho[tau + 1] and rho[tau] > left and \
                            rho[tau] >= 0.9 * rho[top]:
                        best = tau
                        break
                if rho[top] > 0:
                    st = min(rho[top], 1.0)
                    delta = 0.0
                    if best - 1 >= 1 and best + 1 <= tmax:
                        ym, y0, yp = rho[best - 1], rho[best], rho[best + 1]
                        den2 = ym - 2 * y0 + yp
                        if den2 < 0:
                            delta = max(-0.5, min(0.5, 0.5 * (ym - yp) / den2))
                    hz = rd / (best + delta)
            band = float(p.flapw[0] @ s)          # 1.5-6 Hz power (Blackman-Tukey), g^2 bins
            mom2 = max(float(p.flapw[1] @ s), 0.0)  # its second moment, Hz^2 g^2 bins
            m2 = mom2 / nv                       # mean-square band jerk / (2 pi)^2
            ev = m2 / (m2 + (cfg.flap_jerk_ref_g_s / (2 * math.pi)) ** 2)
            if ev > st and band >= 0.5 * s[0]:     # vigorous, mostly flap-band: names the rhythm
                hz = math.sqrt(mom2 / band)       # the band's RMS frequency
                hz = hz if hz > 0 else math.nan
            sts.append(1 - (1 - st) * (1 - ev))
            hzs.append(hz)
            flaps.append(max(0.0, min(1.0, band / s[0])))
        if sts:
            strength[e] = np.mean(sts)
            frac[e] = np.mean(np.array(sts) >= cfg.rhythm_threshold)
            if max(sts) > 0:
                rhz[e] = hzs[int(np.argmax(sts))]
        if flaps:
            flap[e] = np.mean(flaps)
    out["rhythm_strength"], out["rhythm_hz"] = strength, rhz
    out["rhythmic_fraction"], out["flap_share"] = frac, flap

    # --- counts: the 10-Hz values of the counts stream, summed per epoch ---------------------
    vals = CountsStream(fs).push(x)
    n10 = int(p.n10)
    c = np.zeros((m, 3), dtype=np.int64)
    for u in range(vals.shape[0]):
        if u // n10 < m:
            c[u // n10] += vals[u]
    out["counts_x"], out["counts_y"], out["counts_z"] = c[:, 0], c[:, 1], c[:, 2]
    out["counts_vm"] = np.sqrt((c.astype(float) ** 2).sum(axis=1))
    out["zone"] = zone_of(enmo, cfg)
    return out
