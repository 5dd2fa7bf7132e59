"""Numba kernels for ActiGraph-compatible activity counts (private; no validation).

Our implementation of the published ActiLife counts algorithm (Neishabouri et al., "Quantification
of acceleration as activity counts in ActiGraph wearables", Sci Rep 2022,
doi:10.1038/s41598-022-16003-x). Per axis, sample by sample, with all state held in explicit
arrays so that any chunking of a recording gives bit-identical output:

0. missing input (non-finite) -> hold the last finite value of that axis (0 g before the first);
1. optional linear interpolation from the device rate to a path rate (rates ActiLife lacks);
2. ActiLife resampling to 30 Hz: zero-stuff by ``L``, first-order IIR low-pass
   ``y[n] = a·L·(u[n] + u[n-1]) - b·y[n-1]`` (only for rates that are not 30/60/90 Hz), keep
   every ``M``-th value; with ``L = 3`` (every such rate) the three outputs of a sample are
   computed from the previous one in closed form (a shorter recursive path);
3. round to 1 mg, ties away from zero, then back to g by ``x 0.001`` (a multiply, within
   an ulp of a division by 1000; the counts are identical on every reference recording);
4. 7th-order band-pass IIR, direct form II transposed; the state starts at
   ``lfilter_zi(b, a) · x30[0]`` (steady state for the first 30-Hz value);
5. scale (x 17.127...), rectify, dead-band (< 4 -> 0), clip at 128, floor;
6. 30 -> 10 Hz: ``floor(sum of 3 / 3)``.

The 10-Hz integer values are the kernel output; epoch counts are sums of them.
"""

from __future__ import annotations

import math

import numpy as np

from movereg.signal._jit import jit, jit_fma, jit_fma_inline

__all__ = [
    "BPF_A",
    "BPF_B",
    "I_NIN",
    "I_NOUT",
    "N_FSTATE",
    "N_ISTATE",
    "counts_push",
    "counts_push_packed",
    "new_state",
]

#: Band-pass numerator (b) coefficients, 30 Hz, from the published algorithm.
BPF_B = np.array(
    [
        -0.009341062898525,
        -0.025470289659360,
        -0.004235264826105,
        0.044152415456420,
        0.036493718347760,
        -0.011893961934740,
        -0.022917390623150,
        -0.006788163862310,
    ]
)
#: Band-pass denominator (a) coefficients, 30 Hz, from the published algorithm.
BPF_A = np.array(
    [
        1.0,
        -3.63367395910957,
        5.03689812757486,
        -3.09612247819666,
        0.50620507633883,
        0.32421701566682,
        -0.15685485875559,
        0.01949130205890,
    ]
)
BPF_B.setflags(write=False)
BPF_A.setflags(write=False)

# float state, per axis (row): indices
_F_LAST = 0  # last finite input value (g)
_F_PREV = 1  # previous input value for the interpolator (g)
_F_UPREV = 2  # previous zero-stuffed value u[n-1]
_F_YLPF = 3  # previous low-pass output y[n-1]
_F_ACC = 4  # sum of trimmed 30-Hz values in the current group of 3
_F_Z = 5  # 7 band-pass delay registers: 5..11
N_FSTATE = 12

# integer state, per axis (row): indices (the same value in every row)
I_NIN = 0  # raw samples consumed
_I_JOUT = 1  # index of the next interpolated output
_I_PHASE = 2  # position of the next zero-stuffed value modulo M
_I_STARTED = 3  # 1 once the band-pass has been initialised
_I_NACC = 4  # number of values in the current group of 3
I_NOUT = 5  # 10-Hz values written
N_ISTATE = 6


def new_state() -> tuple[np.ndarray, np.ndarray]:
    """Fresh stream state: ``(fstate float64 (3, N_FSTATE), istate int64 (3, N_ISTATE))``."""
    return np.zeros((3, N_FSTATE), dtype=np.float64), np.zeros((3, N_ISTATE), dtype=np.int64)


_ROUND_MAGIC = 6755399441055744.0  # 1.5·2**52: v + M - M rounds v half to even (|v| < 2**51)


@jit
def _round_half_away(v: float) -> float:
    """Round to the nearest whole number, ties away from zero (ActiLife's 1 mg rounding).

    Compiled without multiply-add fusion (plain :func:`jit`), also when inlined into the
    fused counts kernel: ``v`` must be the rounded product the caller computed.

    Half-to-even by the magic-number trick (fast), then a tie (``v - r`` is exactly
    ±0.5, an exact subtraction) is moved away from zero; ``|v| < 2**51`` (values in mg).
    """
    r = (v + _ROUND_MAGIC) - _ROUND_MAGIC
    if abs(v - r) == 0.5:
        r = v + math.copysign(0.5, v)
    return r


@jit_fma_inline
def _bpf_count(z: np.ndarray, ax: int, x30: float, b: np.ndarray, a: np.ndarray,
               scale: float) -> float:
    """One 30-Hz value through axis ``ax``'s band-pass (direct form II transposed, as
    scipy.signal.lfilter), then scale, rectify, dead-band (< 4 -> 0), clip at 128, floor.
    """
    yb = z[ax, 0] + b[0] * x30
    for q in range(6):
        z[ax, q] = z[ax, q + 1] + x30 * b[q + 1] - yb * a[q + 1]
    z[ax, 6] = x30 * b[7] - yb * a[7]
    t = abs(scale * yb)
    if t < 4.0:
        return 0.0
    if t > 128.0:
        return 128.0
    return float(np.floor(t))


@jit_fma
def counts_push(
    samples: np.ndarray,
    interp: bool,
    ip: int,
    iq: int,
    up: int,
    down: int,
    lpf: bool,
    a_l: float,
    b_lpf: float,
    b: np.ndarray,
    a: np.ndarray,
    zi: np.ndarray,
    scale: float,
    fstate: np.ndarray,
    istate: np.ndarray,
    out: np.ndarray,
) -> int:
    """Push raw samples (n, 3) g through the counts pipeline; write finished 10-Hz values.

    Parameters
    ----------
    samples
        float64 (n, 3) in g; non-finite values are missing (held at the last finite value).
    interp, ip, iq
        Linear interpolation to the path rate when ``interp``: output ``j`` sits at input
        position ``j·ip/iq`` (``ip/iq`` = device rate / path rate, exact integers).
    up, down, lpf, a_l, b_lpf
        ActiLife resampling factors L, M, whether the low-pass runs, ``a·L`` and ``b``.
    b, a, zi
        Band-pass coefficients (8 each) and ``lfilter_zi`` (7).
    scale
        Counts scale factor.
    fstate, istate
        Stream state (updated in place), see :func:`new_state`.
    out
        int64 (k_max, 3) buffer for the 10-Hz values; must hold every value this chunk
        finishes.

    Returns
    -------
    int
        Number of 10-Hz rows written (the same for every axis).
    """
    # The three axes run interleaved, sample by sample: each axis performs exactly the
    # operations of a per-axis pass, in the same order, but the three recursive filter
    # chains overlap in the CPU instead of running one after another (the low-pass chain
    # is latency-bound). The index state (interpolator, phase, groups of 3) is the same for
    # every axis: it is read from axis 0 and written to all three.
    n = samples.shape[0]
    z = np.empty((3, 7), dtype=np.float64)
    for ax in range(3):
        for i in range(7):
            z[ax, i] = fstate[ax, _F_Z + i]
    last0 = fstate[0, _F_LAST]
    last1 = fstate[1, _F_LAST]
    last2 = fstate[2, _F_LAST]
    prev0 = fstate[0, _F_PREV]
    prev1 = fstate[1, _F_PREV]
    prev2 = fstate[2, _F_PREV]
    up0 = fstate[0, _F_UPREV]
    up1 = fstate[1, _F_UPREV]
    up2 = fstate[2, _F_UPREV]
    yp0 = fstate[0, _F_YLPF]
    yp1 = fstate[1, _F_YLPF]
    yp2 = fstate[2, _F_YLPF]
    acc0 = fstate[0, _F_ACC]
    acc1 = fstate[1, _F_ACC]
    acc2 = fstate[2, _F_ACC]
    n_in = istate[0, I_NIN]
    j = istate[0, _I_JOUT]
    phase = istate[0, _I_PHASE]
    started = istate[0, _I_STARTED]
    nacc = istate[0, _I_NACC]
    n_out = istate[0, I_NOUT]
    k = 0
    # the look-ahead low-pass (see below) needs u[n-1] = 0, true from the stream's start
    look3 = lpf and up == 3 and up0 == 0.0 and up1 == 0.0 and up2 == 0.0
    c1 = 1.0 - b_lpf
    c2 = -b_lpf * c1
    b2 = b_lpf * b_lpf
    b3 = b2 * b_lpf
    for r in range(n):
        x0 = samples[r, 0]
        x1 = samples[r, 1]
        x2 = samples[r, 2]
        if math.isfinite(x0):
            last0 = x0
        else:
            x0 = last0
        if math.isfinite(x1):
            last1 = x1
        else:
            x1 = last1
        if math.isfinite(x2):
            last2 = x2
        else:
            x2 = last2
        done = False
        while True:
            # 1. value at the path rate: x itself, or 0..k interpolated values
            if interp:
                num = j * ip
                idx = num // iq
                rem = num - idx * iq
                if idx == n_in and rem == 0:
                    v0 = x0
                    v1 = x1
                    v2 = x2
                elif idx == n_in - 1:
                    w = rem / iq
                    v0 = prev0 + (x0 - prev0) * w
                    v1 = prev1 + (x1 - prev1) * w
                    v2 = prev2 + (x2 - prev2) * w
                else:
                    break
                j += 1
            else:
                if done:
                    break
                v0 = x0
                v1 = x1
                v2 = x2
                done = True
            # 2. ActiLife resampling to 30 Hz: zero-stuff by `up`, IIR low-pass, keep 1/down
            if look3:
                # up = 3: the stuffed values are (v, 0, 0) and u[n-1] = 0 (the previous
                # sample's last zero), so all three outputs follow from y[n-1] directly:
                # y_0 = g - b·y, y_1 = g·(1 - b) + b²·y, y_2 = -b·g·(1 - b) - b³·y with
                # g = a·L·v. The recursive path is one multiply-add per sample instead of
                # three dependent multiply-subtracts (this low-pass is latency-bound);
                # rounding differs from the step-by-step form by ~1e-16 relative.
                g0 = a_l * v0
                g1 = a_l * v1
                g2 = a_l * v2
                ya0 = g0 - b_lpf * yp0
                ya1 = g1 - b_lpf * yp1
                ya2 = g2 - b_lpf * yp2
                yb0 = g0 * c1 + b2 * yp0
                yb1 = g1 * c1 + b2 * yp1
                yb2 = g2 * c1 + b2 * yp2
                yp0 = g0 * c2 - b3 * yp0
                yp1 = g1 * c2 - b3 * yp1
                yp2 = g2 * c2 - b3 * yp2
            for i in range(up):
                if look3:
                    if i == 0:
                        y0 = ya0
                        y1 = ya1
                        y2 = ya2
                    elif i == 1:
                        y0 = yb0
                        y1 = yb1
                        y2 = yb2
                    else:
                        y0 = yp0
                        y1 = yp1
                        y2 = yp2
                else:
                    if i == 0:
                        u0 = v0
                        u1 = v1
                        u2 = v2
                    else:
                        u0 = 0.0
                        u1 = 0.0
                        u2 = 0.0
                    if lpf:
                        y0 = a_l * (u0 + up0) - b_lpf * yp0
                        y1 = a_l * (u1 + up1) - b_lpf * yp1
                        y2 = a_l * (u2 + up2) - b_lpf * yp2
                        up0 = u0
                        up1 = u1
                        up2 = u2
                        yp0 = y0
                        yp1 = y1
                        yp2 = y2
                    else:
                        y0 = u0
                        y1 = u1
                        y2 = u2
                if phase == 0:
                    # 3. round to 1 mg, ties away from zero: at 30 Hz the device's 1/256 g
                    # steps hit ties (odd multiples of 1/16 g), and ActiLife's counts on
                    # R3 follow this rule there (half to even misses 0.7% of its epochs);
                    # x 0.001, not / 1000: three divisions per value were a fifth of the
                    # kernel's time
                    w0 = _round_half_away(y0 * 1000.0) * 0.001
                    w1 = _round_half_away(y1 * 1000.0) * 0.001
                    w2 = _round_half_away(y2 * 1000.0) * 0.001
                    if started == 0:
                        for q in range(7):
                            z[0, q] = zi[q] * w0
                            z[1, q] = zi[q] * w1
                            z[2, q] = zi[q] * w2
                        started = 1
                    # 4.-5. band-pass, scale, rectify, dead-band, clip, floor
                    acc0 += _bpf_count(z, 0, w0, b, a, scale)
                    acc1 += _bpf_count(z, 1, w1, b, a, scale)
                    acc2 += _bpf_count(z, 2, w2, b, a, scale)
                    # 6. 30 -> 10 Hz: floor(mean of 3)
                    nacc += 1
                    if nacc == 3:
                        out[k, 0] = np.int64(np.floor(acc0 / 3.0))
                        out[k, 1] = np.int64(np.floor(acc1 / 3.0))
                        out[k, 2] = np.int64(np.floor(acc2 / 3.0))
                        k += 1
                        acc0 = 0.0
                        acc1 = 0.0
                        acc2 = 0.0
                        nacc = 0
                phase += 1
                if phase == down:
                    phase = 0
        prev0 = x0
        prev1 = x1
        prev2 = x2
        n_in += 1
    fstate[0, _F_LAST] = last0
    fstate[1, _F_LAST] = last1
    fstate[2, _F_LAST] = last2
    fstate[0, _F_PREV] = prev0
    fstate[1, _F_PREV] = prev1
    fstate[2, _F_PREV] = prev2
    fstate[0, _F_UPREV] = up0
    fstate[1, _F_UPREV] = up1
    fstate[2, _F_UPREV] = up2
    fstate[0, _F_YLPF] = yp0
    fstate[1, _F_YLPF] = yp1
    fstate[2, _F_YLPF] = yp2
    fstate[0, _F_ACC] = acc0
    fstate[1, _F_ACC] = acc1
    fstate[2, _F_ACC] = acc2
    for ax in range(3):
        for i in range(7):
            fstate[ax, _F_Z + i] = z[ax, i]
        istate[ax, I_NIN] = n_in
        istate[ax, _I_JOUT] = j
        istate[ax, _I_PHASE] = phase
        istate[ax, _I_STARTED] = started
        istate[ax, _I_NACC] = nacc
        istate[ax, I_NOUT] = n_out + k
    return k


# packed parameters for counts_push_packed
IP_INTERP = 0
IP_IP = 1
IP_IQ = 2
IP_UP = 3
IP_DOWN = 4
IP_LPF = 5
N_IPAR = 6
FP_AL = 0
FP_BLPF = 1
FP_SCALE = 2
N_FPAR = 3
N_COEF = 23         # band-pass b (8), a (8), zi (7)


@jit
def counts_push_packed(samples: np.ndarray, ipar: np.ndarray, fpar: np.ndarray,
                       coef: np.ndarray, fstate: np.ndarray, istate: np.ndarray,
                       out: np.ndarray) -> int:
    """:func:`counts_push` with its parameters packed into three arrays.

    ``ipar`` int64 (interp, ip, iq, up, down, lpf), ``fpar`` float64 (a·L, b, scale),
    ``coef`` float64 (b[8], a[8], zi[7]). Seven arguments instead of sixteen: a Python
    call pays for unboxing each one (~0.4 us per 1-s streaming push saved).
    """
    return counts_push(samples, ipar[IP_INTERP] != 0, ipar[IP_IP], ipar[IP_IQ],
                       ipar[IP_UP], ipar[IP_DOWN], ipar[IP_LPF] != 0, fpar[FP_AL],
                       fpar[FP_BLPF], coef[0:8], coef[8:16], coef[16:23], fpar[FP_SCALE],
                       fstate, istate, out)
