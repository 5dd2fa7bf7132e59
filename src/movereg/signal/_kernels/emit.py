"""Epoch emission kernel: finished rows of the engine's row store -> output columns.

One call per emission instead of a dozen numpy calls (each costs about a microsecond at
one row, which dominated a streaming push that finishes an epoch). Private module: no
validation; :mod:`movereg.signal.features` owns the layout and validates.
"""

from __future__ import annotations

import math

import numpy as np

from movereg.signal._jit import jit

# output float columns (rows of ``out_f``) after the row store's float columns (N_RF)
OF_EPOCH_S = 0      # epoch length, s
OF_CVM = 1          # counts vector magnitude
N_OF_EXTRA = 2
# output int64 columns (rows of ``out_i``) after the row store's int columns (N_RI)
OI_START = 0        # epoch start, UTC ns
N_OI_EXTRA = 1
# output int8 columns (rows of ``out_b``)
OB_ZONE = 0
OB_NW = 1
N_OB = 2

_ROUND_MAGIC = 6755399441055744.0  # 1.5·2**52: v + M - M rounds v half-to-even (|v| < 2**51)


@jit
def _rint(v: float) -> float:
    """Round half to even, bit-identical to ``numpy.rint`` / Python ``round``."""
    if abs(v) < 2251799813685248.0:  # 2**51
        return (v + _ROUND_MAGIC) - _ROUND_MAGIC
    return v


@jit
def emit_rows(rows_f: np.ndarray, rows_i: np.ndarray, k: int, ri_cx: int, ri_nw: int,
              rf_enmo: int, t0: int, base: int, epoch_ns: float, epoch_s: float,
              cuts: np.ndarray, out_f: np.ndarray, out_i: np.ndarray,
              out_b: np.ndarray) -> None:
    """Write rows ``0..k-1`` of the row store as columns and shift the rest to the front.

    ``out_f`` is (N_RF + N_OF_EXTRA, k): the store's float columns, then epoch length
    and counts VM; ``out_i`` is (N_RI + N_OI_EXTRA, k): the store's int columns, then the
    epoch start (``t0 + round(epoch index * epoch_ns)`` ns); ``out_b`` is (2, k) int8:
    the intensity zone (number of ``cuts`` <= ENMO, -1 when ENMO is NaN) and non-wear.
    Vacated rows of the store become NaN (float) and 0 (int).
    """
    nrf = rows_f.shape[1]
    nri = rows_i.shape[1]
    for r in range(k):
        for c in range(nrf):
            out_f[c, r] = rows_f[r, c]
        for c in range(nri):
            out_i[c, r] = rows_i[r, c]
        out_f[nrf + OF_EPOCH_S, r] = epoch_s
        cx = float(rows_i[r, ri_cx])
        cy = float(rows_i[r, ri_cx + 1])
        cz = float(rows_i[r, ri_cx + 2])
        out_f[nrf + OF_CVM, r] = math.sqrt(cx * cx + cy * cy + cz * cz)
        out_i[nri + OI_START, r] = t0 + np.int64(_rint((base + r) * epoch_ns))
        e = rows_f[r, rf_enmo]
        if math.isnan(e):
            out_b[OB_ZONE, r] = -1
        else:
            z = 0
            while z < cuts.shape[0] and cuts[z] <= e:
                z += 1
            out_b[OB_ZONE, r] = z
        out_b[OB_NW, r] = rows_i[r, ri_nw]
    cap = rows_f.shape[0]
    for r in range(cap):
        src = r + k
        if src < cap:
            for c in range(nrf):
                rows_f[r, c] = rows_f[src, c]
            for c in range(nri):
                rows_i[r, c] = rows_i[src, c]
        else:
            for c in range(nrf):
                rows_f[r, c] = np.nan
            for c in range(nri):
                rows_i[r, c] = 0
