"""The optional-filter WHERE builder used by the list queries."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from movereg.storage._db import NO_PARAM, is_in, where


def test_skips_none_binds_values_and_applies_parameterless_terms() -> None:
    clause, params = where([("a = ?", 1), ("b = ?", None), ("c IS NULL", NO_PARAM),
                            ("d < ?", 0)])
    assert clause == " WHERE a = ? AND c IS NULL AND d < ?"
    assert params == [1, 0]  # 0 is a value, not "absent"


def test_no_terms_give_no_clause() -> None:
    assert where([("a = ?", None)]) == ("", [])


def test_is_in_binds_each_value_in_term_order() -> None:
    clause, params = where([("a = ?", 1), is_in("state", ["x", "y"]), ("d < ?", 2),
                            is_in("kind", None)])
    assert clause == " WHERE a = ? AND state IN (?, ?) AND d < ?"
    assert params == [1, "x", "y", 2]   # the list's values where its term stands


def test_is_in_an_empty_list_matches_nothing(tmp_path: Path) -> None:
    con = sqlite3.connect(tmp_path / "t.sqlite3")
    con.execute("CREATE TABLE t(state TEXT)")
    con.execute("INSERT INTO t VALUES ('x')")
    clause, params = where([is_in("state", [])])
    assert con.execute(f"SELECT COUNT(*) FROM t{clause}", params).fetchone()[0] == 0
    con.close()

