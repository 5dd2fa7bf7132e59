"""A family's data bundle: everything held about one child, as one streamed zip.

Epochs, strategy events, sessions, gaps, consent history, home plan, check-ins and the
child's access log as CSV and Parquet; raw samples as Parquet; ``child.json``, a plain
``README.txt`` and ``manifest.json`` (each file's sha256 of its uncompressed bytes, its
size and its row count). The zip is written to an unseekable sink (data descriptors,
zip64 for the big tables) and handed out piece by piece, so memory stays bounded
whatever the range: tables arrive in column chunks from :mod:`movereg.storage.export`,
Parquet goes through a temporary file, and nothing holds a whole table.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import numpy as np

from movereg.storage.export import (
    Chunk,
    device_hash,
    export_chunks,
    register_table,
    stream_csv,
    stream_parquet,
)
from movereg.storage.export_dataset import Counted
from movereg.storage.store import Store
from movereg.timeutil import NS_PER_S

__all__ = ["ACCESS_WORDS", "BUNDLE_TABLES", "access_words", "bundle_name", "stream_bundle"]

_NS = NS_PER_S   # ns per s, from the one time module
_MISSING = -1
_PAGE = 5_000
_SCHEMAS: dict[str, list[tuple[str, str]]] = {
    "bundle.events": [("event_id", "int64"), ("strategy", "str"), ("started_at", "time"),
                      ("ended_at", "time"), ("logged_at", "time"), ("logged_by", "str"),
                      ("session_id", "int64"), ("initiated_by", "str"), ("planned", "int8"),
                      ("note", "str"), ("voided", "int8"), ("void_reason", "str"),
                      ("replaces_id", "int64")],
    "bundle.sessions": [("session_id", "int64"), ("kind", "str"), ("started_at", "time"),
                        ("ended_at", "time"), ("device", "str"), ("note", "str")],
    "bundle.gaps": [("device", "str"), ("start", "time"), ("end", "time"),
                    ("samples_missing", "int64"), ("reason", "str")],
    "bundle.consent": [("record_id", "int64"), ("consented", "int8"), ("scope", "str"),
                       ("recorded_at", "time"), ("recorded_by", "str"),
                       ("withdrawn_at", "time"), ("withdrawn_by", "str")],
    "bundle.access_log": [("entry_id", "int64"), ("time", "time"), ("who", "str"),
                          ("action", "str"), ("in_words", "str"), ("detail", "str"),
                          ("outcome", "str")],
    "bundle.home_plan": [("plan_id", "int64"), ("strategy", "str"), ("when", "str"),
                         ("times_per_day", "int64"), ("weekdays", "str"),
                         ("created_at", "time"), ("created_by", "str"),
                         ("retired_at", "time")],
    "bundle.checkins": [("checkin_id", "int64"), ("time", "time"), ("part_of_day", "str"),
                        ("rating_1_to_5", "str"), ("note", "str"), ("logged_at", "time")],
}
for _name, _schema in _SCHEMAS.items():
    register_table(_name, _schema)

#: (file stem, export table, formats) in the order they go into the zip.
BUNDLE_TABLES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("epochs", "epochs", ("csv", "parquet")),
    ("events", "bundle.events", ("csv", "parquet")),
    ("sessions", "bundle.sessions", ("csv", "parquet")),
    ("gaps", "bundle.gaps", ("csv", "parquet")),
    ("consent_history", "bundle.consent", ("csv", "parquet")),
    ("home_plan", "bundle.home_plan", ("csv", "parquet")),
    ("checkins", "bundle.checkins", ("csv", "parquet")),
    ("access_log", "bundle.access_log", ("csv", "parquet")),
    ("raw_samples", "raw", ("parquet",)),
)

#: Plain words for audit actions (the access log a family reads).
ACCESS_WORDS: dict[str, str] = {
    "view.day": "looked at the day page", "view.week": "looked at the week page",
    "view.live": "watched the live page", "view.home": "opened the home page",
    "view.strategies": "looked at the strategy explorer",
    "view.child_data": "opened the data and privacy page",
    "read.child": "read the child's record", "read.events": "read logged strategies",
    "read.event": "read a logged strategy", "read.epochs": "read movement data",
    "read.consent": "read the research-consent history", "read.summary": "read a summary",
    "read.breaks": "read movement breaks", "read.settings": "read the child's settings",
    "read.plan": "read the home plan", "read.checkins": "read check-ins",
    "read.sessions": "read sessions", "read.session": "read a session",
    "read.gaps": "read times without band data",
    "event.create": "logged a strategy", "event.void": "removed a logged strategy",
    "event.correct": "corrected a logged strategy", "event.end": "ended a strategy",
    "export": "exported data", "export.done": "finished an export",
    "export.aborted": "stopped an export", "export.denied": "was refused an export",
    "bundle": "downloaded the data bundle", "bundle.done": "finished the data bundle",
    "consent.record": "recorded a research-consent decision",
    "consent.withdraw": "withdrew research consent",
    "child.create": "added the child", "child.settings": "changed the child's settings",
    "child.delete.refused": "tried to delete the child (refused)",
    "plan.add": "added to the home plan", "plan.retire": "took an item off the home plan",
    "checkin.create": "added a check-in", "day.pdf": "made a PDF of a day",
}


def access_words(action: str) -> str:
    """An audit action in plain words (the action itself when unknown)."""
    return ACCESS_WORDS.get(action, action.replace(".", " "))


def bundle_name(code: str, at_ns: int) -> str:
    """File name of a bundle: ``movereg-<code>-<UTC date>.zip``."""
    return f"movereg-{code}-{datetime.fromtimestamp(at_ns / _NS, UTC):%Y%m%d}.zip"


# --- table chunks ----------------------------------------------------------------------
def _ints(vals: list[Any], dtype: str = "int64") -> np.ndarray:
    return np.array([_MISSING if v is None else int(v) for v in vals], dtype=dtype)


def _strs(vals: list[Any]) -> np.ndarray:
    return np.array(["" if v is None else str(v) for v in vals], dtype=object)


def _events(store: Store, cid: int) -> Iterator[Chunk]:
    evs = store.list_events(child_id=cid, include_voided=True)
    if not evs:
        return
    names = {u.id: u.username for u in store.list_users()}
    for i in range(0, len(evs), _PAGE):
        part = evs[i:i + _PAGE]
        yield {"event_id": _ints([e.id for e in part]),
               "strategy": _strs([e.strategy for e in part]),
               "started_at": _ints([e.started_at for e in part]),
               "ended_at": _ints([e.ended_at for e in part]),
               "logged_at": _ints([e.logged_at for e in part]),
               "logged_by": _strs([names.get(e.logged_by or -1) for e in part]),
               "session_id": _ints([e.session_id for e in part]),
               "initiated_by": _strs([e.initiated_by for e in part]),
               "planned": _ints([e.planned for e in part], "int8"),
               "note": _strs([e.note for e in part]),
               "voided": _ints([e.voided for e in part], "int8"),
               "void_reason": _strs([e.void_reason for e in part]),
               "replaces_id": _ints([e.replaces_id for e in part])}


def _sessions(store: Store, cid: int, salt: str) -> Iterator[Chunk]:
    ss = sorted(store.list_sessions(child_id=cid), key=lambda s: s.started_at)
    if ss:
        yield {"session_id": _ints([s.id for s in ss]), "kind": _strs([s.kind for s in ss]),
               "started_at": _ints([s.started_at for s in ss]),
               "ended_at": _ints([s.ended_at for s in ss]),
               "device": _strs([device_hash(s.device_id, salt) if s.device_id else None
                                for s in ss]),
               "note": _strs([s.note for s in ss])}


def _gaps(store: Store, cid: int, salt: str) -> Iterator[Chunk]:
    gs = store.gaps(child_id=cid)
    for i in range(0, len(gs), _PAGE):
        part = gs[i:i + _PAGE]
        yield {"device": _strs([device_hash(g.device_id, salt) for g in part]),
               "start": _ints([g.start_ns for g in part]),
               "end": _ints([g.end_ns for g in part]),
               "samples_missing": _ints([g.samples_missing for g in part]),
               "reason": _strs([g.reason for g in part])}


def _consent(store: Store, cid: int) -> Iterator[Chunk]:
    cs = store.consent_history(cid)
    if cs:
        yield {"record_id": _ints([c.id for c in cs]),
               "consented": _ints([c.consented for c in cs], "int8"),
               "scope": _strs([c.scope for c in cs]),
               "recorded_at": _ints([c.recorded_at for c in cs]),
               "recorded_by": _strs([c.recorded_by for c in cs]),
               "withdrawn_at": _ints([c.withdrawn_at for c in cs]),
               "withdrawn_by": _strs([c.withdrawn_by for c in cs])}


def _plan(store: Store, cid: int) -> Iterator[Chunk]:
    ps = store.list_plan(cid, include_retired=True)
    if ps:
        yield {"plan_id": _ints([p.id for p in ps]), "strategy": _strs([p.strategy for p in ps]),
               "when": _strs([p.when_text for p in ps]),
               "times_per_day": _ints([p.times_per_day for p in ps]),
               "weekdays": _strs([p.weekdays for p in ps]),
               "created_at": _ints([p.created_at for p in ps]),
               "created_by": _strs([p.created_by for p in ps]),
               "retired_at": _ints([p.retired_at for p in ps])}


def _checkins(store: Store, cid: int) -> Iterator[Chunk]:
    cs = store.list_checkins(cid)
    for i in range(0, len(cs), _PAGE):
        part = cs[i:i + _PAGE]
        yield {"checkin_id": _ints([c.id for c in part]), "time": _ints([c.at_ns for c in part]),
               "part_of_day": _strs([c.part for c in part]),
               "rating_1_to_5": _strs([c.rating for c in part]),
               "note": _strs([c.note for c in part]),
               "logged_at": _ints([c.logged_at for c in part])}


def _access(store: Store, cid: int) -> Iterator[Chunk]:
    before: int | None = None
    while True:
        page = store.access_log(cid, limit=_PAGE, before_id=before)
        if not page:
            return
        page.reverse()  # oldest first inside a page; pages go newest to oldest
        yield {"entry_id": _ints([e.id for e in page]), "time": _ints([e.ts_ns for e in page]),
               "who": _strs([e.actor for e in page]), "action": _strs([e.action for e in page]),
               "in_words": _strs([access_words(e.action) for e in page]),
               "detail": _strs([e.detail for e in page]),
               "outcome": _strs([e.outcome for e in page])}
        before = page[0].id


def _chunks(store: Store, cid: int, table: str, salt: str) -> Iterator[Chunk]:
    if table in ("epochs", "raw"):
        return export_chunks(store, table, [cid])
    makers: dict[str, Callable[[], Iterator[Chunk]]] = {
        "bundle.events": lambda: _events(store, cid),
        "bundle.sessions": lambda: _sessions(store, cid, salt),
        "bundle.gaps": lambda: _gaps(store, cid, salt),
        "bundle.consent": lambda: _consent(store, cid),
        "bundle.home_plan": lambda: _plan(store, cid),
        "bundle.checkins": lambda: _checkins(store, cid),
        "bundle.access_log": lambda: _access(store, cid),
    }
    return makers[table]()


# --- the zip -------------------------------------------------------------------------
class _Sink:
    """An unseekable, tell-able byte sink the zip writes into; drained by the stream."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self._pos = 0
        self.pending = 0

    def write(self, data: bytes) -> int:
        self._parts.append(bytes(data))
        self._pos += len(data)
        self.pending += len(data)
        return len(data)

    def tell(self) -> int:
        return self._pos

    def flush(self) -> None:
        return None

    def close(self) -> None:
        return None

    def take(self) -> bytes:
        out = b"".join(self._parts)
        self._parts.clear()
        self.pending = 0
        return out


def _readme(code: str, nickname: str, at_ns: int) -> str:
    when = datetime.fromtimestamp(at_ns / _NS, UTC).strftime("%d %B %Y %H:%M UTC")
    return f"""Everything movereg holds about {nickname} (child code {code})
Made on {when}.

What is in this folder
- epochs.csv / .parquet: the band's movement measures, one row per second (or per
  epoch). Times are in UTC. Column meanings are in the researcher's data dictionary
  (the export page); "nonwear" = 1 means the band itself judged it was not being worn.
- raw_samples.parquet: the raw movement samples (acceleration in g) still kept.
- gaps.csv / .parquet: times when the band's data did not reach us ("no signal":
  out of radio range, switched off or a radio gap).
- events.csv / .parquet: every strategy that was logged (the bath, the trampoline...),
  with notes, who logged it, and corrections or removals kept as history.
- sessions.csv / .parquet: therapy sessions and days of wear.
- consent_history.csv / .parquet: every research-use decision and withdrawal.
- home_plan.csv / .parquet: the home plan your therapist set up, and its changes.
- checkins.csv / .parquet: check-ins you or the therapist added, if any.
- access_log.csv / .parquet: who looked at or changed {nickname}'s data, and when.
- child.json: the child's record and settings.
- manifest.json: every file with its size, row count and sha256 fingerprint, so you
  can check nothing was changed or lost.

CSV files open in any spreadsheet; Parquet files hold the same rows for data tools.
Band identifiers are replaced by a code. The band measures movement, not feelings;
movereg is not a medical device and does not diagnose.
"""


def _entry(zf: zipfile.ZipFile, sink: _Sink, name: str, parts: Iterator[bytes],
           big: bool, record: dict[str, Any]) -> Iterator[bytes]:
    digest = hashlib.sha256()
    size = 0
    with zf.open(name, "w", force_zip64=big) as fh:
        for part in parts:
            digest.update(part)
            size += len(part)
            fh.write(part)
            if sink.pending >= 1 << 16:
                yield sink.take()
    record.update(name=name, bytes=size, sha256=digest.hexdigest())
    yield sink.take()


def stream_bundle(store: Store, child_id: int, *, at_ns: int,
                  manifest: dict[str, Any] | None = None) -> Iterator[bytes]:
    """The child's bundle as zip bytes, piece by piece (bounded memory).

    ``manifest`` (optional) receives the manifest written into the zip, for auditing.
    """
    child = store.get_child(child_id, with_name=True)
    settings = store.child_settings(child_id)
    salt = store.export_salt()
    nickname = child.display_name or child.code
    sink = _Sink()
    files: list[dict[str, Any]] = []
    zf = zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6)
    info = {"code": child.code, "display_name": child.display_name,
            "age_band": child.age_band, "created_at_ns": child.created_at,
            "time_zone": settings.tz, "checkins_enabled": settings.checkins_enabled}
    small = {"README.txt": _readme(child.code, nickname, at_ns).encode(),
             "child.json": json.dumps(info, indent=2, ensure_ascii=False).encode()}
    for name, body in small.items():
        rec: dict[str, Any] = {"rows": None}
        yield from _entry(zf, sink, name, iter([body]), False, rec)
        files.append(rec)
    for stem, table, formats in BUNDLE_TABLES:
        for fmt in formats:
            counted = Counted(_chunks(store, child_id, table, salt))
            parts = (stream_csv(table, iter(counted)) if fmt == "csv"
                     else stream_parquet(table, iter(counted)))
            rec = {}
            yield from _entry(zf, sink, f"{stem}.{fmt}", parts, table in ("epochs", "raw"), rec)
            rec["rows"] = counted.rows
            files.append(rec)
    doc = {"child_code": child.code, "created_at": datetime.fromtimestamp(
        at_ns / _NS, UTC).isoformat(), "sha256_of": "the uncompressed file", "files": files}
    if manifest is not None:
        manifest.update(doc)
    yield from _entry(zf, sink, "manifest.json",
                      iter([json.dumps(doc, indent=2).encode()]), False, {})
    zf.close()
    yield sink.take()
