"""Screening of candidate ``rhythm_strength`` variants on the classroom SMM sessions.

Run from the repository root: ``PYTHONPATH=src python -m validation.rhythm_variants``.
Writes ``validation/results/rhythm_variants.md``. Not part of the feature code: a numpy
re-implementation of the kernel's per-hop periodicity ``p`` and flap-band vigour ``v``
(its AUROCs equal the kernel's, see the ``kernel`` and ``numpy p, v`` rows) plus candidate
extra evidence, each combined as ``1 - (1 - p)(1 - v)(1 - w e)``, so ideas can be measured
before touching the streaming kernel. Every variant uses the same parameters for every
child, wrist and session; weights ``w`` get a leave-one-child-out (LOCO) view.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from scipy.signal import butter, sosfiltfilt

from validation.smm import SESSIONS, SIDES, auc, epoch_labels, load_annotations, load_wrist

RESULTS = Path(__file__).resolve().parent / "results"
FS = 60.0
RATE = 15.0                       # the kernel's decimated rhythm rate at FS (q = 4)
EPOCH_S = 5.0
CHILDREN = ("001", "002", "003")
WEIGHTS = (0.0, 0.2, 0.35, 0.5, 0.7, 1.0)
Wrist = dict[str, np.ndarray]


def hop_terms(x: np.ndarray, *, unit: bool = False,
              resultant: bool = False) -> dict[str, np.ndarray]:
    """Per-hop ``p`` and ``v`` (m, H) as the kernel defines them; ``unit``: on unit vectors.

    With ``unit`` the decimated bins are divided by their length first, so ``p`` measures
    the periodicity of the wrist's direction (gravity plus movement), not of its acceleration;
    with ``resultant`` the periodicity of the bins' length (1-D, orientation-free).
    """
    from movereg.signal._kernels import layout as lay
    from movereg.signal._plan import make_plan
    from movereg.signal.params import FeatureConfig

    cfg = FeatureConfig()
    plan = make_plan(FS, EPOCH_S, cfg)
    pi = plan.pi
    ln, nh_e, q, b = (int(pi[lay.PI_L]), int(pi[lay.PI_H]), int(pi[lay.PI_Q]),
                      int(pi[lay.PI_B]))
    nbw, mm, tmin, tmax = (int(pi[lay.PI_NBW]), int(pi[lay.PI_M]), int(pi[lay.PI_TMIN]),
                           int(pi[lay.PI_TMAX]))
    m = -(-x.shape[0] // ln)
    nh = m * nh_e
    kmax = (nh - 1 + nbw - nbw // 2) * b + tmax + 2 * mm + 8
    nk = x.shape[0] // q
    a = np.full((kmax, 3), np.nan)
    a[:nk] = x[: nk * q].reshape(nk, q, 3).mean(axis=1)
    if unit:
        a = a / np.linalg.norm(a, axis=1, keepdims=True)
    if resultant:
        a = np.column_stack([np.linalg.norm(a, axis=1), np.zeros((kmax, 2))])
    av = np.asarray(~np.isnan(a).any(axis=1))
    a0 = np.where(av[:, None], a, 0.0)
    w = 2 * mm + 1
    cnt_c = np.concatenate([[0.0], np.cumsum(np.concatenate([np.zeros(mm), av, np.zeros(mm)]))])
    sum_c = np.vstack([np.zeros((1, 3)),
                       np.cumsum(np.vstack([np.zeros((mm, 3)), a0, np.zeros((mm, 3))]), 0)])
    cnt = cnt_c[w:w + kmax] - cnt_c[:kmax]
    dv = av & (cnt >= mm + 1)
    d = np.where(dv[:, None], a0 - (sum_c[w:w + kmax] - sum_c[:kmax])
                 / np.maximum(cnt, 1.0)[:, None], 0.0)
    d = np.vstack([d, np.zeros((tmax + 1, 3))])
    en = (d * d).sum(axis=1)
    wd = nbw * b
    p = np.zeros(nh)
    v = np.zeros(nh)
    ok = np.zeros(nh, dtype=bool)
    extra = {k: np.zeros(nh) for k in ("share", "b2", "trough", "conc", "rms")}
    psd_w = _psd_weights(tmax, plan.pf[lay.PF_RD])
    ref = (cfg.flap_jerk_ref_g_s / (2 * math.pi)) ** 2
    for j in range(nh):
        ws = (j - nbw // 2) * b
        lo, hi = max(ws, 0), ws + wd
        nv = float(dv[lo:hi].sum())
        if nv < cfg.rhythm_min_valid * wd:
            continue
        ok[j] = True
        lagged = sliding_window_view(d[lo:hi + tmax], hi - lo, axis=0)[: tmax + 1]
        s = np.einsum("tc,kct->k", d[lo:hi], lagged)
        extra["rms"][j] = math.sqrt(max(float(s[0]), 0.0) / nv) if nv > 0 else 0.0
        if not (s[0] > 0 and math.sqrt(s[0] / nv) >= cfg.rhythm_gate_mg / 1000):
            continue
        ce = np.concatenate([[0.0], np.cumsum(en[lo:hi + tmax])])
        e2 = ce[hi - lo:hi - lo + tmax + 1] - ce[: tmax + 1]
        den = s[0] * e2
        rho = np.zeros(tmax + 1)
        rho[1:] = np.where(den[1:] > 0, s[1:] / np.sqrt(np.maximum(den[1:], 1e-300)), 0.0)
        neg = np.flatnonzero(rho[1:] < 0)
        if neg.size:
            start = max(int(neg[0]) + 1, tmin)
            p[j] = min(max(float(rho[start:].max()), 0.0), 1.0)
            top = start + int(np.argmax(rho[start:]))
            extra["trough"][j] = min(float(rho[int(neg[0]) + 1:top + 1].min()), 0.0)
        m2 = max(float(plan.flapw[1] @ s), 0.0) / nv
        v[j] = m2 / (m2 + ref)
        band = float(plan.flapw[0] @ s)
        extra["share"][j] = min(max(band / s[0], 0.0), 1.0)
        extra["b2"][j] = max(band, 0.0) / nv
        psd = np.maximum(s @ psd_w[0], 0.0)
        extra["conc"][j] = psd[psd_w[1] > 0].max() / max(psd[psd_w[2] > 0].sum(), 1e-30)
    out = {"p": p, "v": v, "ok": ok, **extra}
    return {k: a.reshape(m, nh_e) for k, a in out.items()} | {"d": d}


def _psd_weights(tmax: int, rate_hz: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Blackman-Tukey (Parzen lag window) cosine weights onto a 0.125-Hz grid from 0.25 Hz
    to Nyquist, and the grid's 1.5-5 Hz (peak) and >= 0.5 Hz (total) masks."""
    f = np.arange(0.25, rate_hz / 2 + 1e-9, 0.125)
    tau = np.arange(tmax + 1)
    u = tau / (tmax + 1)
    parzen = np.where(u <= 0.5, 1 - 6 * u**2 + 6 * u**3, 2 * (1 - u) ** 3)
    w = np.cos(2 * np.pi * np.outer(tau, f) / rate_hz) * parzen[:, None]
    w[1:] *= 2.0
    return w, ((f >= 1.5) & (f <= 5.0)).astype(float), (f >= 0.5).astype(float)


def shape_terms(d: np.ndarray, m: int, per_epoch: int) -> dict[str, np.ndarray]:
    """Epoch-level candidates on the decimated high-passed bins ``d``: the periodicity of
    the energy envelope |d|^2 (lags 0.2-0.67 s at 15 Hz: bursts repeating at 1.5-5 Hz) and
    the recurrence rate of the 3-D trajectory (Grossekathoefer et al. 2017; points closer
    than 0.4 x its RMS radius; orientation- and scale-free)."""
    dd = np.zeros((m * per_epoch, 3))
    k = min(len(d), m * per_epoch)
    dd[:k] = d[:k]
    e = dd.reshape(m, per_epoch, 3)
    env = (e * e).sum(2)
    env = env - env.mean(1, keepdims=True)
    qe = np.zeros(m)
    for t in range(3, 11):
        a, c = env[:, : per_epoch - t], env[:, t:]
        qe = np.maximum(qe, (a * c).sum(1) / np.sqrt((a * a).sum(1) * (c * c).sum(1) + 1e-20))
    x = e - e.mean(1, keepdims=True)
    dist = np.sqrt(((x[:, :, None, :] - x[:, None, :, :]) ** 2).sum(-1))
    radius = np.sqrt((x * x).sum(2).mean(1)) + 1e-9
    close = dist < 0.4 * radius[:, None, None]
    rr = (close.sum((1, 2)) - per_epoch) / (per_epoch * (per_epoch - 1))
    return {"qe": qe, "rr": rr}


def _band(x: np.ndarray, lo: float | None, hi: float) -> np.ndarray:
    sos = (butter(4, hi, "lowpass", fs=FS, output="sos") if lo is None
           else butter(4, [lo, hi], "bandpass", fs=FS, output="sos"))
    return np.asarray(sosfiltfilt(sos, x, axis=0))


def _periodicity(y: np.ndarray, tmin: int, tmax: int) -> np.ndarray:
    """Per epoch (m, n, 3): the highest normalised vector autocorrelation at lags >= both
    ``tmin`` and the first negative lag (the kernel's rule), 0 if none; samples."""
    n = y.shape[1]
    rho = np.empty((y.shape[0], tmax))
    for t in range(1, tmax + 1):
        a, c = y[:, : n - t], y[:, t:]
        rho[:, t - 1] = (a * c).sum((1, 2)) / (
            np.sqrt((a * a).sum((1, 2)) * (c * c).sum((1, 2))) + 1e-12)
    out = np.zeros(y.shape[0])
    for i in range(y.shape[0]):
        neg = np.flatnonzero(rho[i] < 0)
        if neg.size:
            start = max(int(neg[0]) + 1, tmin)
            out[i] = max(float(rho[i, start - 1:].max()), 0.0)
    return out


def epoch_terms(x: np.ndarray, m: int) -> dict[str, np.ndarray]:
    """Epoch-level candidates: flap-band (1.5-6 Hz) periodicity and RMS jerk (g/s); the
    periodicity of the < 6 Hz direction (unit vector) and of the 0.4-1.6 Hz band."""
    ln = round(EPOCH_S * FS)
    xp = np.zeros((m * ln, 3))
    xp[: min(len(x), m * ln)] = x[: m * ln]

    def epochs(z: np.ndarray) -> np.ndarray:
        e = z.reshape(m, ln, 3)
        return np.asarray(e - e.mean(axis=1, keepdims=True))

    fb = _band(xp, 1.5, 6.0)
    jerk = np.diff(fb, axis=0, prepend=fb[:1]) * FS
    lp = _band(xp, None, 6.0)
    u = lp / (np.linalg.norm(lp, axis=1, keepdims=True) + 1e-9)
    lag = (round(FS / 6.0), round(FS / 1.5), round(0.4 * FS), round(2.5 * FS))
    return {"qf": _periodicity(epochs(fb), lag[0], lag[1]),
            "frms": np.sqrt((epochs(fb) ** 2).sum(2).mean(1)),
            "jf": np.sqrt((jerk.reshape(m, ln, 3) ** 2).sum(2).mean(1)),
            "qg": _periodicity(epochs(u), lag[2], lag[3]),
            "qr": _periodicity(epochs(_band(xp, 0.4, 1.6)), lag[2], lag[3])}


def load_all() -> dict[str, Wrist]:
    from movereg.signal import extract_features

    out: dict[str, Wrist] = {}
    for side in SIDES:
        parts: list[Wrist] = []
        for s in SESSIONS:
            t0, x = load_wrist(s, side, FS)
            tab = extract_features(x, FS, t0_ns=round(t0 * 1e6), epoch_s=EPOCH_S)
            lab = epoch_labels(tab["epoch_start"] / 1e6, tab["coverage"], EPOCH_S,
                               load_annotations(s))
            m = lab.label.size
            rec: Wrist = {"label": lab.label, "kind": lab.kind.astype(str),
                          "child": np.full(m, s.split("-")[1]), "session": np.full(m, s),
                          "kernel": np.nan_to_num(np.asarray(tab["rhythm_strength"], float)),
                          "flap": np.nan_to_num(np.asarray(tab["flap_share"], float))}
            hops = hop_terms(x)
            d = hops.pop("d")
            rec.update(hops)
            rec.update(shape_terms(d, m, round(EPOCH_S * RATE)))
            rec["pu"] = hop_terms(x, unit=True)["p"]
            rec["pn"] = hop_terms(x, resultant=True)["p"]

            rec.update(epoch_terms(x, m))
            parts.append(rec)
        out[side] = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    return out


def hop_mean(r: Wrist, s: np.ndarray) -> np.ndarray:
    ok = r["ok"]
    return np.asarray((s * ok).sum(1) / np.maximum(ok.sum(1), 1))


def _auc(r: Wrist, score: np.ndarray, sel: np.ndarray | None = None,
         kind: str | None = None) -> float:
    sel = np.ones(score.size, dtype=bool) if sel is None else sel
    pos = sel & (r["label"] == 1)
    if kind is not None:
        pos &= r["kind"] == kind
    return auc(score[pos], score[sel & (r["label"] == 0)])


Variant = Callable[[Wrist], np.ndarray]


def variants(w: float) -> dict[str, Variant]:
    """Candidate scores with extra-evidence weight ``w``."""
    def base(r: Wrist) -> np.ndarray:
        return np.asarray(1 - (1 - r["p"]) * (1 - r["v"]))

    def vig(j0: float) -> Variant:
        return lambda r: 1 - (1 - hop_mean(r, base(r))) * (
            1 - w * r["qf"] * r["jf"] ** 2 / (r["jf"] ** 2 + j0 ** 2))

    def previous(r: Wrist) -> np.ndarray:
        now = hop_mean(r, base(r))
        prev = np.concatenate([now[:1], now[:-1]])
        first = np.concatenate([[True], r["session"][1:] != r["session"][:-1]])
        return np.asarray(np.where(first, now, prev))

    return {
        f"previous epoch's score mixed in, (1 - w/2) now + w/2 previous, w={w}":
            lambda r: (1 - w / 2) * hop_mean(r, base(r)) + w / 2 * previous(r),
        f"resultant (vector length) periodicity per hop, w={w}":
            lambda r: hop_mean(r, 1 - (1 - base(r)) * (1 - w * r["pn"])),
        f"direction periodicity per hop (unit bins), w={w}":
            lambda r: hop_mean(r, 1 - (1 - base(r)) * (1 - w * r["pu"])),
        f"direction periodicity per epoch (< 6 Hz, lags 0.4-2.5 s), w={w}":
            lambda r: 1 - (1 - hop_mean(r, base(r))) * (1 - w * r["qg"]),
        f"flap_share x direction periodicity per epoch, w={w}":
            lambda r: 1 - (1 - hop_mean(r, base(r))) * (1 - w * r["flap"] * r["qg"]),
        f"rock-band (0.4-1.6 Hz) periodicity per epoch, w={w}":
            lambda r: 1 - (1 - hop_mean(r, base(r))) * (1 - w * r["qr"]),
        f"flap-band periodicity x j^2/(j^2 + (1 g/s)^2), w={w}": vig(1.0),
        f"flap-band periodicity x j^2/(j^2 + (4 g/s)^2), w={w}": vig(4.0),
        # third round (the one-handed session: amplitude-free shape of the movement)
        f"flap-band share s per hop, e = sigmoid((s - 0.65) / 0.04), w={w}":
            lambda r: hop_mean(r, 1 - (1 - base(r)) * (1 - w * _quiet_share(r, 0.0))),
        f"the same x b^2/(b^2 + (60 mg)^2), b the band's RMS (noise floor), w={w}":
            lambda r: hop_mean(r, 1 - (1 - base(r)) * (1 - w * _quiet_share(r, 0.06))),
        f"vigour odds x (s / (1 - s))^(2w) (band share sharpens v), w={w}":
            lambda r: hop_mean(r, 1 - (1 - r["p"]) * (1 - _share_odds(r, 2 * w))),
        f"periodicity as peak-to-trough prominence (peak - w trough) / (1 + w), w={w}":
            lambda r: hop_mean(r, 1 - (1 - _prominence(r, w)) * (1 - r["v"])),
        f"amplitude-weighted periodicity p (1 - w + w r^2/(r^2 + (100 mg)^2)), w={w}":
            lambda r: hop_mean(r, 1 - (1 - r["p"] * (1 - w + w * r["rms"] ** 2
                                                      / (r["rms"] ** 2 + 0.01))) * (1 - r["v"])),
        f"(1 - w) noisy-or + w max(p, v), w={w}":
            lambda r: hop_mean(r, (1 - w) * base(r) + w * np.maximum(r["p"], r["v"])),
        f"spectral peak concentration 1.5-5 Hz per hop (peak / total >= 0.5 Hz), w={w}":
            lambda r: hop_mean(r, 1 - (1 - base(r)) * (1 - w * np.minimum(4 * r["conc"], 1))),
        f"flap-band periodicity gated by a 20-mg floor only (no vigour), w={w}":
            lambda r: 1 - (1 - hop_mean(r, base(r))) * (1 - w * r["qf"] * (r["frms"] > 0.02)),
        f"energy-envelope periodicity per epoch (bursts at 1.5-5 Hz), w={w}":
            lambda r: 1 - (1 - hop_mean(r, base(r))) * (1 - w * r["qe"]),
        f"recurrence rate of the 3-D trajectory per epoch, w={w}":
            lambda r: 1 - (1 - hop_mean(r, base(r))) * (1 - w * r["rr"]),
    }


def _quiet_share(r: Wrist, floor_g: float) -> np.ndarray:
    e = 1 / (1 + np.exp(-(r["share"] - 0.65) / 0.04))
    return np.asarray(e if floor_g == 0 else e * r["b2"] / (r["b2"] + floor_g ** 2))


def _share_odds(r: Wrist, k: float) -> np.ndarray:
    s = np.clip(r["share"], 1e-3, 1 - 1e-3)
    odds = r["v"] / np.maximum(1 - r["v"], 1e-12) * (s / (1 - s)) ** k
    return np.asarray(odds / (1 + odds) * (r["v"] > 0))


def _prominence(r: Wrist, w: float) -> np.ndarray:
    return np.asarray(np.clip((r["p"] - w * r["trough"]) / (1 + w), 0, 1) * (r["p"] > 0))


def row(name: str, data: dict[str, Wrist], fn: Variant) -> str:
    left, right = data["Left-wrist"], data["Right-wrist"]
    sl, sr = fn(left), fn(right)
    cells = [_auc(left, sl), _auc(right, sr)]
    cells += [_auc(right, sr, right["child"] == c) for c in CHILDREN]
    cells += [_auc(left, sl, left["child"] == c) for c in CHILDREN]
    cells += [_auc(right, sr, None, "Rock"), _auc(right, sr, None, "Flap"),
              _auc(left, sl, None, "Flap"),
              _auc(right, sr, right["session"] == "URI-002-01-18-08")]
    return f"| {name} | " + " | ".join(f"{c:.3f}" for c in cells) + " |"


def loco(data: dict[str, Wrist], pick: Callable[[float], Variant]) -> str:
    """For each child: ``w`` chosen on the other two (mean of the wrists' pooled AUROC), then
    the held-out child's AUROC per wrist with it and with ``w = 0``."""
    parts = []
    for c in CHILDREN:
        def fit(w: float, c: str = c) -> float:
            return float(np.mean([_auc(r, pick(w)(r), r["child"] != c)
                                  for r in data.values()]))
        best = max(WEIGHTS, key=fit)
        held = [_auc(r, pick(best)(r), r["child"] == c) for r in data.values()]
        zero = [_auc(r, pick(0.0)(r), r["child"] == c) for r in data.values()]
        parts.append(f"child {c}: w = {best}, L/R {held[0]:.3f}/{held[1]:.3f} "
                     f"(w = 0: {zero[0]:.3f}/{zero[1]:.3f})")
    return "; ".join(parts)


def main() -> None:
    data = load_all()
    head = ("| variant | L pooled | R pooled | R 001 | R 002 | R 003 | L 001 | L 002 | L 003 "
            "| R Rock | R Flap | L Flap | R session 002-01-18 |")
    lines = ["# Screened rhythm_strength variants (not adopted)", "",
             "Generated by `python -m validation.rhythm_variants` (60 Hz, 5-s epochs, the "
             "labels of `validation.smm`; samples scaled to g by its sphere fit, and the "
             "shipped 30-mg gate and 8-g/s jerk reference). An extra term e enters as "
             "`1 - (1 - p)(1 - v)(1 - w e)` unless its row says otherwise (w = 0 is the "
             "shipped score); the same parameters for every child and wrist. Rows from "
             "'flap-band share' on are the third round (issue 24, right wrist).",
             "", head, "|" + "---|" * 13]
    lines.append(row("kernel rhythm_strength (today)", data, lambda r: r["kernel"]))
    lines.append(row("numpy p, v (this script's copy of the kernel)", data,
                     lambda r: hop_mean(r, 1 - (1 - r["p"]) * (1 - r["v"]))))
    for w in WEIGHTS[1:]:
        for name, fn in variants(w).items():
            lines.append(row(name, data, fn))
    lines += ["", "Leave-one-child-out choice of w (grid " + ", ".join(map(str, WEIGHTS))
              + "):", ""]
    for key in list(variants(0.0)):
        stem = key.rsplit(", w=", 1)[0]

        def pick(w: float, key: str = key) -> Variant:
            return variants(w)[key.rsplit(", w=", 1)[0] + f", w={w}"]

        lines.append(f"- {stem}: {loco(data, pick)}")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "rhythm_variants.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    sys.stdout.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
