"""Where the feature kernel keeps its parameters and state: indices into its stores.

``istore`` (int64) holds the integer parameters (``PI_*``), the integer state (``S_*``), the
layout of ``fstore`` (``LY_*``: the offset of each float array, then three sizes) and the
counts stream's integer parameters and state (``CI_*``). ``fstore`` (float64) holds the float
parameters (``PF_*``), the float state (``F_*``) and the working arrays, in the order of
:func:`store_shapes`. The row store has ``RF_*`` float and ``RI_*`` int columns. Plain
Python: the kernels read these as compile-time constants.
"""

from __future__ import annotations

import numpy as np

from movereg.signal._kernels import counts as _c

# --- integer parameters (pi) --------------------------------------------------------------
PI_L = 0            # samples per epoch
PI_H = 1            # hops per epoch
PI_Q = 2            # raw samples per decimated bin
PI_B = 3            # bins per hop block
PI_NBW = 4          # hop blocks per rhythm window
PI_M = 5            # half-width of the centred moving average, bins
PI_TMIN = 6         # minimum lag, bins
PI_TMAX = 7         # maximum lag, bins
PI_REFR = 8         # impact refractory period, samples
PI_LB = 9           # non-wear step (block) length, samples
PI_NWBACK = 10      # previous non-wear blocks in the window
PI_NWMIN = 11       # minimum valid samples in the non-wear window
PI_N10 = 12         # 10-Hz count values per epoch
PI_NWAXES = 13      # axes that must meet the non-wear criterion
PI_GATE = 14        # rhythm gate kind: 0 vector RMS of high-passed signal, 1 SD of |a|
PI_NSOS = 15        # low-pass second-order sections
N_PI = 16

# --- float parameters (pf) ----------------------------------------------------------------
PF_FS = 0
PF_CLIP = 1
PF_IMPACT = 2
PF_HARD = 3
PF_POSTURE = 4
PF_GATE = 5         # rhythm gate, g
PF_RTHR = 6         # rhythmic hop threshold on strength
PF_MINVALID = 7     # minimum valid share of a rhythm window
PF_NWSD = 8         # non-wear SD criterion, g
PF_NWRANGE = 9      # non-wear range criterion, g
PF_RD = 10          # decimated rate, Hz
PF_EPOCH_NS = 11    # epoch length, ns (emission: epoch starts)
PF_EPOCH_S = 12     # epoch length, s
PF_CUTS = 13        # 13..15 intensity-zone cut-points, mg
PF_FLAPREF = 16     # reference of the flapping evidence: (J / 2 pi)^2, Hz^2 g^2
N_PF = 17

# --- integer state (si) -------------------------------------------------------------------
S_IABS = 0          # raw samples processed
S_NBINS = 1         # decimated bins appended (incl. flush padding)
S_ADONE = 2         # epochs whose sample-local part is final
S_BDONE = 3         # epochs whose rhythm part is final
S_BASE = 4          # epoch index of row 0 of the row store
S_LASTIMP = 5
S_LASTHARD = 6
S_FINIT = 7         # low-pass initialised
S_PREVVALID = 8
S_EPN = 9           # valid samples in the current epoch
S_EPCLIP = 10
S_EPIMP = 11
S_EPHARD = 12
S_EPPOST = 13
S_EPNJ = 14         # jerk values in the current epoch
S_HOPN = 15         # valid samples in the current hop (posture)
S_BINN = 16         # valid samples in the current bin
S_BINC = 17         # samples in the current bin
S_NWREF = 18        # non-wear reference set
S_N10 = 19          # 10-Hz count values received
S_HEVAL = 20        # evaluated hops in the current rhythm epoch
S_HRHY = 21         # rhythmic hops in it
S_HFLAP = 22        # hops with a flap share in it
S_NWFILL = 23       # previous non-wear blocks filled
S_NWPOS = 24        # ring position of the next previous block
S_MAC = 25          # valid bins in the moving-average window
S_ABOVE = 26        # previous valid sample was >= the impact threshold
S_ABOVEH = 27       # ... >= the hard-impact threshold
S_PK = 28           # ring positions and block counters of the decimated stream
S_PD = 29
S_KB = 30
S_KR = 31
S_TB = 32
S_TR = 33
S_BT = 34
S_T0 = 35           # UTC ns of the stream's first sample (emission: epoch starts)
N_SI = 36

# --- float state (sf) ---------------------------------------------------------------------
F_LAST = 0          # 0..2 last valid raw sample
F_PREVAF = 3        # 3..5 previous low-passed sample
F_EPENMO = 6
F_EPSUM = 7         # 7..9 epoch vector sum
F_HOPSUM = 10       # 10..12 hop vector sum
F_PREVANG = 13      # previous hop z-angle, deg (NaN none)
F_BINSUM = 14       # 14..16
F_NWREF = 17        # 17..19
F_EPJERK = 20
F_HSTR = 21         # sum of hop strengths
F_HBEST = 22
F_HBESTHZ = 23
F_HFLAP = 24
F_MASUM = 25        # 25..27 moving-average running sum
N_SF = 28

# --- row store columns ---------------------------------------------------------------------
RF_COV = 0
RF_ENMO = 1
RF_MAD = 2
RF_ZANG = 3
RF_JERK = 4
RF_JP95 = 5
RF_RSTR = 6
RF_RHZ = 7
RF_RFRAC = 8
RF_FLAP = 9
N_RF = 10
RI_CX = 0
RI_CY = 1
RI_CZ = 2
RI_NW = 3
RI_IMP = 4
RI_HARD = 5
RI_POST = 6
RI_CLIP = 7
N_RI = 8

# --- packed-store layout (after pi and si in istore): fstore offsets, then 3 sizes ------
LY_PF = 0
LY_SOS = 1
LY_ZI = 2
LY_FLAPW = 3
LY_SF = 4
LY_ZS = 5
LY_EBUF = 6
LY_NW = 7
LY_ABUF = 8
LY_DBUF = 9
LY_BACC = 10
LY_BSTAT = 11
LY_SCRATCH = 12
LY_CFPAR = 13       # the counts stream's float parameters, coefficients and state
LY_CCOEF = 14
LY_CFSTATE = 15
LY_CA = 16          # rows of abuf
LY_CD2 = 17         # columns of dbuf (each value stored twice: 2 * cd)
LY_NB = 18          # rows of bacc and bstat
N_LY = 19
# istore after pi, si and ly: the counts stream's integer parameters and state
CI_IPAR = N_PI + N_SI + N_LY
CI_ISTATE = CI_IPAR + _c.N_IPAR
N_ISTORE = CI_ISTATE + 3 * _c.N_ISTATE

# per-block statistics of the rhythm stream (bstat columns): valid bins, sum and sum of
# squares of their resultant (g), sum of |high-passed|^2 (g^2, the window energy E2(0))
N_BSTAT = 4

# non-wear aggregate layout (one row per 15-min block): n, sum(3), sumsq(3), min(3), max(3)
NW_N = 0
NW_S = 1
NW_SS = 4
NW_MN = 7
NW_MX = 10
N_NW = 13


def store_shapes(pi: np.ndarray, ca: int, cd: int, nb: int) -> tuple[tuple[int, ...], ...]:
    """Shapes of the float arrays in ``fstore``, in the order of the ``LY_*`` offsets.

    (Plain Python for the wrapper; the entry points unpack with the same shapes.)
    """
    nsos = int(pi[PI_NSOS])
    tm1 = int(pi[PI_TMAX]) + 1
    return ((N_PF,), (nsos, 6), (nsos, 2), (2, tm1), (N_SF,), (nsos, 3, 2),
            (2, int(pi[PI_L])), (1 + int(pi[PI_NWBACK]), N_NW), (ca, 4), (3, 2 * cd),
            (nb, tm1), (nb, N_BSTAT), (3, tm1), (_c.N_FPAR,), (_c.N_COEF,),
            (3, _c.N_FSTATE))
