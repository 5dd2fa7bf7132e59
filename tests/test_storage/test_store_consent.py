"""Migration 0002 (research consent): upgrades a v1 file in place; consent semantics."""

from __future__ import annotations

import sqlite3
from importlib import resources
from pathlib import Path

import pytest

from movereg.errors import NotFoundError, ValidationError
from movereg.storage import SCHEMA_VERSION, Store
from movereg.storage._db import _split_sql


def test_a_v1_database_is_upgraded_in_place(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    v1 = resources.files("movereg.storage").joinpath("migrations/0001_initial.sql")
    con = sqlite3.connect(path)
    for stmt in _split_sql(v1.read_text(encoding="utf-8")):
        con.execute(stmt)
    con.execute("INSERT INTO children(code, created_at) VALUES ('KID-OLD', 1)")
    con.execute("PRAGMA user_version = 1")
    con.commit()
    con.close()
    with Store(path) as store:
        assert store.schema_version == SCHEMA_VERSION >= 2
        child = store.find_child("KID-OLD")
        assert child is not None
        assert store.current_consent(child.id) is None      # privacy by default
        assert store.consented_children() == set()
        store.record_consent(child.id, consented=True, recorded_by="t")
        assert store.consented_children() == {child.id}
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_current_record_decides_and_scopes_nest(tmp_path: Path) -> None:
    with Store(tmp_path / "db.sqlite3") as s:
        a, b, c = (s.create_child(code=f"KID-{x}") for x in "ABC")
        s.record_consent(a.id, consented=True, scope="features+raw", recorded_by="t")
        s.record_consent(b.id, consented=True, scope="features", recorded_by="t")
        s.record_consent(c.id, consented=True, scope="features+raw", recorded_by="t")
        s.record_consent(c.id, consented=False, recorded_by="t")  # later refusal wins
        assert s.consented_children("features") == {a.id, b.id}
        assert s.consented_children("features+raw") == {a.id}
        w = s.withdraw_consent(a.id, withdrawn_by="p")
        assert w.withdrawn_by == "p" and not w.active and w.consented
        assert s.consented_children("features") == {b.id}
        assert [x.consented for x in s.consent_history(c.id)] == [True, False]
        with pytest.raises(NotFoundError):
            s.withdraw_consent(c.id, withdrawn_by="p")   # a refusal is not withdrawable
        with pytest.raises(NotFoundError):
            s.record_consent(999, consented=True, recorded_by="t")
        with pytest.raises(ValidationError):
            s.record_consent(a.id, consented=True, scope="all", recorded_by="t")
