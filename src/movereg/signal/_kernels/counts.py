"""Numba kernels for ActiGraph-compatible activity counts (private; no validation).

Our implementation of the published ActiLife counts algorithm (Neishabouri et al., "Quantification
of acceleration as activity counts in ActiGraph wearables", Sci Rep 2022,
doi:10.1038/s41598-022-16003-x). Per axis, sample by sample, with all state held in explicit
arrays so that any chunking of a recording gives bit-identical output:

0. missing input (non-finite) -> hold the last finite value of that axis (0 g before the first);
1. optional linear interpolation from the device rate to a path rate (rates ActiLife lacks);
2. ActiLife resampling to 30 Hz: zero-stuff by ``L``, first-order IIR low-pass
   ``y[n] = a·L·(u[n] + u[n-1]) - b·y[n-1]`` (only for rates that are not 30/60/90 Hz), keep
   every ``M``-th value;
3. round to 3 decimals (``rint(x·1000)/1000``, as numpy's ``round``);
4. 7th-order band-pass IIR, direct form II transposed; the state starts at
   ``lfilter_zi(b, a) · x30[0]`` (steady state for the first 30-Hz value);
5. scale (x 17.127...), rectify, dead-band (< 4 -> 0), clip at 128, floor;
6. 30 -> 10 Hz: ``floor(sum of 3 / 3)``.

The 10-Hz integer values are the kernel output; epoch counts are sums of them.
"""

from __future__ import annotations

import math

import numpy as np

from movereg.signal._jit import jit

__all__ = [
    "BPF_A",
    "BPF_B",
    "N_FSTATE",
    "N_ISTATE",
    "counts_push",
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

# integer state, per axis (row): indices
_I_NIN = 0  # inputs consumed by the interpolator
_I_JOUT = 1  # index of the next interpolated output
_I_PHASE = 2  # position of the next zero-stuffed value modulo M
_I_STARTED = 3  # 1 once the band-pass has been initialised
_I_NACC = 4  # number of values in the current group of 3
N_ISTATE = 5


def new_state() -> tuple[np.ndarray, np.ndarray]:
    """Fresh stream state: ``(fstate float64 (3, N_FSTATE), istate int64 (3, N_ISTATE))``."""
    return np.zeros((3, N_FSTATE), dtype=np.float64), np.zeros((3, N_ISTATE), dtype=np.int64)


_ROUND_MAGIC = 6755399441055744.0  # 1.5·2**52: v + M - M rounds v half-to-even (|v| < 2**51)


@jit
def _rint(v: float) -> float:
    """Round half to even, bit-identical to ``numpy.rint`` (faster than it under Numba)."""
    if abs(v) < 2251799813685248.0:  # 2**51
        return (v + _ROUND_MAGIC) - _ROUND_MAGIC
    return v


@jit
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
    n = samples.shape[0]
    k_rows = 0
    z = np.empty(7, dtype=np.float64)
    for ax in range(3):
        # state -> locals (kept in registers in the hot loop)
        last = fstate[ax, _F_LAST]
        prev = fstate[ax, _F_PREV]
        u_prev = fstate[ax, _F_UPREV]
        y_prev = fstate[ax, _F_YLPF]
        acc = fstate[ax, _F_ACC]
        for i in range(7):
            z[i] = fstate[ax, _F_Z + i]
        n_in = istate[ax, _I_NIN]
        j = istate[ax, _I_JOUT]
        phase = istate[ax, _I_PHASE]
        started = istate[ax, _I_STARTED]
        nacc = istate[ax, _I_NACC]
        k = 0
        for r in range(n):
            x = samples[r, ax]
            if math.isfinite(x):
                last = x
            else:
                x = last
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
                        v = prev + (x - prev) * (rem / iq)
                    else:
                        break
                    j += 1
                else:
                    if done:
                        break
                    v = x
                    done = True
                # 2. ActiLife resampling to 30 Hz: zero-stuff by `up`, IIR low-pass, keep 1/down
                for i in range(up):
                    u = v if i == 0 else 0.0
                    if lpf:
                        y = a_l * (u + u_prev) - b_lpf * y_prev
                        u_prev = u
                        y_prev = y
                    else:
                        y = u
                    if phase == 0:
                        # 3. round to 1 mg
                        x30 = _rint(y * 1000.0) / 1000.0
                        # 4. band-pass, direct form II transposed (scipy.signal.lfilter order)
                        if started == 0:
                            for q in range(7):
                                z[q] = zi[q] * x30
                            started = 1
                        yb = z[0] + b[0] * x30
                        for q in range(6):
                            z[q] = z[q + 1] + x30 * b[q + 1] - yb * a[q + 1]
                        z[6] = x30 * b[7] - yb * a[7]
                        # 5. scale, rectify, dead-band, clip, floor
                        t = abs(scale * yb)
                        if t < 4.0:
                            t = 0.0
                        elif t > 128.0:
                            t = 128.0
                        else:
                            t = np.floor(t)
                        # 6. 30 -> 10 Hz: floor(mean of 3)
                        acc += t
                        nacc += 1
                        if nacc == 3:
                            out[k, ax] = np.int64(np.floor(acc / 3.0))
                            k += 1
                            acc = 0.0
                            nacc = 0
                    phase += 1
                    if phase == down:
                        phase = 0
            prev = x
            n_in += 1
        fstate[ax, _F_LAST] = last
        fstate[ax, _F_PREV] = prev
        fstate[ax, _F_UPREV] = u_prev
        fstate[ax, _F_YLPF] = y_prev
        fstate[ax, _F_ACC] = acc
        for i in range(7):
            fstate[ax, _F_Z + i] = z[i]
        istate[ax, _I_NIN] = n_in
        istate[ax, _I_JOUT] = j
        istate[ax, _I_PHASE] = phase
        istate[ax, _I_STARTED] = started
        istate[ax, _I_NACC] = nacc
        k_rows = k
    return k_rows
