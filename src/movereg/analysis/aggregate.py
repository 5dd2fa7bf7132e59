"""Re-aggregate stored epochs to a coarser epoch length (e.g. 1 s -> 5, 15 or 60 s).

One pure function, :func:`aggregate_epochs`, over one device's epoch columns in time
order. The rule for every column is in :data:`AGGREGATION_RULES` (shown in the data
dictionary and written into export metadata):

* sums: ``counts_x/y/z``, ``impacts``, ``hard_impacts``, ``posture_changes``, ``clipped``;
* ``counts_vm`` recomputed as sqrt(x^2 + y^2 + z^2) of the summed axis counts;
* coverage-weighted means (weight = coverage x stored epoch length, NaN values skipped):
  ``enmo_mg``, ``mad_mg``, ``jerk_g_s``, ``z_angle_deg``, ``rhythm_strength``,
  ``flap_share``, ``rhythmic_fraction``;
* ``jerk_p95_g_s``: the maximum of the stored epochs' 95th percentiles (an upper bound,
  not the 95th percentile of the longer epoch);
* ``rhythm_hz``: taken from the stored epoch with the strongest rhythm;
* ``zone`` recomputed from the aggregated ENMO with :func:`movereg.signal.zone_of`;
* ``nonwear``: majority — 1 when more than half of the recorded time (stored epochs
  present in the new epoch, by length) was flagged non-wear;
* ``coverage``: recorded sample time / new epoch length (missing stored epochs count
  as no data);
* ``epoch_start``: the new epoch's start, aligned to whole multiples of ``epoch_s``
  since the Unix epoch (UTC); only new epochs holding at least one stored epoch appear.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

import numpy as np

from movereg.errors import ValidationError
from movereg.timeutil import NS_PER_S

__all__ = ["AGGREGATION_RULES", "aggregate_epochs"]

_SUMS: Final = ("counts_x", "counts_y", "counts_z", "impacts", "hard_impacts",
                "posture_changes", "clipped")
_MEANS: Final = ("enmo_mg", "mad_mg", "jerk_g_s", "z_angle_deg", "rhythm_strength",
                 "flap_share", "rhythmic_fraction")

#: column -> how it is combined when epochs are re-aggregated to a longer length
AGGREGATION_RULES: Final[dict[str, str]] = {
    "epoch_start": "start of the longer epoch (UTC, aligned to whole multiples of its length)",
    "epoch_s": "the longer epoch length, s",
    "coverage": "recorded time / epoch length (missing stored epochs count as no data)",
    **{c: "sum" for c in _SUMS},
    "counts_vm": "recomputed: sqrt(x^2 + y^2 + z^2) of the summed axis counts",
    **{c: "coverage-weighted mean (NaN skipped)" for c in _MEANS},
    "jerk_p95_g_s": "maximum of the stored epochs' 95th percentiles (an upper bound)",
    "rhythm_hz": "from the stored epoch with the strongest rhythm",
    "zone": "recomputed from the aggregated ENMO (movereg.signal.zone_of)",
    "nonwear": "majority: 1 when more than half of the recorded time was non-wear",
}


def aggregate_epochs(cols: Mapping[str, np.ndarray], epoch_s: float) -> dict[str, np.ndarray]:
    """Combine one device's epochs into epochs of ``epoch_s`` seconds.

    Parameters
    ----------
    cols
        Epoch columns (:data:`movereg.signal.schema.EPOCH_COLUMNS` names; at least
        ``epoch_start`` (UTC ns) and ``epoch_s`` (s)), one device, sorted by
        ``epoch_start``. Columns not in the schema are dropped.
    epoch_s
        New epoch length, s; a whole multiple of every stored epoch length.

    Returns
    -------
    dict
        The same schema columns (those present in ``cols``), one row per new epoch.
        When ``epoch_s`` equals every stored length the input is returned unchanged
        (copied).

    Raises
    ------
    ValidationError
        ``epoch_s`` is not positive or not a whole multiple of a stored length, or the
        rows are not in time order.
    """
    from movereg.signal.schema import EPOCH_COLUMNS

    names = [n for n, _ in EPOCH_COLUMNS if n in cols]
    if "epoch_start" not in cols or "epoch_s" not in cols:
        raise ValidationError("aggregation needs the epoch_start and epoch_s columns")
    if not np.isfinite(epoch_s) or epoch_s <= 0:
        raise ValidationError(f"epoch length must be positive, got {epoch_s!r}")
    start = np.asarray(cols["epoch_start"], dtype=np.int64)
    length = np.asarray(cols["epoch_s"], dtype=np.float64)
    n = start.shape[0]
    if n and np.any(np.diff(start) < 0):
        raise ValidationError("epochs must be in time order (one device at a time)")
    ratio = epoch_s / length if n else np.ones(0)
    if n and (np.any(~np.isfinite(ratio)) or np.any(np.abs(ratio - np.round(ratio)) > 1e-9)
              or np.any(np.round(ratio) < 1)):
        bad = sorted({float(x) for x in length[np.abs(ratio - np.round(ratio)) > 1e-9]}
                     | {float(x) for x in length[np.round(ratio) < 1]})
        raise ValidationError(
            f"epoch length {epoch_s:g} s is not a whole multiple of the stored "
            f"{', '.join(f'{b:g}' for b in bad) or 'length'} s",
            advice="choose a multiple of the recorded epoch length")
    if n == 0 or np.all(np.round(ratio) == 1):
        return {k: np.array(cols[k], copy=True) for k in names}

    bin_ns = round(epoch_s * NS_PER_S)
    bins = np.floor_divide(start, bin_ns)
    first = np.flatnonzero(np.r_[True, bins[1:] != bins[:-1]])
    dtypes = dict(EPOCH_COLUMNS)
    out: dict[str, np.ndarray] = {
        "epoch_start": (bins[first] * bin_ns).astype(np.int64),
        "epoch_s": np.full(first.shape[0], float(epoch_s)),
    }
    cov = (np.nan_to_num(np.asarray(cols["coverage"], dtype=np.float64), nan=0.0)
           if "coverage" in cols else np.ones(n))
    weight = cov * length
    if "coverage" in cols:
        out["coverage"] = np.add.reduceat(weight, first) / epoch_s
    for name in _SUMS:
        if name in cols:
            out[name] = np.add.reduceat(np.asarray(cols[name], dtype=np.int64),
                                        first).astype(dtypes[name])
    for name in _MEANS:
        if name in cols:
            x = np.asarray(cols[name], dtype=np.float64)
            ok = np.isfinite(x)
            w = np.where(ok, weight, 0.0)
            num = np.add.reduceat(np.where(ok, x, 0.0) * w, first)
            den = np.add.reduceat(w, first)
            with np.errstate(invalid="ignore", divide="ignore"):
                out[name] = np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)
    if all(c in out for c in ("counts_x", "counts_y", "counts_z")):
        out["counts_vm"] = np.sqrt(out["counts_x"].astype(np.float64) ** 2
                                   + out["counts_y"].astype(np.float64) ** 2
                                   + out["counts_z"].astype(np.float64) ** 2)
    if "jerk_p95_g_s" in cols:
        p95 = np.asarray(cols["jerk_p95_g_s"], dtype=np.float64)
        with np.errstate(invalid="ignore"):
            out["jerk_p95_g_s"] = np.fmax.reduceat(p95, first)
    if "rhythm_hz" in cols and "rhythm_strength" in cols:
        strength = np.asarray(cols["rhythm_strength"], dtype=np.float64)
        key = np.where(np.isfinite(strength), strength, -np.inf)
        group = np.repeat(np.arange(first.shape[0]), np.diff(np.r_[first, n]))
        # stable: among equal strengths the earliest epoch wins
        order = np.lexsort((np.arange(n)[::-1], key, group))
        last = np.r_[np.flatnonzero(group[order][1:] != group[order][:-1]), n - 1]
        pick = order[last]
        hz = np.asarray(cols["rhythm_hz"], dtype=np.float64)[pick]
        out["rhythm_hz"] = np.where(np.isfinite(key[pick]), hz, np.nan)
    if "zone" in cols and "enmo_mg" in out:
        from movereg.signal import zone_of

        out["zone"] = zone_of(out["enmo_mg"]).astype(dtypes["zone"])
    if "nonwear" in cols:
        flagged = np.asarray(cols["nonwear"], dtype=np.float64) > 0
        nw = np.add.reduceat(np.where(flagged, length, 0.0), first)
        present = np.add.reduceat(length, first)
        out["nonwear"] = (nw > present / 2).astype(dtypes["nonwear"])
    for name in names:  # columns the rules above could not form (missing inputs)
        if name not in out:
            raise ValidationError(f"cannot aggregate {name!r} without its input columns")
    return {k: out[k] for k in names}
