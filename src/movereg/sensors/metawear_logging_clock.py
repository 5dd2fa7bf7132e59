"""Where a host keeps the MetaWear clock references it took (:class:`ClockBook`).

A MetaWear has no wall clock: a (tick, reset_uid) <-> UTC reference read by a host is
what places a reset epoch's log entries in UTC (:mod:`movereg.recordings._mwlog_time`).
A reference is worth keeping until the entries of its epoch have been downloaded: when
the board resets before the next download, only this book still knows the old epoch.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
from pathlib import Path

from movereg.fsutil import write_json_atomic
from movereg.sensors.decoders.metawear_log import TimeRef

__all__ = ["DEFAULT_BOOK", "ClockBook", "default_book", "use_clock_book"]

#: references kept per band and reset_uid (the newest)
KEEP_PER_EPOCH = 4


class ClockBook:
    """The (tick, reset_uid) <-> UTC references a host took, per band.

    Kept in memory and, with ``path``, in a small JSON file so a later process (or a
    restart) still knows them. A damaged file is ignored (the references are a help
    for placing time, never needed to read data).
    """

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self._refs: dict[str, list[TimeRef]] = {}
        if path is not None and path.exists():
            with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
                raw = json.loads(path.read_text())
                self._refs = {k: [TimeRef(**r) for r in v] for k, v in raw.items()}

    def add(self, device_id: str, ref: TimeRef) -> None:
        """Keep ``ref`` (the newest :data:`KEEP_PER_EPOCH` per reset_uid)."""
        refs = [*self._refs.get(device_id, []), ref]
        keep: list[TimeRef] = []
        for r in reversed(refs):
            if sum(1 for k in keep if k.reset_uid == r.reset_uid) < KEEP_PER_EPOCH:
                keep.append(r)
        self._refs[device_id] = keep[::-1]
        if self.path is not None:
            write_json_atomic(self.path, {k: [dataclasses.asdict(r) for r in v]
                                          for k, v in self._refs.items()})

    def refs(self, device_id: str) -> list[TimeRef]:
        """References for a band, oldest first."""
        return list(self._refs.get(device_id, []))


#: the book recorders use when none is given (in memory until :func:`use_clock_book`)
DEFAULT_BOOK = ClockBook()
_current = [DEFAULT_BOOK]


def use_clock_book(path: Path) -> ClockBook:
    """Keep the default book in ``path`` from now on (a server calls this once at start,
    e.g. with ``<data dir>/metawear-clock.json``); returns it."""
    _current[0] = ClockBook(path)
    return _current[0]


def default_book() -> ClockBook:
    """The book recorders use when none is given."""
    return _current[0]
