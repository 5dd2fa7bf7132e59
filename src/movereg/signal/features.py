"""Per-epoch features: :class:`FeatureEngine` (streaming) and :func:`extract_features` (batch).

Both run the same sequential kernel (:mod:`movereg.signal._kernels.engine`) with explicit
state, so any chunking of a recording gives exactly the batch table. The engine emits an
epoch once all of its parts are final: sample-local features at the epoch end, rhythm
features up to ``FeatureEngine.lag_s`` later (half a rhythm window + the maximum lag + half the moving
average: 6.5 s with the defaults at 100 Hz), counts when their 10-Hz values have arrived.

Non-wear is the van Hees 2013 / GGIR criterion evaluated *causally* so it can stream: an
epoch is flagged when, over the current 15-min step so far plus the three previous steps
(45-60 min of data ending at the epoch's end), at least two axes have SD < 13 mg and range
< 50 mg (GGIR centres the 60-min window on the step, which needs 22-37 min of look-ahead;
:func:`movereg.signal.detect_nonwear` computes that variant for a finished recording).

Missing data: rows with any non-finite value (NaN, inf) and time gaps between pushes.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from movereg.errors import ParameterError
from movereg.models import Gap
from movereg.signal._kernels import emit as _e
from movereg.signal._kernels import engine as _k
from movereg.signal._kernels import feed as _fd
from movereg.signal._kernels import layout as _ly
from movereg.signal._plan import make_plan
from movereg.signal.params import FeatureConfig
from movereg.signal.schema import EPOCH_COLUMNS, ZONE_NO_DATA
from movereg.signal.table import EpochTable

__all__ = ["FeatureEngine", "extract_features", "zone_of"]

_DEFAULT = FeatureConfig()
_CHUNK = 1 << 18          # samples per kernel call in batch mode (bounds memory)
_GAP_CHUNK = 1 << 16      # NaN rows per step when filling a time gap
_STAGE_MAX = 1 << 16      # pushes up to this many samples may wait in the stage
_CALIB_EPOCHS = 4         # epochs whose emission points are measured (see _finality)
_NAMES = tuple(name for name, _ in EPOCH_COLUMNS)
_FCOLS = ("coverage", "enmo_mg", "mad_mg", "z_angle_deg", "jerk_g_s", "jerk_p95_g_s",
          "rhythm_strength", "rhythm_hz", "rhythmic_fraction", "flap_share")
_ICOLS = ("counts_x", "counts_y", "counts_z", "nonwear", "impacts", "hard_impacts",
          "posture_changes", "clipped")


def _layout() -> tuple[tuple[str, int, int], ...]:
    """Where each output column lives in the emission arrays: (name, array, row).

    Arrays: 0 float64 (the row store's float columns, then epoch_s and counts_vm),
    1 int64 (the store's int columns, then epoch_start), 2 int8 (zone, nonwear).
    """
    where: dict[str, tuple[int, int]] = {}
    for c, name in enumerate(_FCOLS):
        where[name] = (0, c)
    for c, name in enumerate(_ICOLS):
        where[name] = (1, c)
    where["epoch_s"] = (0, len(_FCOLS) + _e.OF_EPOCH_S)
    where["counts_vm"] = (0, len(_FCOLS) + _e.OF_CVM)
    where["epoch_start"] = (1, len(_ICOLS) + _e.OI_START)
    where["zone"] = (2, _e.OB_ZONE)
    where["nonwear"] = (2, _e.OB_NW)
    return tuple((name, *where[name]) for name in _NAMES)


_LAYOUT = _layout()
# emission arrays: rows (columns of the table) per dtype
_N_OUT_F = _ly.N_RF + _e.N_OF_EXTRA
_N_OUT_I = _ly.N_RI + _e.N_OI_EXTRA


_Outs = tuple[np.ndarray, np.ndarray, np.ndarray]


def _emission_arrays(cap: int) -> _Outs:
    """Fresh (float, int64, int8) emission arrays for up to ``cap`` epochs."""
    return (np.empty((_N_OUT_F, cap)), np.empty((_N_OUT_I, cap), dtype=np.int64),
            np.empty((_e.N_OB, cap), dtype=np.int8))

_S_IABS = _ly.S_IABS
_S_N10 = _ly.S_N10
_S_BASE = _ly.S_BASE
_process = _k.process
_feed_kernel = _fd.feed


def zone_of(enmo_mg: np.ndarray, config: FeatureConfig | None = None) -> np.ndarray:
    """Intensity zone index per epoch from ENMO (mg); -1 where ENMO is undefined."""
    cfg = config or _DEFAULT
    e = np.asarray(enmo_mg, dtype=np.float64)
    cuts = np.array([cfg.light_mg, cfg.moderate_mg, cfg.vigorous_mg])
    z = np.searchsorted(cuts, e, side="right").astype(np.int8)
    z[np.isnan(e)] = ZONE_NO_DATA
    return z


def _as_samples(samples: Any) -> np.ndarray:
    if (isinstance(samples, np.ndarray) and samples.dtype == np.float64 and samples.ndim == 2
            and samples.shape[1] == 3 and samples.flags.c_contiguous):
        return samples
    x = np.asarray(samples)
    if x.ndim != 2 or x.shape[1] != 3:
        raise ParameterError(f"samples must have shape (n, 3) in g, got {x.shape}")
    if x.dtype.kind not in "fiu":
        raise ParameterError(f"samples must be numeric, got dtype {x.dtype}")
    return np.ascontiguousarray(x, dtype=np.float64)


class FeatureEngine:
    """Streaming per-epoch features for one device.

    Parameters
    ----------
    fs_hz
        Nominal sampling rate, Hz. ``epoch_s * fs_hz`` must be a whole number.
    epoch_s
        Epoch length, s (a multiple of 0.1 s: counts run at 10 Hz).
    config
        Thresholds; defaults to :class:`FeatureConfig()`.

    Notes
    -----
    ``push(samples, t0_ns, gaps)`` takes ``(n, 3)`` samples in g (non-finite rows =
    missing) and returns the epochs that became final (0..n rows). ``t0_ns`` places the
    stream: the first push (an empty one may set the epoch grid) starts it, and the
    first samples are placed by their ``t0_ns`` after it. Later blocks follow on after
    the ``gaps`` they are given: the :class:`~movereg.models.Gap` s that the clock
    (:class:`~movereg.sensors.clock.DeviceClock`) or the recording decided, filled with
    ``samples_missing`` missing rows; their ``t0_ns`` is then not looked at. Without
    ``gaps`` (plain arrays with no clock behind them), a ``t0_ns`` later than the
    expected time of the next sample by at least half a sample is a gap, and an earlier
    one is contiguous (clock jitter). ``flush()`` returns every remaining epoch,
    including the trailing partial one (its ``coverage`` < 1), and ends the stream.

    Short pushes are cheap: samples wait in a stage until they complete the next epoch,
    and only then do the kernels run (once per epoch instead of once per push). Which
    sample completes an epoch depends only on positions, so it is measured once per
    rate, epoch and config; each push still returns exactly the epochs it would return
    if the kernels ran every time.
    """

    _fin: tuple[int, ...] | None     # emission points of the first epochs (_finality)

    def __init__(self, fs_hz: float, *, epoch_s: float = 5.0,
                 config: FeatureConfig | None = None) -> None:
        self._init(float(fs_hz), float(epoch_s), config or FeatureConfig())
        self._fin = _finality(self.fs_hz, self.epoch_s, self.config)
        self._next = self._final_at(0) if self._fin is not None else 0

    def _init(self, fs_hz: float, epoch_s: float, config: FeatureConfig) -> None:
        from movereg.signal.counts import CountsStream

        self.fs_hz = fs_hz
        self.epoch_s = epoch_s
        self.config = config
        # samples held back until the next epoch can become final (see push)
        self._fin = None
        self._next = 0
        self._stage = np.empty((0, 3))
        self._staged = 0
        self._seen = 0               # samples consumed: in the kernels' state + staged
        p = make_plan(self.fs_hz, self.epoch_s, self.config)
        self._p = p
        self._counts = CountsStream(self.fs_hz)
        # every kernel array except the row store lives in two packed stores (fewer kernel
        # arguments per push); the attributes below are views into them
        shapes = _ly.store_shapes(p.pi, p.ca, p.cd, p.nb)
        sizes = [math.prod(sh) for sh in shapes]
        offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
        self._istore = np.zeros(_ly.N_ISTORE, dtype=np.int64)
        self._istore[:_ly.N_PI] = p.pi
        ly = self._istore[_ly.N_PI + _ly.N_SI:]
        ly[:len(shapes)] = offsets
        ly[_ly.LY_CA] = p.ca
        ly[_ly.LY_CD2] = 2 * p.cd
        ly[_ly.LY_NB] = p.nb
        self._fstore = np.zeros(int(sum(sizes)), dtype=np.float64)
        views = [self._fstore[o:o + n].reshape(sh)
                 for o, n, sh in zip(offsets.tolist(), sizes, shapes, strict=True)]
        (pf, sos, zi, flapw, self._sf, self._zs, self._ebuf, self._nw, self._abuf,
         self._dbuf, self._bacc, self._bstat, self._scratch, cfpar, ccoef, cfstate) = views
        # the counts stream keeps its parameters and state in the stores (one kernel call
        # per push runs both: _fd.feed)
        ist = self._istore
        self._counts._bind(ist[_ly.CI_IPAR:_ly.CI_ISTATE], cfpar, ccoef, cfstate,
                           ist[_ly.CI_ISTATE:_ly.N_ISTORE].reshape(3, -1))
        pf[:] = p.pf
        self._pf = pf
        sos[:] = p.sos
        zi[:] = p.zi
        flapw[:] = p.flapw
        self._si = self._istore[_ly.N_PI:_ly.N_PI + _ly.N_SI]
        self._si[_ly.S_LASTIMP] = -(1 << 62)
        self._si[_ly.S_LASTHARD] = -(1 << 62)
        self._sf[_ly.F_PREVANG] = np.nan
        self._sf[_ly.F_HBESTHZ] = np.nan
        self._nw[:, _ly.NW_MN:_ly.NW_MN + 3] = np.inf
        self._nw[:, _ly.NW_MX:_ly.NW_MX + 3] = -np.inf
        self._rows_f = np.full((8, _ly.N_RF), np.nan)
        self._rows_i = np.zeros((8, _ly.N_RI), dtype=np.int64)
        # zero-width emission arrays: feed() leaves the final rows in the store
        self._no_out = _emission_arrays(0)
        self._L = p.L
        self._n10 = p.n10
        # the kernel's arguments after (x, vals, final); the row store is last (see _grow_rows)
        self._args = (self._istore, self._fstore, self._rows_f, self._rows_i)
        self._t0: int | None = None
        self._closed = False
        self._dt_ns = 1e9 / self.fs_hz

    @property
    def lag_s(self) -> float:
        """Upper bound (s) on the delay between an epoch's end and its emission.

        Half a rhythm window + one hop + the maximum lag + half the moving average; with
        1-s pushes the measured delay is 6 s at the defaults (bound 6.5 s).
        """
        return self._p.lag_s

    @property
    def samples_seen(self) -> int:
        """Samples consumed so far, including missing rows filled into gaps."""
        return self._seen

    def push(self, samples: Any, t0_ns: int | None = None,
             gaps: Sequence[Gap] | None = None) -> EpochTable:
        """Consume a block of samples (g); return the epochs that became final.

        ``gaps``: the gaps before this block (see the class notes); ``None`` places the
        block by ``t0_ns``.

        Samples are staged, and the kernels run, only once the staged samples complete
        the next epoch (its emission point, measured once per rate/epoch/config by
        :func:`_finality`): a push returns exactly the epochs it would return if the
        kernels ran on every push, at a fraction of the per-push cost for short pushes.
        """
        # any float (n, 3) array can go to the stage as is (float32 band blocks too)
        x = samples
        if (type(x) is not np.ndarray or x.ndim != 2 or x.shape[1] != 3
                or x.dtype.kind != "f"):
            x = _as_samples(x)
        n = x.shape[0]
        seen = self._seen + n
        # the hot path: a block that follows on (no gap) and does not finish an epoch yet
        # (_next is 0 without staging and -1 once closed, so neither gets here)
        if seen < self._next and n <= _STAGE_MAX and self._t0 is not None and (
                (not gaps and self._seen) if gaps is not None else
                t0_ns is None or (t0_ns - self._t0) / self._dt_ns - self._seen < 0.5):
            s = self._staged
            e = s + n
            stage = self._stage
            if e <= stage.shape[0]:
                stage[s:e] = x
                self._staged = e
                self._seen = seen
                return _EMPTY
        return self._push(x, n, t0_ns, gaps)

    def _push(self, x: np.ndarray, n: int, t0_ns: int | None,
              gaps: Sequence[Gap] | None) -> EpochTable:
        """:meth:`push` beyond its hot path: gaps, the first push, emissions, long blocks."""
        if self._closed:
            raise ParameterError("FeatureEngine: push() after flush()")
        forced = False
        if self._t0 is None:
            self._t0 = int(t0_ns) if t0_ns is not None else 0
            self._si[_ly.S_T0] = self._t0
        else:
            missing = self._missing_before(t0_ns, gaps)
            if missing:
                self._run_stage()
                self._fill_gap(missing)
                forced = True            # the gap may have finished epochs: emit now
        self._seen += n
        if self._fin is not None and n <= _STAGE_MAX and self._staged == 0 and (
                forced or self._seen >= self._next):
            out = self._feed_emit(_as_samples(x))   # nothing staged and due now: no copy
        elif self._fin is not None and n <= _STAGE_MAX:
            s = self._staged
            if s + n > self._stage.shape[0]:
                grown = np.empty((max(s + n, 2 * self._stage.shape[0], 256), 3))
                grown[:s] = self._stage[:s]
                self._stage = grown
            self._stage[s:s + n] = x
            s += n
            if self._seen < self._next and not forced:
                self._staged = s
                return _EMPTY
            self._staged = 0
            out = self._feed_emit(self._stage[:s])
        else:
            self._run_stage()
            x = _as_samples(x)
            s = 0
            while n - s > _CHUNK:                   # long blocks in bounded steps
                self._feed(x[s:s + _CHUNK])
                s += _CHUNK
            out = self._feed_emit(x[s:] if s else x)
        if self._fin is not None:
            self._next = self._final_at(self._si.item(_S_BASE))
        return out

    def flush(self) -> EpochTable:
        """Close the stream: every remaining epoch, the trailing partial one included."""
        if self._closed:
            return EpochTable.empty()
        self._closed = True
        self._next = -1                  # push's hot path is closed too
        if self._t0 is None:
            return EpochTable.empty()
        self._run_stage()
        vals = _counts_array(self._counts.flush())
        k = self._run(np.zeros((0, 3)), vals, final=True)
        return self._emit(k) if k > 0 else _EMPTY

    # --- internals -----------------------------------------------------------------------
    def _missing_before(self, t0_ns: int | None, gaps: Sequence[Gap] | None) -> int:
        """Missing rows to fill before a block: its ``gaps``' samples, or where its
        ``t0_ns`` places it (the first samples of the stream, or plain arrays)."""
        if gaps is not None and self._seen:
            return sum(g.samples_missing for g in gaps)
        if t0_ns is None or self._t0 is None:
            return 0
        gap = (t0_ns - self._t0) / self._dt_ns - self._seen
        return round(gap) if gap >= 0.5 else 0

    def _final_at(self, e: int) -> int:
        """Samples (from the stream's start) after which epoch ``e`` is final."""
        fin = self._fin
        assert fin is not None
        if e < len(fin):
            return fin[e]
        return fin[-1] + (e - len(fin) + 1) * self._L

    def _run_stage(self) -> None:
        """Run the staged samples through the kernels (their epochs stay in the store)."""
        s = self._staged
        if s:
            self._staged = 0
            self._feed(self._stage[:s])

    def _fill_gap(self, n_missing: int) -> None:
        self._seen += n_missing
        while n_missing > 0:
            m = min(n_missing, _GAP_CHUNK)
            self._feed(np.full((m, 3), np.nan))
            n_missing -= m

    def _feed(self, x: np.ndarray) -> int:
        """Run a block through counts and the kernel; return the number of final rows
        (they stay in the row store)."""
        while True:
            k: int = _feed_kernel(x, *self._args, *self._no_out)
            if k >= 0:
                return k
            self._grow_rows(-k)                     # the kernel changed nothing

    def _feed_emit(self, x: np.ndarray) -> EpochTable:
        """Run a block through counts and the kernel; emit every final row (the per-push
        hot path: one kernel call for counts, features and emission).

        The retry loop of :meth:`_feed`, written out: folding the two into one method
        cost about 1 ns/sample at 1-s pushes (a call and a tuple per push).
        """
        while True:
            outs = _emission_arrays(self._rows_f.shape[0])
            k: int = _feed_kernel(x, *self._args, *outs)
            if k >= 0:
                break
            self._grow_rows(-k)                     # the kernel changed nothing
        return EpochTable._from_packed(outs, _LAYOUT, k) if k else _EMPTY

    def _run(self, x: np.ndarray, vals: np.ndarray, *, final: bool) -> int:
        si = self._si
        need = max((si.item(_S_IABS) + x.shape[0]) // self._L,
                   (si.item(_S_N10) + vals.shape[0]) // self._n10) + 2 - si.item(_S_BASE)
        if need > self._rows_f.shape[0]:
            self._grow_rows(need)
        k: int = _process(x, vals, final, *self._args)
        return k

    def _grow_rows(self, need: int) -> None:
        cap = max(need, 2 * self._rows_f.shape[0])
        rf = np.full((cap, _ly.N_RF), np.nan)
        ri = np.zeros((cap, _ly.N_RI), dtype=np.int64)
        old = self._rows_f.shape[0]
        rf[:old] = self._rows_f
        ri[:old] = self._rows_i
        self._rows_f, self._rows_i = rf, ri
        self._args = (*self._args[:-2], rf, ri)

    def _emit(self, k: int) -> EpochTable:
        """The first ``k`` (> 0) rows of the row store as a table; drop them from it."""
        # the same parameters as the feed kernel's emission: from the stores
        si = self._si
        pf = self._pf
        base = si.item(_S_BASE)
        outs = _emission_arrays(k)
        _e.emit_rows(self._rows_f, self._rows_i, k, _ly.RI_CX, _ly.RI_NW, _ly.RF_ENMO,
                     si.item(_ly.S_T0), base, pf.item(_ly.PF_EPOCH_NS),
                     pf.item(_ly.PF_EPOCH_S), pf[_ly.PF_CUTS:_ly.PF_CUTS + 3], *outs)
        si[_ly.S_BASE] = base + k
        # packed: per-column views only when a consumer asks for .columns
        return EpochTable._from_packed(outs, _LAYOUT, k)


@functools.lru_cache(maxsize=64)
def _finality(fs_hz: float, epoch_s: float, config: FeatureConfig) -> tuple[int, ...] | None:
    """Sample counts after which epochs ``0 .. _CALIB_EPOCHS-1`` become final, or None.

    When an epoch becomes final depends only on sample positions (missing samples are
    samples too), not on their values: it is measured here once by feeding a still
    signal sample by sample around each epoch's end. Later epochs follow every ``L``
    samples; that is checked on the measured ones, and None (no staging) is returned
    if it does not hold.
    """
    eng = object.__new__(FeatureEngine)
    eng._init(fs_hz, epoch_s, config)
    L = eng._L
    still = np.zeros((max(L, 1), 3))
    still[:, 2] = 1.0
    one = still[:1]
    limit = L + math.ceil(eng.lag_s * fs_hz) + 4 * max(1, round(fs_hz)) + 16
    fin: list[int] = []
    seen = 0
    for e in range(_CALIB_EPOCHS):
        bulk = (e + 1) * L - 1 - seen           # no epoch can be final before its end
        while bulk > 0:
            m = min(bulk, still.shape[0])
            eng._feed(still[:m])
            seen += m
            bulk -= m
        while len(fin) <= e:
            k = eng._feed(one)
            seen += 1
            while len(fin) < k:
                fin.append(seen)
            if seen - (e + 1) * L > limit:
                return None
    fin = fin[:_CALIB_EPOCHS]
    if any(b - a != L for a, b in itertools.pairwise(fin[1:])):   # epoch 0 may differ
        return None
    return tuple(fin)


def _counts_array(vals: Any) -> np.ndarray:
    if (isinstance(vals, np.ndarray) and vals.dtype == np.int64 and vals.ndim == 2
            and vals.flags.c_contiguous):
        return vals
    return np.ascontiguousarray(np.asarray(vals).reshape(-1, 3), dtype=np.int64)


_EMPTY = EpochTable.empty()


def extract_features(samples: Any, fs_hz: float, *, t0_ns: int = 0, epoch_s: float = 5.0,
                     config: FeatureConfig | None = None) -> EpochTable:
    """Features of a whole recording, one row per epoch (the trailing partial one too).

    Parameters
    ----------
    samples
        ``(n, 3)`` acceleration in g; rows with NaN are missing data.
    fs_hz
        Sampling rate, Hz.
    t0_ns
        UTC time of sample 0, ns since the Unix epoch.
    epoch_s
        Epoch length, s.
    config
        Thresholds (:class:`FeatureConfig`).
    """
    eng = FeatureEngine(fs_hz, epoch_s=epoch_s, config=config)
    head = eng.push(samples, t0_ns)
    return EpochTable.concat([head, eng.flush()])
