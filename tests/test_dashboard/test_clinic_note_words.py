"""The note draft's wording: descriptive comparisons only, numbers only when asked."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from movereg.dashboard.session_review import compare_words

_JUDGING = ("good", "bad", "better", "worse", "improv", "dysregul", "abnormal", "calm",
            "diagnos", "success", "fail")


def test_higher_lower_same_and_missing() -> None:
    assert compare_words(150.0, 5.0) == \
        "activity higher during it than in the 5 minutes before"
    assert compare_words(5.0, 150.0) == "activity lower during it than in the 5 minutes before"
    assert compare_words(100.0, 95.0).startswith("activity about the same")
    assert compare_words(None, 5.0).startswith("not enough band data")
    assert compare_words(0.5, 0.2).startswith("activity about the same")   # both near still
    assert compare_words(150.0, 5.0, with_numbers=True).endswith("(5 -> 150 mg)")


@given(st.one_of(st.none(), st.floats(0, 3000)), st.one_of(st.none(), st.floats(0, 3000)),
       st.booleans())
def test_never_judges_and_units_only_on_request(during: float | None, before: float | None,
                                                numbers: bool) -> None:
    text = compare_words(during, before, with_numbers=numbers)
    assert not any(w in text.lower() for w in _JUDGING)
    if not numbers:
        assert "mg" not in text and not any(ch.isdigit() for ch in text.replace("5 minutes", ""))
