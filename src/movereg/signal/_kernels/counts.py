"""Numba kernels for ActiGraph-compatible activity counts (private; no validation).

Our implementation of the published ActiLife counts algorithm (Neishabouri et al., "Quantification
of acceleration as activity counts in ActiGraph wearables", Sci Rep 2022,
doi:10.1038/s41598-022-16003-x). Per axis, sample by sample, with all state held in explicit
arrays so that any chunking of a recording gives bit-identical output:

0. missing input (non-finite) -> hold the last finite value of that axis (0 g before the
   first; :func:`_held`);
1. optional linear interpolation from the device rate to a path rate (rates ActiLife lacks;
   :func:`_lerp`);
2. ActiLife resampling to 30 Hz: zero-stuff by ``L``, first-order IIR low-pass
   ``y[n] = a·L·(u[n] + u[n-1]) - b·y[n-1]`` (only for rates that are not 30/60/90 Hz;
   :func:`_lowpass`), keep every ``M``-th value; with ``L = 3`` (every such rate) the
   three outputs of a sample are computed from the previous one in closed form (a
   shorter recursive path; :func:`_lowpass3`);
3. round to 1 mg, ties away from zero, then back to g by ``x 0.001`` (a multiply, within
   an ulp of a division by 1000; the counts are identical on every reference recording;
   :func:`_to_mg`);
4. 7th-order band-pass IIR, direct form II transposed; the state starts at
   ``lfilter_zi(b, a) · x30[0]`` (steady state for the first 30-Hz value;
   :func:`_bpf_start`, :func:`_bpf_count`);
5. scale (x 17.127...), rectify, dead-band (< 4 -> 0), clip at 128, floor;
6. 30 -> 10 Hz: ``floor(sum of 3 / 3)`` (:func:`_put_10hz`).

:func:`counts_push` runs these steps sample by sample; each step is a small helper
inlined at the Numba IR level, passing one value per axis as a 3-tuple (``Axes``), so
the kernel compiles as if written out (the three axes' values stay in registers).

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
_F_LAST = 0  # the last sample, missing values held (g)
_F_UPREV = 1  # previous zero-stuffed value u[n-1]
_F_YLPF = 2  # previous low-pass output y[n-1]
_F_ACC = 3  # sum of trimmed 30-Hz values in the current group of 3
_F_Z = 4  # 7 band-pass delay registers: 4..10
N_FSTATE = 11

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


Axes = tuple[float, float, float]  # one value per axis (x, y, z)
_ZERO: Axes = (0.0, 0.0, 0.0)


@jit_fma_inline
def _axes(fstate: np.ndarray, slot: int) -> Axes:
    """One float state slot (an ``_F_*`` index) of the three axes."""
    return fstate[0, slot], fstate[1, slot], fstate[2, slot]


@jit_fma_inline
def _set_axes(fstate: np.ndarray, slot: int, v: Axes) -> None:
    """Store one float state slot (an ``_F_*`` index) of the three axes."""
    fstate[0, slot] = v[0]
    fstate[1, slot] = v[1]
    fstate[2, slot] = v[2]


@jit_fma_inline
def _float_state(fstate: np.ndarray) -> tuple[np.ndarray, Axes, Axes, Axes, Axes]:
    """``(z, last, u_prev, yp, acc)``: band-pass delay registers (3, 7), the last sample
    (g), the low-pass's previous input and output (g) and the group-of-3 sums (counts)."""
    z = np.empty((3, 7), dtype=np.float64)
    for ax in range(3):
        for i in range(7):
            z[ax, i] = fstate[ax, _F_Z + i]
    return (z, _axes(fstate, _F_LAST), _axes(fstate, _F_UPREV), _axes(fstate, _F_YLPF),
            _axes(fstate, _F_ACC))


@jit_fma_inline
def _set_float_state(fstate: np.ndarray, z: np.ndarray, last: Axes, u_prev: Axes,
                     yp: Axes, acc: Axes) -> None:
    """Store what :func:`_float_state` loads."""
    for ax in range(3):
        for i in range(7):
            fstate[ax, _F_Z + i] = z[ax, i]
    _set_axes(fstate, _F_LAST, last)
    _set_axes(fstate, _F_UPREV, u_prev)
    _set_axes(fstate, _F_YLPF, yp)
    _set_axes(fstate, _F_ACC, acc)


@jit_fma_inline
def _index_state(istate: np.ndarray) -> tuple[int, int, int, int, int, int]:
    """``(n_in, j, phase, started, nacc, n_out)``: the ``I_*`` values (axis 0's row)."""
    return (istate[0, I_NIN], istate[0, _I_JOUT], istate[0, _I_PHASE],
            istate[0, _I_STARTED], istate[0, _I_NACC], istate[0, I_NOUT])


@jit_fma_inline
def _set_index_state(istate: np.ndarray, n_in: int, j: int, phase: int, started: int,
                     nacc: int, n_out: int) -> None:
    """Store what :func:`_index_state` loads, in every axis' row."""
    for ax in range(3):
        istate[ax, I_NIN] = n_in
        istate[ax, _I_JOUT] = j
        istate[ax, _I_PHASE] = phase
        istate[ax, _I_STARTED] = started
        istate[ax, _I_NACC] = nacc
        istate[ax, I_NOUT] = n_out


@jit_fma_inline
def _held(samples: np.ndarray, r: int, last: Axes) -> Axes:
    """Row ``r`` of ``samples`` (g), a non-finite value replaced by the axis' ``last`` (g)."""
    x0 = samples[r, 0]
    x1 = samples[r, 1]
    x2 = samples[r, 2]
    if not math.isfinite(x0):
        x0 = last[0]
    if not math.isfinite(x1):
        x1 = last[1]
    if not math.isfinite(x2):
        x2 = last[2]
    return x0, x1, x2


@jit_fma_inline
def _lerp(p: Axes, x: Axes, w: float) -> Axes:
    """``p + (x - p)·w`` per axis (g): the value at fraction ``w`` of the way to ``x``."""
    return p[0] + (x[0] - p[0]) * w, p[1] + (x[1] - p[1]) * w, p[2] + (x[2] - p[2]) * w


@jit_fma_inline
def _lowpass(u: Axes, u_prev: Axes, yp: Axes, a_l: float, b_lpf: float) -> Axes:
    """One step of ActiLife's resampling low-pass per axis (g):
    ``y[n] = a·L·(u[n] + u[n-1]) - b·y[n-1]``."""
    return (a_l * (u[0] + u_prev[0]) - b_lpf * yp[0],
            a_l * (u[1] + u_prev[1]) - b_lpf * yp[1],
            a_l * (u[2] + u_prev[2]) - b_lpf * yp[2])


@jit_fma_inline
def _lowpass3_axis(g: float, yp: float, b_lpf: float) -> Axes:
    """The three low-pass outputs (g) of one value zero-stuffed by 3 with ``u[n-1] = 0``,
    in closed form from the previous output ``yp`` (``g = a·L·v``):
    ``y_0 = g - b·yp``, ``y_1 = g·(1 - b) + b²·yp``, ``y_2 = -b·g·(1 - b) - b³·yp``."""
    c1 = 1.0 - b_lpf
    b2 = b_lpf * b_lpf
    return g - b_lpf * yp, g * c1 + b2 * yp, g * (-b_lpf * c1) - (b2 * b_lpf) * yp


@jit_fma_inline
def _lowpass3(v: Axes, yp: Axes, a_l: float, b_lpf: float) -> tuple[Axes, Axes, Axes]:
    """:func:`_lowpass3_axis` of the three axes: the outputs ``(y_0, y_1, y_2)`` (g, each
    one value per axis) of path-rate value ``v`` (g).

    The recursive path is one multiply-add per value instead of three dependent
    multiply-subtracts (this low-pass is latency-bound); rounding differs from the
    step-by-step form (:func:`_lowpass`) by ~1e-16 relative.
    """
    ya0, yb0, yc0 = _lowpass3_axis(a_l * v[0], yp[0], b_lpf)
    ya1, yb1, yc1 = _lowpass3_axis(a_l * v[1], yp[1], b_lpf)
    ya2, yb2, yc2 = _lowpass3_axis(a_l * v[2], yp[2], b_lpf)
    return (ya0, ya1, ya2), (yb0, yb1, yb2), (yc0, yc1, yc2)


@jit_fma_inline
def _to_mg(y: Axes) -> Axes:
    """Round to 1 mg, ties away from zero, and back to g (``x 0.001``) per axis.

    At 30 Hz the device's 1/256 g steps hit ties (odd multiples of 1/16 g), and ActiLife's
    counts on R3 follow this rule there (half to even misses 0.7% of its epochs);
    x 0.001, not / 1000: three divisions per value were a fifth of the kernel's time.
    """
    return (_round_half_away(y[0] * 1000.0) * 0.001,
            _round_half_away(y[1] * 1000.0) * 0.001,
            _round_half_away(y[2] * 1000.0) * 0.001)


@jit_fma_inline
def _bpf_start(z: np.ndarray, zi: np.ndarray, w: Axes) -> None:
    """Band-pass delay registers in steady state for the first 30-Hz value ``w`` (g):
    ``lfilter_zi · w`` per axis."""
    for q in range(7):
        z[0, q] = zi[q] * w[0]
        z[1, q] = zi[q] * w[1]
        z[2, q] = zi[q] * w[2]


@jit_fma_inline
def _bpf_count(z: np.ndarray, ax: int, x30: float, b: np.ndarray, a: np.ndarray,
               scale: float) -> float:
    """One 30-Hz value (g) through axis ``ax``'s band-pass (direct form II transposed, as
    scipy.signal.lfilter), then scale, rectify, dead-band (< 4 -> 0), clip at 128, floor:
    one 30-Hz count (0..128).
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


@jit_fma_inline
def _add_counts(acc: Axes, z: np.ndarray, w: Axes, b: np.ndarray, a: np.ndarray,
                scale: float) -> Axes:
    """``acc`` plus the 30-Hz counts of value ``w`` (g) per axis (:func:`_bpf_count`)."""
    return (acc[0] + _bpf_count(z, 0, w[0], b, a, scale),
            acc[1] + _bpf_count(z, 1, w[1], b, a, scale),
            acc[2] + _bpf_count(z, 2, w[2], b, a, scale))


@jit_fma_inline
def _put_10hz(out: np.ndarray, k: int, acc: Axes) -> None:
    """Row ``k`` of ``out``: the 10-Hz values ``floor(sum of 3 / 3)`` (counts) per axis."""
    out[k, 0] = np.int64(np.floor(acc[0] / 3.0))
    out[k, 1] = np.int64(np.floor(acc[1] / 3.0))
    out[k, 2] = np.int64(np.floor(acc[2] / 3.0))


@jit_fma
def counts_push(samples: np.ndarray, interp: bool, ip: int, iq: int, up: int, down: int,
                lpf: bool, a_l: float, b_lpf: float, b: np.ndarray, a: np.ndarray,
                zi: np.ndarray, scale: float, fstate: np.ndarray, istate: np.ndarray,
                out: np.ndarray) -> int:
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
    # The three axes run interleaved, sample by sample (one value per axis, ``Axes``):
    # each axis performs exactly the operations of a per-axis pass, in the same order, but
    # the three recursive filter chains overlap in the CPU instead of running one after
    # another (the low-pass chain is latency-bound). The index state (interpolator, phase,
    # groups of 3) is the same for every axis.
    z, last, u_prev, yp, acc = _float_state(fstate)
    n_in, j, phase, started, nacc, n_out = _index_state(istate)
    k = 0
    # the closed-form low-pass (_lowpass3) needs u[n-1] = 0, true from the stream's start
    look3 = lpf and up == 3 and u_prev == _ZERO
    for r in range(samples.shape[0]):
        x = _held(samples, r, last)
        done = False
        while True:
            # 1. value at the path rate: x itself, or 0..k interpolated values
            if interp:
                num = j * ip
                idx = num // iq
                rem = num - idx * iq
                if idx == n_in and rem == 0:
                    v = x
                elif idx == n_in - 1:
                    v = _lerp(last, x, rem / iq)
                else:
                    break
                j += 1
            elif done:
                break
            else:
                v = x
                done = True
            # 2. ActiLife resampling to 30 Hz: zero-stuff by `up`, IIR low-pass, keep 1/down
            if look3:
                ya, yb, yp = _lowpass3(v, yp, a_l, b_lpf)
            for i in range(up):
                if look3:
                    y = ya if i == 0 else yb if i == 1 else yp
                else:
                    u = v if i == 0 else _ZERO
                    if lpf:
                        y = yp = _lowpass(u, u_prev, yp, a_l, b_lpf)
                        u_prev = u
                    else:
                        y = u
                if phase == 0:
                    # 3. 1-mg rounding; 4.-5. band-pass, scale, rectify, dead-band, clip,
                    # floor; 6. 30 -> 10 Hz: floor(mean of 3). Keep these calls here: one
                    # helper for all of it (band-pass start inside) ran 3-4x slower.
                    w = _to_mg(y)
                    if started == 0:
                        _bpf_start(z, zi, w)
                        started = 1
                    acc = _add_counts(acc, z, w, b, a, scale)
                    nacc += 1
                    if nacc == 3:
                        _put_10hz(out, k, acc)
                        k += 1
                        acc = _ZERO
                        nacc = 0
                phase += 1
                if phase == down:
                    phase = 0
        last = x
        n_in += 1
    _set_float_state(fstate, z, last, u_prev, yp, acc)
    _set_index_state(istate, n_in, j, phase, started, nacc, n_out + k)
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
