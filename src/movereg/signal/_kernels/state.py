"""Named accessors of the feature kernel's state: one getter and one setter per group.

The per-sample loop of stream A (:func:`movereg.signal._kernels.engine._stream_a`) keeps
its running quantities in local variables (registers) for a whole call: it reads them
from the stores once, and writes them back at epoch / non-wear step boundaries and at the
end. Each group of state is read and written here, in one place, under its name, so the
loop never spells out store slots (the ``S_*`` / ``F_*`` / ``NW_*`` indices of
:mod:`.layout`):

=====================  ==================================================================
``epoch_acc``          the current epoch's counters and sums (``si``/``sf``)
``detector``           low-pass started, previous sample valid, impact detectors (``si``)
``vec3``               a three-axis float slot of ``sf`` (last sample, low-passed, sums)
``nw_acc``             the current non-wear step's aggregates (row 0 of ``nw``)
``lowpass_state``      one axis's two second-order low-pass sections (``zs``)
=====================  ==================================================================

All helpers are inlined at the Numba IR level, so the loop compiles as if written out.
"""

from __future__ import annotations

import numpy as np

from movereg.signal._jit import jit_fma_inline
from movereg.signal._kernels.layout import (
    F_EPENMO,
    F_EPJERK,
    F_EPSUM,
    N_NW,
    NW_MN,
    NW_MX,
    NW_N,
    NW_S,
    NW_SS,
    S_ABOVE,
    S_ABOVEH,
    S_EPCLIP,
    S_EPHARD,
    S_EPIMP,
    S_EPN,
    S_EPNJ,
    S_EPPOST,
    S_FINIT,
    S_LASTHARD,
    S_LASTIMP,
    S_NWFILL,
    S_NWPOS,
    S_PREVVALID,
)

__all__ = ["detector", "epoch_acc", "lowpass", "lowpass_coefs", "lowpass_start",
           "lowpass_state", "nw_acc", "nw_add", "nw_empty", "nw_push_step", "set_detector",
           "set_epoch_acc", "set_lowpass_state", "set_nw_acc", "set_vec3", "vec3"]

# --- the current epoch ----------------------------------------------------------------------


@jit_fma_inline
def epoch_acc(si: np.ndarray, sf: np.ndarray) -> tuple[int, int, int, int, int, int,
                                                      float, float, float, float, float]:
    """``(valid samples, jerk values, impacts, hard impacts, clipped samples, posture
    changes, ENMO sum (g), jerk sum (g/s), vector sum x, y, z (g))`` of the current epoch."""
    return (si[S_EPN], si[S_EPNJ], si[S_EPIMP], si[S_EPHARD], si[S_EPCLIP], si[S_EPPOST],
            sf[F_EPENMO], sf[F_EPJERK], sf[F_EPSUM], sf[F_EPSUM + 1], sf[F_EPSUM + 2])


@jit_fma_inline
def set_epoch_acc(si: np.ndarray, sf: np.ndarray, n: int, nj: int, nimp: int, nhard: int,
                  nclip: int, npost: int, enmo: float, jsum: float, ex: float, ey: float,
                  ez: float) -> None:
    """Store the current epoch's counters and sums (see :func:`epoch_acc`)."""
    si[S_EPN] = n
    si[S_EPNJ] = nj
    si[S_EPIMP] = nimp
    si[S_EPHARD] = nhard
    si[S_EPCLIP] = nclip
    si[S_EPPOST] = npost
    sf[F_EPENMO] = enmo
    sf[F_EPJERK] = jsum
    set_vec3(sf, F_EPSUM, ex, ey, ez)


# --- per-sample detectors -------------------------------------------------------------------


@jit_fma_inline
def detector(si: np.ndarray) -> tuple[int, int, int, int, int, int]:
    """``(low-pass started, previous sample valid, last impact index, last hard impact
    index, above the impact threshold, above the hard threshold)``."""
    return (si[S_FINIT], si[S_PREVVALID], si[S_LASTIMP], si[S_LASTHARD], si[S_ABOVE],
            si[S_ABOVEH])


@jit_fma_inline
def set_detector(si: np.ndarray, finit: int, prevvalid: int, lastimp: int, lasthard: int,
                 above: int, aboveh: int) -> None:
    """Store the per-sample detector state (see :func:`detector`)."""
    si[S_FINIT] = finit
    si[S_PREVVALID] = prevvalid
    si[S_LASTIMP] = lastimp
    si[S_LASTHARD] = lasthard
    si[S_ABOVE] = above
    si[S_ABOVEH] = aboveh


# --- three-axis float slots -----------------------------------------------------------------


@jit_fma_inline
def vec3(sf: np.ndarray, k: int) -> tuple[float, float, float]:
    """The three-axis slot of ``sf`` starting at ``k`` (an ``F_*`` index)."""
    return sf[k], sf[k + 1], sf[k + 2]


@jit_fma_inline
def set_vec3(sf: np.ndarray, k: int, a: float, b: float, c: float) -> None:
    """Store a three-axis slot of ``sf`` (see :func:`vec3`)."""
    sf[k] = a
    sf[k + 1] = b
    sf[k + 2] = c


# --- the current non-wear step --------------------------------------------------------------


@jit_fma_inline
def nw_acc(nw: np.ndarray) -> tuple[float, float, float, float, float, float, float, float,
                                    float, float, float, float, float]:
    """``(n, sum x, y, z, sum of squares x, y, z, min x, y, z, max x, y, z)`` of the
    current non-wear step (sums relative to the stream's reference sample, g)."""
    return (nw[0, NW_N], nw[0, NW_S], nw[0, NW_S + 1], nw[0, NW_S + 2], nw[0, NW_SS],
            nw[0, NW_SS + 1], nw[0, NW_SS + 2], nw[0, NW_MN], nw[0, NW_MN + 1],
            nw[0, NW_MN + 2], nw[0, NW_MX], nw[0, NW_MX + 1], nw[0, NW_MX + 2])


# the columns of one non-wear step, in the order nw_acc returns them
assert (NW_N, NW_S, NW_SS, NW_MN, NW_MX, N_NW) == (0, 1, 4, 7, 10, 13)


@jit_fma_inline
def set_nw_acc(nw: np.ndarray, acc: tuple[float, ...]) -> None:
    """Store the current non-wear step's aggregates (the 13 values of :func:`nw_acc`, in
    the order of the ``NW_*`` columns)."""
    for c in range(N_NW):
        nw[0, c] = acc[c]


@jit_fma_inline
def nw_add(acc: tuple[float, ...], x: float, y: float, z: float, rx: float, ry: float,
           rz: float) -> tuple[float, float, float, float, float, float, float, float, float,
                               float, float, float, float]:
    """The aggregates ``acc`` (see :func:`nw_acc`) with one valid sample ``x, y, z`` (g)
    added; sums relative to the reference sample ``rx, ry, rz`` (g)."""
    n, s0, s1, s2, q0, q1, q2, mn0, mn1, mn2, mx0, mx1, mx2 = acc
    d0 = x - rx
    d1 = y - ry
    d2 = z - rz
    return (n + 1.0, s0 + d0, s1 + d1, s2 + d2, q0 + d0 * d0, q1 + d1 * d1, q2 + d2 * d2,
            min(mn0, x), min(mn1, y), min(mn2, z), max(mx0, x), max(mx1, y), max(mx2, z))


@jit_fma_inline
def nw_empty() -> tuple[float, float, float, float, float, float, float, float, float,
                        float, float, float, float]:
    """The aggregates of an empty non-wear step (see :func:`nw_acc`)."""
    return (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, np.inf, np.inf, np.inf, -np.inf, -np.inf,
            -np.inf)


@jit_fma_inline
def nw_push_step(nw: np.ndarray, si: np.ndarray, back: int) -> None:
    """Copy the finished step (row 0) into the ring of the ``back`` previous steps."""
    if back > 0:
        dst = 1 + si[S_NWPOS]
        for c in range(N_NW):
            nw[dst, c] = nw[0, c]
        si[S_NWPOS] = (si[S_NWPOS] + 1) % back
        if si[S_NWFILL] < back:
            si[S_NWFILL] += 1


# --- the low-pass filter --------------------------------------------------------------------


@jit_fma_inline
def lowpass_coefs(sos: np.ndarray) -> tuple[float, float, float, float, float, float, float,
                                            float, float, float]:
    """``(b0, b1, b2, a1, a2)`` of section 0, then of section 1."""
    return (sos[0, 0], sos[0, 1], sos[0, 2], sos[0, 4], sos[0, 5],
            sos[1, 0], sos[1, 1], sos[1, 2], sos[1, 4], sos[1, 5])


LowpassState = tuple[float, float, float, float]  # section 0's two delays, section 1's


@jit_fma_inline
def lowpass_state(zs: np.ndarray, a: int) -> LowpassState:
    """Axis ``a``'s filter state: section 0's two delays, then section 1's."""
    return zs[0, a, 0], zs[0, a, 1], zs[1, a, 0], zs[1, a, 1]


@jit_fma_inline
def set_lowpass_state(zs: np.ndarray, a: int, z: LowpassState) -> None:
    """Store axis ``a``'s filter state (see :func:`lowpass_state`)."""
    zs[0, a, 0] = z[0]
    zs[0, a, 1] = z[1]
    zs[1, a, 0] = z[2]
    zs[1, a, 1] = z[3]


@jit_fma_inline
def lowpass_start(zi: np.ndarray, v: float) -> LowpassState:
    """The steady-state filter state for a constant input ``v`` (``zi`` scaled)."""
    return zi[0, 0] * v, zi[0, 1] * v, zi[1, 0] * v, zi[1, 1] * v


@jit_fma_inline
def lowpass(v: float, z: LowpassState,
            co: tuple[float, float, float, float, float, float, float, float, float, float]
            ) -> tuple[float, LowpassState]:
    """One sample ``v`` (g) through section 0 then 1, transposed direct form II (as
    ``scipy.signal.sosfilt``): ``(output (g), new state)``."""
    b00, b01, b02, a01, a02, b10, b11, b12, a11, a12 = co
    z00, z01, z10, z11 = z
    u = b00 * v + z00
    z00 = b01 * v - a01 * u + z01
    z01 = b02 * v - a02 * u
    f = b10 * u + z10
    z10 = b11 * u - a11 * f + z11
    z11 = b12 * u - a12 * f
    return f, (z00, z01, z10, z11)
