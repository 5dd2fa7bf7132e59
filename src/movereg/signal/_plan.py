"""The feature kernel's plan: derived parameters and array sizes for (rate, epoch, config).

:func:`make_plan` validates the rate, the epoch length and the thresholds once and turns
them into the integer and float parameter vectors the kernels read (indices in
:mod:`movereg.signal._kernels.layout`), the low-pass sections, the flap-band lag weights
and the sizes of the working arrays.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from movereg.errors import ParameterError, SignalError
from movereg.signal._kernels import layout as _ly
from movereg.signal.params import FeatureConfig

__all__ = ["Plan", "flap_weights", "make_plan"]


def _as_int(value: float, what: str) -> int:
    r = round(value)
    if r < 1 or abs(value - r) > 1e-6 * max(1.0, abs(value)):
        raise ParameterError(f"{what} must be a whole number of samples, got {value:g}")
    return int(r)


def _vector(n: int, dtype: type[np.generic], slots: dict[int, float]) -> np.ndarray:
    """A parameter vector of ``n`` slots from ``{slot index: value}``; every slot of the
    layout must have its value (a forgotten one would silently read 0)."""
    if sorted(slots) != list(range(n)):
        missing = sorted(set(range(n)) - set(slots))
        raise SignalError(f"feature plan: parameter slots {missing} of {n} have no value")
    out = np.empty(n, dtype=dtype)
    for k, v in slots.items():
        out[k] = v
    return out


@dataclass(frozen=True)
class Plan:
    """Derived integer/float parameters and array sizes for one (fs, epoch, config)."""

    pi: np.ndarray
    pf: np.ndarray
    sos: np.ndarray
    zi: np.ndarray
    flapw: np.ndarray
    n10: int
    L: int
    ca: int
    cd: int
    nb: int
    lag_s: float


def make_plan(fs_hz: float, epoch_s: float, cfg: FeatureConfig) -> Plan:
    from scipy.signal import butter, sosfilt_zi

    if not (math.isfinite(fs_hz) and 1.0 <= fs_hz <= 10_000.0):
        raise ParameterError(f"sampling rate must be 1..10000 Hz, got {fs_hz!r}")
    if not (math.isfinite(epoch_s) and 0.1 <= epoch_s <= 86_400.0):
        raise ParameterError(f"epoch length must be 0.1..86400 s, got {epoch_s!r}")
    L = _as_int(epoch_s * fs_hz, f"epoch {epoch_s:g} s at {fs_hz:g} Hz")
    n10 = _as_int(epoch_s * 10.0, f"epoch {epoch_s:g} s at the 10-Hz counts rate")
    H = max(1, round(epoch_s / cfg.rhythm_hop_s))
    if L % H:
        raise ParameterError(
            f"epoch of {L} samples cannot be split into {H} hops of {cfg.rhythm_hop_s:g} s")
    hs = L // H
    hop_s = hs / fs_hz
    # decimation: the largest divisor q of the hop with fs/q >= rhythm_rate_hz
    q = 1
    for cand in range(1, hs + 1):
        if hs % cand == 0 and fs_hz / cand >= cfg.rhythm_rate_hz:
            q = cand
    rd = fs_hz / q
    B = hs // q
    nbw = max(1, round(cfg.rhythm_window_s / hop_s))
    M = max(1, round(cfg.rhythm_ma_s * rd / 2.0))
    tmax = max(2, math.floor(cfg.rhythm_max_lag_s * rd))
    tmin = max(1, math.ceil(cfg.rhythm_min_lag_s * rd - 1e-9))
    refr = max(1, round(cfg.impact_refractory_s * fs_hz))
    lb = max(1, round(cfg.nonwear_step_s * fs_hz))
    back = max(0, round(cfg.nonwear_window_s / cfg.nonwear_step_s) - 1)
    nwmin = round(cfg.nonwear_min_coverage * cfg.nonwear_window_s * fs_hz)
    if cfg.lowpass_order != 4:
        raise ParameterError("lowpass_order: only 4 (two second-order sections) is supported")
    fc = min(cfg.lowpass_hz, 0.45 * fs_hz)
    sos = np.ascontiguousarray(butter(cfg.lowpass_order, fc, fs=fs_hz, output="sos"),
                               dtype=np.float64)
    zi = np.ascontiguousarray(sosfilt_zi(sos), dtype=np.float64)
    gate_kind = {"vector_rms": 0, "resultant_sd": 1}.get(cfg.rhythm_gate)
    if gate_kind is None:
        raise ParameterError(f"rhythm_gate must be 'vector_rms' or 'resultant_sd', "
                             f"got {cfg.rhythm_gate!r}")
    pi = _vector(_ly.N_PI, np.int64, {
        _ly.PI_L: L,
        _ly.PI_H: H,
        _ly.PI_Q: q,
        _ly.PI_B: B,
        _ly.PI_NBW: nbw,
        _ly.PI_M: M,
        _ly.PI_TMIN: tmin,
        _ly.PI_TMAX: tmax,
        _ly.PI_REFR: refr,
        _ly.PI_LB: lb,
        _ly.PI_NWBACK: back,
        _ly.PI_NWMIN: nwmin,
        _ly.PI_N10: n10,
        _ly.PI_NWAXES: cfg.nonwear_min_axes,
        _ly.PI_GATE: gate_kind,
        _ly.PI_NSOS: sos.shape[0],
    })
    pf = _vector(_ly.N_PF, np.float64, {
        _ly.PF_FS: fs_hz,
        _ly.PF_CLIP: cfg.clip_g,
        _ly.PF_IMPACT: cfg.impact_g,
        _ly.PF_HARD: cfg.hard_impact_g,
        _ly.PF_POSTURE: cfg.posture_change_deg,
        _ly.PF_GATE: cfg.rhythm_gate_mg / 1000.0,
        _ly.PF_RTHR: cfg.rhythm_threshold,
        _ly.PF_MINVALID: cfg.rhythm_min_valid,
        _ly.PF_NWSD: cfg.nonwear_sd_mg / 1000.0,
        _ly.PF_NWRANGE: cfg.nonwear_range_mg / 1000.0,
        _ly.PF_RD: rd,
        _ly.PF_EPOCH_NS: epoch_s * 1e9,
        _ly.PF_EPOCH_S: epoch_s,
        _ly.PF_CUTS: cfg.light_mg,
        _ly.PF_CUTS + 1: cfg.moderate_mg,
        _ly.PF_CUTS + 2: cfg.vigorous_mg,
        # the jerk reference J as the band's second spectral moment: sum f^2 P = J^2 / (2 pi)^2
        _ly.PF_FLAPREF: (cfg.flap_jerk_ref_g_s / (2.0 * math.pi)) ** 2,
    })
    flapw = flap_weights(cfg.flap_low_hz, cfg.flap_high_hz, rd, tmax)
    ca = 2 * M + 4
    cd = nbw * B + tmax + 2
    nb = nbw + (tmax + B - 1) // B + 3
    lag_s = (nbw // 2 + 1) * hop_s + (tmax + M) / rd
    return Plan(pi, pf, sos, zi, flapw, n10, L, ca, cd, nb, lag_s)


def flap_weights(f_lo: float, f_hi: float, rate_hz: float, tmax: int) -> np.ndarray:
    """Lag weights turning autocorrelation sums into the power of ``f_lo..f_hi`` (row 0)
    and its second spectral moment (row 1, Hz^2 x power).

    Band power = sum over lags of R(tau) times the band-pass impulse response (Wiener-
    Khinchin), tapered with a Parzen lag window of ``tmax`` lags (Blackman-Tukey estimate).
    Row 1 weights the band by f^2 (Hz^2): ``int f^2 2 cos(2 pi f tau) df`` over the band, so
    ``(2 pi)^2 sum(w[1] * S)`` is the band's jerk power (the derivative's, (g/s)^2 for g).
    Returns ``w`` (2, tmax + 1) with ``share = sum(w[0] * S) / S[0]``, mean-square band
    jerk ``(2 pi)^2 sum(w[1] * S) / n`` and RMS band frequency
    ``sqrt(sum(w[1] * S) / sum(w[0] * S))`` for one-sided lag sums ``S`` over ``n`` bins.
    """
    lo = min(f_lo, rate_hz / 2.0) / rate_hz
    hi = min(f_hi, rate_hz / 2.0) / rate_hz
    tau = np.arange(tmax + 1, dtype=np.float64)
    h = np.empty(tmax + 1)
    h[0] = 2.0 * (hi - lo)
    t = tau[1:]
    h[1:] = (np.sin(2 * np.pi * hi * t) - np.sin(2 * np.pi * lo * t)) / (np.pi * t)
    g = np.empty(tmax + 1)
    g[0] = 2.0 * (hi**3 - lo**3) / 3.0
    a = 2 * np.pi * t

    def prim(f: float) -> np.ndarray:   # an antiderivative of 2 f^2 cos(a f) in f
        af = a * f
        return 2.0 * (f * f * np.sin(af) / a + 2.0 * f * np.cos(af) / a**2
                      - 2.0 * np.sin(af) / a**3)

    g[1:] = prim(hi) - prim(lo)
    u = tau / (tmax + 1)
    parzen = np.where(u <= 0.5, 1 - 6 * u**2 + 6 * u**3, 2 * (1 - u) ** 3)
    w = np.vstack([h * parzen, g * parzen * rate_hz**2])
    w[:, 1:] *= 2.0
    return np.ascontiguousarray(w)
