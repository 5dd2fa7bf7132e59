"""The streaming hot path: counts, features and emission of one push in one kernel call.

One dispatch per push instead of three, and no Python between them: the counts stream's
parameters and state live in the engine's stores, and the final rows go straight into the
caller's emission arrays.
"""

from __future__ import annotations

import numpy as np

from movereg.signal._jit import jit_fma
from movereg.signal._kernels import counts as _c
from movereg.signal._kernels import emit as _e
from movereg.signal._kernels.engine import process
from movereg.signal._kernels.layout import (
    CI_IPAR,
    CI_ISTATE,
    LY_CCOEF,
    LY_CFPAR,
    LY_CFSTATE,
    LY_PF,
    N_LY,
    N_PF,
    N_PI,
    N_SI,
    PF_CUTS,
    PF_EPOCH_NS,
    PF_EPOCH_S,
    PF_FS,
    PI_L,
    RF_ENMO,
    RI_CX,
    RI_NW,
    S_BASE,
    S_IABS,
    S_T0,
)
from movereg.signal._kernels.views import borrow, borrow_view

__all__ = ["feed"]


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
    pi = borrow_view(istore, 0, (N_PI,))
    si = borrow_view(istore, N_PI, (N_SI,))
    # rows the block can touch: 10-Hz counts never run ahead of the samples, so the
    # sample position bounds both (+1 for a value finishing a sample late)
    need = (si[S_IABS] + x.shape[0]) // pi[PI_L] + 3 - si[S_BASE]
    if need > rows_f.shape[0]:
        return -need
    ly = borrow_view(istore, N_PI + N_SI, (N_LY,))
    ipar = borrow_view(istore, CI_IPAR, (_c.N_IPAR,))
    cis = borrow_view(istore, CI_ISTATE, (3, _c.N_ISTATE))
    fpar = borrow_view(fstore, ly[LY_CFPAR], (_c.N_FPAR,))
    coef = borrow_view(fstore, ly[LY_CCOEF], (_c.N_COEF,))
    cfs = borrow_view(fstore, ly[LY_CFSTATE], (3, _c.N_FSTATE))
    pf = borrow_view(fstore, ly[LY_PF], (N_PF,))
    # as CountsStream._max_values: an upper bound on the 10-Hz values n samples finish
    cvals = np.empty((int(x.shape[0] * 10.0 / pf[PF_FS]) + 8, 3), dtype=np.int64)
    xb = borrow(x)
    kc = _c.counts_push_packed(xb, ipar, fpar, coef, cfs, cis, cvals)
    k = process(xb, cvals[:kc], False, borrow(istore), borrow(fstore), borrow(rows_f),
                borrow(rows_i))
    if k > 0 and out_f.shape[1] > 0:
        base = si[S_BASE]
        _e.emit_rows(rows_f, rows_i, k, RI_CX, RI_NW, RF_ENMO, si[S_T0], base,
                     pf[PF_EPOCH_NS], pf[PF_EPOCH_S], pf[PF_CUTS:PF_CUTS + 3], out_f,
                     out_i, out_b)
        si[S_BASE] = base + k
    return k
