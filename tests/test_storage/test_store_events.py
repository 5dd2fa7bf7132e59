"""Strategy events: never edited in place; void and correct keep history."""

from __future__ import annotations

from pathlib import Path

import pytest

from movereg.errors import NotFoundError, StorageError, ValidationError
from movereg.storage import Store


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(tmp_path / "m.sqlite3")
    yield s  # type: ignore[misc]
    s.close()


def test_correct_voids_old_and_links_new(store: Store) -> None:
    c = store.create_child(code="KID-1")
    e1 = store.create_event(c.id, "mov.break", started_at=1000, note="first")
    e2 = store.correct_event(e1.id, reason="wrong strategy", by=None,
                             changes={"strategy": "ves.rock"})
    e3 = store.correct_event(e2.id, reason="time was off", by=None,
                             changes={"started_at": 900, "ended_at": 2000})
    old = store.get_event(e1.id)
    assert old.voided and old.void_reason == "wrong strategy" and old.strategy == "mov.break"
    assert e2.replaces_id == e1.id and e3.replaces_id == e2.id
    assert e3.strategy == "ves.rock" and e3.note == "first" and e3.started_at == 900
    history = store.event_history(e2.id)
    assert [h.id for h in history] == [e1.id, e2.id, e3.id]
    assert [h.voided for h in history] == [True, True, False]
    assert [e.id for e in store.list_events(child_id=c.id)] == [e3.id]
    assert len(store.list_events(child_id=c.id, include_voided=True)) == 3
    with pytest.raises(ValidationError, match="voided"):
        store.correct_event(e1.id, reason="again", by=None, changes={"note": "x"})


def test_void_needs_reason_and_happens_once(store: Store) -> None:
    c = store.create_child(code="KID-1")
    e = store.create_event(c.id, "tac.fidget")
    with pytest.raises(ValidationError):
        store.void_event(e.id, reason="  ", by=None)
    store.void_event(e.id, reason="logged by mistake", by=None)
    with pytest.raises(ValidationError):
        store.void_event(e.id, reason="again", by=None)
    with pytest.raises(NotFoundError):
        store.void_event(999, reason="x", by=None)


def test_end_event_only_once_and_not_before_start(store: Store) -> None:
    c = store.create_child(code="KID-1")
    e = store.create_event(c.id, "ves.swing_linear", started_at=5_000)
    with pytest.raises(ValidationError):
        store.end_event(e.id, ended_at=4_000)
    done = store.end_event(e.id, ended_at=9_000)
    assert done.ended_at == 9_000
    with pytest.raises(ValidationError):
        store.end_event(e.id)


def test_database_refuses_in_place_edits(store: Store) -> None:
    c = store.create_child(code="KID-1")
    e = store.create_event(c.id, "mov.break", started_at=10, ended_at=20)
    for sql in ("UPDATE strategy_events SET strategy = 'x' WHERE id = ?",
                "UPDATE strategy_events SET note = 'x' WHERE id = ?",
                "UPDATE strategy_events SET ended_at = 30 WHERE id = ?"):
        with pytest.raises(StorageError, match="never edited"), store.transaction() as con:
            con.execute(sql, (e.id,))
    assert store.get_event(e.id).ended_at == 20


def test_event_validation(store: Store) -> None:
    a = store.create_child(code="KID-A")
    b = store.create_child(code="KID-B")
    s = store.start_session(b.id)
    with pytest.raises(ValidationError, match="another child"):
        store.create_event(a.id, "mov.break", session_id=s.id)
    with pytest.raises(ValidationError):
        store.create_event(a.id, "mov.break", started_at=10, ended_at=5)
    with pytest.raises(ValidationError):
        store.create_event(a.id, "", started_at=10)
    with pytest.raises(NotFoundError):
        store.create_event(999, "mov.break")


def test_catalogue_edit(store: Store) -> None:
    s = store.put_strategy({"id": "clinic.swing_song", "label": "Swing song",
                            "category": "Vestibular", "systems": ["vestibular", "auditory"]})
    assert s.custom and s.active and s.systems == ("vestibular", "auditory")
    again = store.put_strategy({"id": "mov.break", "label": "Movement break",
                                "category": "Movement break"})
    assert not again.custom and again.label == "Movement break"
    with pytest.raises(ValidationError):
        store.put_strategy({"id": "Bad Key", "label": "x", "category": "y"})
    with pytest.raises(NotFoundError):
        store.set_strategy_active("nope", False)
