"""A family's erasure (#19) also removes what was imported for the child (#22)."""

from __future__ import annotations

import numpy as np
from imports_support import AX3

from movereg.pipeline.importer import import_file
from movereg.storage import Child, Store


def _count(store: Store, sql: str, *args: object) -> int:
    return int(store._read().execute(sql, args).fetchone()[0])


def test_erasing_a_child_removes_their_imports_and_keeps_the_other_childs(
        store: Store, child: Child) -> None:
    other = store.create_child(display_name="Bo")
    mine = import_file(store, child.id, AX3, actor="tester", tz="Europe/London")
    theirs = import_file(store, other.id, AX3, actor="tester", tz="Europe/London")
    assert store.timeline(child.id)["epoch_start"].shape[0] == mine.n_epochs > 0
    before = store.timeline(other.id)

    store.delete_child(child.id, actor="tester")

    for table in ("epochs", "gaps"):
        assert _count(store, f"SELECT COUNT(*) FROM {table} WHERE source_id = ?", mine.id) == 0
    assert _count(store, "SELECT COUNT(*) FROM sources WHERE child_id = ?", child.id) == 0
    after = store.timeline(other.id)
    assert after.keys() == before.keys()
    for k in before:
        np.testing.assert_array_equal(after[k], before[k])
    assert after["epoch_start"].shape[0] == theirs.n_epochs
    assert store.verify_audit().ok
