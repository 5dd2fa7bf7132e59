"""The optional-filter WHERE builder used by the list queries."""

from __future__ import annotations

from movereg.storage._db import NO_PARAM, where


def test_skips_none_binds_values_and_applies_parameterless_terms() -> None:
    clause, params = where([("a = ?", 1), ("b = ?", None), ("c IS NULL", NO_PARAM),
                            ("d < ?", 0)])
    assert clause == " WHERE a = ? AND c IS NULL AND d < ?"
    assert params == [1, 0]  # 0 is a value, not "absent"


def test_no_terms_give_no_clause() -> None:
    assert where([("a = ?", None)]) == ("", [])
