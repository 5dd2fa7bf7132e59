"""ActiGraph-compatible activity counts: batch (:func:`activity_counts`) and streaming
(:class:`CountsStream`).

Our own implementation of the published ActiLife counts algorithm (Neishabouri A. et al.,
"Quantification of acceleration as activity counts in ActiGraph wearables", Sci Rep 2022,
doi:10.1038/s41598-022-16003-x): resample to 30 Hz (ActiLife's zero-stuff + first-order IIR
path), round to 1 mg (ties away from zero, as ActiLife; agcounts rounds them to even, which
differs only for device steps at 30/60/90 Hz), band-pass IIR (-3 dB at about 0.31-1.63 Hz),
scale, rectify, dead-band (< 4), clip (128), reduce to 10 Hz, sum per epoch. Axis order is
the DEVICE's (x, y, z); note that ActiLife's "Axis1" is the ActiGraph's y axis, "Axis2" x,
"Axis3" z.

Sampling rates
    30, 40, 50, 60, 70, 80, 90 and 100 Hz take ActiLife's own resampling path and give counts
    identical to ActiLife (:func:`counts_are_actilife_identical` is True). Any other rate from
    10 to 500 Hz (12.5, 25, 26, 52, 104, 128, 208, ... Hz) is first linearly interpolated to a
    path rate (below 30 Hz -> 30 Hz; 30–100 Hz -> nearest multiple of 10 Hz; above 100 Hz ->
    100 Hz) and then follows that path: those counts are "ActiGraph-like, not
    ActiLife-identical". Linear interpolation is a weak anti-alias filter for rates above
    100 Hz; counts only use 0.3–1.6 Hz, so the effect is small for wrist movement.

Missing data
    A non-finite value (NaN, inf) means "no sample": each axis holds its last finite value
    (0 g before the first one). This is the ActiGraph idle-sleep convention (the device
    repeats the last sample while idle), and it is applied identically in batch and stream.
    Counts over a held stretch decay to 0 after the band-pass settles (a few seconds).
"""

from __future__ import annotations

import functools
import math
from fractions import Fraction

import numpy as np

from movereg.errors import ParameterError
from movereg.signal._kernels.counts import (
    BPF_A,
    BPF_B,
    I_NIN,
    I_NOUT,
    counts_push_packed,
    new_state,
)

__all__ = [
    "ACTILIFE_RATES_HZ",
    "COUNTS_RATE_HZ",
    "COUNTS_SCALE",
    "MAX_FS_HZ",
    "MIN_FS_HZ",
    "CountsStream",
    "activity_counts",
    "counts_are_actilife_identical",
    "counts_path_rate",
]

#: Sampling rates (Hz) with ActiLife's own resampling path: counts identical to ActiLife.
ACTILIFE_RATES_HZ: tuple[int, ...] = (30, 40, 50, 60, 70, 80, 90, 100)
#: Rate (Hz) of the post-reduction count values that epochs are summed from.
COUNTS_RATE_HZ = 10
#: Scale from band-passed g to counts, ActiLife's constant. The exact ratio
#: (3/4096)/(2.6/256)·237.5 = 17.1274038... gives the same counts on all reference data.
COUNTS_SCALE: float = 17.127404
#: Accepted sampling-rate range (Hz).
MIN_FS_HZ = 10.0
MAX_FS_HZ = 500.0

# ActiLife resampling factors: fs -> 30 Hz by up L, down M.
_FACTORS: dict[int, tuple[int, int]] = {
    30: (1, 1), 40: (3, 4), 50: (3, 5), 60: (1, 2), 70: (3, 7), 80: (3, 8), 90: (1, 3),
    100: (3, 10),
}
_CHUNK_ROWS = 1 << 20


@functools.cache
def _bpf_zi() -> np.ndarray:
    from scipy.signal import lfilter_zi

    zi = np.ascontiguousarray(lfilter_zi(BPF_B, BPF_A), dtype=np.float64)
    zi.setflags(write=False)
    return zi


def _check_fs(fs_hz: float) -> float:
    try:
        fs = float(fs_hz)
    except (TypeError, ValueError):
        raise ParameterError(
            f"sampling rate must be a number in Hz, got {fs_hz!r}",
            advice="pass fs_hz as e.g. 50 or 52.0",
        ) from None
    if not math.isfinite(fs) or fs <= 0:
        raise ParameterError(
            f"sampling rate must be a positive number of Hz, got {fs_hz!r}",
            advice="pass the device's sampling rate, e.g. 50",
        )
    if not MIN_FS_HZ <= fs <= MAX_FS_HZ:
        raise ParameterError(
            f"activity counts need a sampling rate from {MIN_FS_HZ:g} to {MAX_FS_HZ:g} Hz, "
            f"got {fs:g} Hz",
            advice="record at 25-100 Hz for counts",
        )
    return fs


def _exact_rate(fs: float) -> int | None:
    r = round(fs)
    if r in _FACTORS and abs(fs - r) < 1e-9:
        return int(r)
    return None


def counts_path_rate(fs_hz: float) -> int:
    """Rate (Hz) whose ActiLife resampling path the counts at ``fs_hz`` take.

    ``fs_hz`` itself for 30, 40, ..., 100 Hz; otherwise the rate the signal is first linearly
    interpolated to: 30 Hz below 30 Hz, the nearest multiple of 10 Hz from 30 to 100 Hz, and
    100 Hz above 100 Hz.
    """
    fs = _check_fs(fs_hz)
    exact = _exact_rate(fs)
    if exact is not None:
        return exact
    if fs < 30.0:
        return 30
    if fs > 100.0:
        return 100
    return int(min(100, max(30, 10 * math.floor(fs / 10.0 + 0.5))))


def counts_are_actilife_identical(fs_hz: float) -> bool:
    """True if counts at ``fs_hz`` follow ActiLife's own path (30, 40, ..., 100 Hz).

    For every other accepted rate the counts are "ActiGraph-like, not ActiLife-identical"
    (the signal is interpolated to a path rate first, see :func:`counts_path_rate`).
    """
    return _exact_rate(_check_fs(fs_hz)) is not None


def _as_samples(samples: object, what: str = "samples") -> np.ndarray:
    arr = np.asarray(samples)
    if arr.ndim != 2 or arr.shape[1] != 3:
        raise ParameterError(
            f"{what} must be an array of shape (n, 3) (x, y, z in g), got shape {arr.shape}",
            advice="stack the three axes as columns",
        )
    if arr.dtype == np.bool_ or not (
        np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)
    ):
        raise ParameterError(
            f"{what} must hold real numbers (g), got dtype {arr.dtype}",
            advice="convert to float64",
        )
    return arr


def _check_epoch(epoch_s: float) -> int:
    """Epoch length in 10-Hz values; raises unless ``epoch_s·10`` is a positive integer."""
    try:
        e = float(epoch_s)
    except (TypeError, ValueError):
        raise ParameterError(f"epoch_s must be a number of seconds, got {epoch_s!r}") from None
    n10 = round(e * COUNTS_RATE_HZ) if math.isfinite(e) else 0
    if not math.isfinite(e) or e <= 0 or n10 < 1 or abs(e * COUNTS_RATE_HZ - n10) > 1e-9:
        raise ParameterError(
            f"epoch_s must be a positive multiple of 0.1 s, got {epoch_s!r}",
            advice="counts are summed from 10-Hz values; use e.g. 1, 5, 15 or 60 s",
        )
    return int(n10)


class CountsStream:
    """Streaming ActiGraph-compatible counts for one recording at one sampling rate.

    Push raw samples in any chunking; each :meth:`push` returns the 10-Hz count values that
    became final with that chunk. Concatenating the outputs over any chunking equals the
    batch result exactly, and an epoch count is the sum of ``10·epoch_s`` consecutive 10-Hz
    values (value ``i`` belongs to ``[i/10, (i+1)/10)`` s after the first sample). A value
    is final once the samples up to its end have arrived (at interpolated rates, one sample
    more). At the end of a recording, :meth:`flush` returns what is still pending;
    :meth:`reset` starts a new recording. Not thread-safe: one stream per device.

    Parameters
    ----------
    fs_hz
        Sampling rate of the samples (Hz), from 10 to 500 Hz.

    Raises
    ------
    ParameterError
        If ``fs_hz`` is not a number in the accepted range.
    """

    def __init__(self, fs_hz: float) -> None:
        fs = _check_fs(fs_hz)
        self._fs = fs
        self._path = counts_path_rate(fs)
        self._identical = counts_are_actilife_identical(fs)
        up, down = _FACTORS[self._path]
        self._up = up
        self._down = down
        self._lpf = self._path not in (30, 60, 90)
        a_fp = np.pi / (np.pi + 2 * up)
        self._a_l = float(a_fp * up)
        self._b_lpf = float((np.pi - 2 * up) / (np.pi + 2 * up))
        self._interp = not self._identical
        if self._interp:
            ratio = Fraction(fs).limit_denominator(10_000) / self._path
            self._ip, self._iq = ratio.numerator, ratio.denominator
        else:
            self._ip, self._iq = 1, 1
        self._b = np.ascontiguousarray(BPF_B)
        self._a = np.ascontiguousarray(BPF_A)
        self._zi = _bpf_zi()
        self._ipar = np.array([int(self._interp), self._ip, self._iq, up, down,
                               int(self._lpf)], dtype=np.int64)
        self._fpar = np.array([self._a_l, self._b_lpf, COUNTS_SCALE], dtype=np.float64)
        self._coef = np.ascontiguousarray(np.concatenate([self._b, self._a, self._zi]),
                                          dtype=np.float64)
        # every counter lives in the state arrays (see _bind)
        self._fstate, self._istate = new_state()
        self._closed = False

    def reset(self) -> None:
        """Forget all state: the next push starts a new recording."""
        self._fstate[...] = 0.0
        self._istate[...] = 0
        self._closed = False

    def _bind(self, ipar: np.ndarray, fpar: np.ndarray, coef: np.ndarray,
              fstate: np.ndarray, istate: np.ndarray) -> None:
        """Keep parameters and state in the caller's arrays from now on.

        The feature engine passes views into its packed stores, so that one kernel call
        runs counts and features (:func:`movereg.signal._kernels.feed.feed`). The
        current values are copied in; the arrays must have the shapes and dtypes of this
        stream's own.
        """
        for mine, theirs in ((self._ipar, ipar), (self._fpar, fpar), (self._coef, coef),
                             (self._fstate, fstate), (self._istate, istate)):
            if theirs.shape != mine.shape or theirs.dtype != mine.dtype:
                raise ParameterError(f"CountsStream._bind: need {mine.dtype} {mine.shape}, "
                                     f"got {theirs.dtype} {theirs.shape}")
            theirs[...] = mine
        self._ipar, self._fpar, self._coef = ipar, fpar, coef
        self._fstate, self._istate = fstate, istate

    @property
    def fs_hz(self) -> float:
        """Sampling rate of the pushed samples (Hz)."""
        return self._fs

    @property
    def path_rate_hz(self) -> int:
        """ActiLife path rate (Hz) used (equal to ``fs_hz`` when ActiLife-identical)."""
        return self._path

    @property
    def actilife_identical(self) -> bool:
        """True if these counts are identical to ActiLife's (rate 30, 40, ..., 100 Hz)."""
        return self._identical

    @property
    def n_samples_in(self) -> int:
        """Number of raw samples pushed since construction or :meth:`reset`."""
        return int(self._istate[0, I_NIN])

    @property
    def n_values_out(self) -> int:
        """Number of 10-Hz values returned since construction or :meth:`reset`."""
        return int(self._istate[0, I_NOUT])

    def push(self, samples: np.ndarray) -> np.ndarray:
        """Feed raw samples; return the 10-Hz count values they finish.

        Parameters
        ----------
        samples
            (n, 3) accelerations in g, device axis order x, y, z (float64 C-contiguous is
            used as is; other real dtypes are converted). Non-finite values are missing data
            (held at the last finite value of that axis).

        Returns
        -------
        numpy.ndarray
            int64 (k, 3): the count values at 10 Hz (each 0..128) that became final.
        """
        if self._closed:
            raise ParameterError(
                "CountsStream: push() after flush()",
                advice="call reset() to start a new recording",
            )
        arr = _as_samples(samples)
        out, k = self._run(np.ascontiguousarray(arr, dtype=np.float64))
        return out[:k]

    def flush(self) -> np.ndarray:
        """End of recording: return the 10-Hz values still pending, and close the stream.

        At ActiLife rates every value is final as soon as its samples arrive, so this returns
        nothing. At interpolated rates the value(s) at the very end need the sample after
        the last one: the last sample is held for them (as for missing data). Only values
        built from path-rate samples inside the recording are returned: after ``flush()``
        the total is ``floor(n30 / 3)`` with ``n30 = ceil(n_path · 30 / path_rate_hz)``
        and ``n_path = ceil(n_samples_in · path_rate_hz / fs_hz)``, as for ActiLife on the
        interpolated recording.
        After ``flush()``, :meth:`push` raises until :meth:`reset`.

        Returns
        -------
        numpy.ndarray
            int64 (k, 3), usually k = 0 or 1.
        """
        if self._closed:
            return np.zeros((0, 3), dtype=np.int64)
        self._closed = True
        n_in = self.n_samples_in
        n_out = self.n_values_out
        n_path = -(-n_in * self._iq // self._ip)
        n30 = -(-n_path * self._up // self._down)
        need = n30 // 3 - n_out
        if need <= 0:
            return np.zeros((0, 3), dtype=np.int64)
        out, k = self._run(np.full((2, 3), np.nan))
        k = min(k, need)
        # the two padding samples are not input, and only `k` values are returned
        self._istate[:, I_NIN] = n_in
        self._istate[:, I_NOUT] = n_out + k
        return out[:k]

    def _max_values(self, n: int) -> int:
        """Upper bound on the 10-Hz values ``n`` samples can finish."""
        return int(n * COUNTS_RATE_HZ / self._fs) + 8

    def _run(self, x: np.ndarray) -> tuple[np.ndarray, int]:
        n = x.shape[0]
        out = np.empty((self._max_values(n), 3), dtype=np.int64)
        k = counts_push_packed(x, self._ipar, self._fpar, self._coef, self._fstate,
                               self._istate, out)
        return out, int(k)


def activity_counts(samples: np.ndarray, fs_hz: float, epoch_s: float) -> np.ndarray:
    """ActiGraph-compatible activity counts per epoch and axis.

    Parameters
    ----------
    samples
        (n, 3) accelerations in g, device axis order x, y, z. Non-finite values are missing
        data: each axis holds its last finite value (0 g before the first).
    fs_hz
        Sampling rate (Hz), 10–500 Hz; identical to ActiLife at 30, 40, ..., 100 Hz.
    epoch_s
        Epoch length (s); ``10·epoch_s`` must be an integer.

    Returns
    -------
    numpy.ndarray
        int64 (m, 3) counts per epoch for x, y, z, where m is the number of complete epochs
        (``floor(n / (fs_hz·epoch_s))``). Epoch ``k`` covers samples
        ``[k·fs·epoch_s, (k+1)·fs·epoch_s)``. Vector magnitude is
        ``sqrt(x² + y² + z²)`` of these. Equal to the epoch sums of a
        :class:`CountsStream`'s ``push`` outputs followed by its ``flush()``.

    Raises
    ------
    ParameterError
        On a wrong shape or dtype, a rate outside 10–500 Hz, or a bad epoch length.
    """
    arr = _as_samples(samples)
    block = _check_epoch(epoch_s)
    stream = CountsStream(fs_hz)
    n = arr.shape[0]
    m_raw = math.floor(n / (stream.fs_hz * float(epoch_s)) + 1e-9)
    chunks = [arr[start:start + _CHUNK_ROWS] for start in range(0, n, _CHUNK_ROWS)]
    parts: list[np.ndarray] = []
    carry = np.empty((0, 3), dtype=np.int64)
    for chunk in [*chunks, None]:
        vals = stream.flush() if chunk is None else stream.push(chunk)
        if carry.shape[0]:
            vals = np.concatenate([carry, vals])
        m = vals.shape[0] // block
        if m:
            parts.append(vals[: m * block].reshape(m, block, 3).sum(axis=1))
        carry = vals[m * block:].copy()
    epochs = np.concatenate(parts) if parts else np.zeros((0, 3), dtype=np.int64)
    return np.ascontiguousarray(epochs[:m_raw], dtype=np.int64)
