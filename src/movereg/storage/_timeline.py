"""A child's time line: every moment counted once, whichever sources hold it.

The rule (one, documented, applied by every reader that goes through
:meth:`TimelineMixin.timeline`): time is cut into UTC clock hours; in each hour the
source with the most **wear coverage** (sum over its epochs of ``coverage x epoch_s``
where the epoch is not non-wear) is shown, and every other source's epochs in that hour
are left out. On a tie a live band wins over a file, then the older source (lower id).
Whole hours keep a day's picture from one device at a time, so an imported week and a
clinic session never interleave minute by minute.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from movereg.errors import NotFoundError
from movereg.storage._sources import SourceRecord, SourcesMixin

__all__ = ["PRECEDENCE_RULE", "SourceSpan", "TimelineMixin"]

_HOUR_NS = 3_600_000_000_000
#: whole UTC hours per database read (bounds the rows held as Python objects at once)
_READ_HOURS = 1

#: The precedence rule in words (pages and the README quote it).
PRECEDENCE_RULE = ("Each moment is counted once: per hour, the source with more wear time "
                   "is shown; a live band wins over a file when equal.")


@dataclass(frozen=True, slots=True)
class SourceSpan:
    """A stretch of the time line shown from one source (UTC ns, end exclusive)."""

    source: SourceRecord
    start_ns: int
    end_ns: int


def _choose(hour: np.ndarray, sid: np.ndarray, weight: np.ndarray,
            rank: dict[int, int]) -> np.ndarray:
    """Boolean mask of the rows whose source wins their hour."""
    if hour.shape[0] == 0:
        return np.zeros(0, dtype=bool)
    keys, inv = np.unique(hour * (1 << 32) + sid, return_inverse=True)
    inv = inv.reshape(-1)
    k_hour, k_sid = keys >> 32, keys & 0xFFFFFFFF
    w = np.round(np.bincount(inv, weights=weight, minlength=keys.shape[0]), 6)
    kind = np.array([rank.get(int(s), 1) for s in k_sid], dtype=np.int64)
    order = np.lexsort((k_sid, kind, -w, k_hour))
    ordered = k_hour[order]
    first = np.ones(ordered.shape[0], dtype=bool)
    first[1:] = ordered[1:] != ordered[:-1]
    winners = np.zeros(keys.shape[0], dtype=bool)
    winners[order[first]] = True
    return winners[inv]


class TimelineMixin(SourcesMixin):
    """:meth:`timeline` and :meth:`timeline_sources`."""

    def timeline(self, child_id: int, start_ns: int | None = None, end_ns: int | None = None,
                 *, features: Sequence[str] | None = None, include_device: bool = False,
                 include_source: bool = False) -> dict[str, np.ndarray]:
        """A child's epochs in ``[start_ns, end_ns)``, each moment once (see the module rule).

        Same columns as :meth:`epochs` (``epoch_start`` int64 UTC ns, ``epoch_s``, the
        features), plus ``source_id`` (int64) when ``include_source``.
        """
        want = None if features is None else list(features)
        parts = list(self._timeline_chunks(child_id, start_ns, end_ns, want,
                                           include_device, include_source))
        if len(parts) == 1:
            return parts[0]
        out = {name: np.concatenate([p[name] for p in parts]) for name in parts[0]}
        parts.clear()
        return out

    def _timeline_chunks(self, child_id: int, start_ns: int | None, end_ns: int | None,
                         want: list[str] | None, include_device: bool,
                         include_source: bool) -> Iterator[dict[str, np.ndarray]]:
        """:meth:`timeline` in time order, ``_READ_HOURS`` whole UTC hours per read.

        The rule is decided per hour, so reading whole hours a few at a time gives the
        same rows as one read of the range, while only one read's rows (as Python tuples
        from SQLite) are held at once. Always yields at least one (possibly empty) part.
        """
        ask = None if want is None else list(dict.fromkeys([*want, "coverage", "nonwear"]))
        # whole hours are read so that a window picks the same source as the whole day
        lo = None if start_ns is None else int(start_ns) // _HOUR_NS * _HOUR_NS
        hi = None if end_ns is None else -(-int(end_ns) // _HOUR_NS) * _HOUR_NS
        bounds = self.epoch_bounds(child_id=child_id, start_ns=lo, end_ns=hi)
        if bounds is None:
            cuts = [lo or 0, lo or 0]
        else:
            first = bounds[0] // _HOUR_NS * _HOUR_NS
            last = bounds[1] // _HOUR_NS * _HOUR_NS + _HOUR_NS
            step = _READ_HOURS * _HOUR_NS
            cuts = [*range(first, last, step), last]
        for a, b in itertools.pairwise(cuts):
            cols = self.epochs(child_id=child_id, start_ns=a, end_ns=b, features=ask,
                               include_device=True)
            yield self._choose_rows(cols, start_ns, end_ns, want, include_device,
                                    include_source)
            del cols

    def _choose_rows(self, cols: dict[str, np.ndarray], start_ns: int | None,
                     end_ns: int | None, want: list[str] | None, include_device: bool,
                     include_source: bool) -> dict[str, np.ndarray]:
        """The rows of whole hours' ``cols`` that the rule shows, within the range."""
        devs = cols["device_id"]
        by_dev = self.sources_by_device(str(d) for d in set(devs.tolist()))
        sid = np.array([by_dev[str(d)].id if str(d) in by_dev else -1 for d in devs],
                       dtype=np.int64)
        rank = {s.id: 0 if s.kind == "live" else 1 for s in by_dev.values()}
        cov = np.nan_to_num(np.asarray(cols["coverage"], dtype=np.float64), nan=0.0)
        worn = np.asarray(cols["nonwear"]) != 1
        weight = cov * worn * np.asarray(cols["epoch_s"], dtype=np.float64)
        t = np.asarray(cols["epoch_start"])
        keep = _choose(t // _HOUR_NS, sid, weight, rank)
        if start_ns is not None:
            keep &= t >= int(start_ns)
        if end_ns is not None:
            keep &= t < int(end_ns)
        out: dict[str, np.ndarray] = {}
        for name, arr in cols.items():
            if name == "device_id" and not include_device:
                continue
            if want is not None and name not in want and name not in ("epoch_start", "epoch_s",
                                                                     "device_id"):
                continue
            out[name] = arr[keep]
        if include_source:
            out["source_id"] = sid[keep]
        return out

    def timeline_sources(self, child_id: int, start_ns: int, end_ns: int) -> list[SourceSpan]:
        """Which source the time line shows when: runs of one source, in time order
        (a run breaks at a change of source or a gap of more than an hour)."""
        cols = self.timeline(child_id, start_ns, end_ns, features=["coverage"],
                             include_source=True)
        return self.source_runs(cols)

    def source_runs(self, cols: dict[str, np.ndarray]) -> list[SourceSpan]:
        """Runs of one source in time-line rows read with ``include_source=True`` (see
        :meth:`timeline_sources`)."""
        starts, lens, sids = cols["epoch_start"], cols["epoch_s"], cols["source_id"]
        if starts.shape[0] == 0:
            return []
        srcs = {s.id: s for s in self.list_sources_by_id(set(np.unique(sids).tolist()))}
        ends = starts + np.round(lens * 1e9).astype(np.int64)
        # a run ends where the source changes or more than an hour is missing
        brk = np.flatnonzero((sids[1:] != sids[:-1]) | (starts[1:] - ends[:-1] > _HOUR_NS)) + 1
        first = np.r_[0, brk]
        run_end = np.maximum.reduceat(ends, first)
        out: list[SourceSpan] = []
        for a, e in zip(first.tolist(), run_end.tolist(), strict=True):
            sid = int(sids[a])
            if sid in srcs:
                out.append(SourceSpan(srcs[sid], int(starts[a]), int(e)))
        return out

    def list_sources_by_id(self, ids: set[Any]) -> list[SourceRecord]:
        """The sources with these ids (unknown ids are skipped)."""
        out = []
        for i in sorted(int(x) for x in ids if int(x) >= 0):
            try:
                out.append(self.get_source(i))
            except NotFoundError:  # removed meanwhile: skipped
                continue
        return out
