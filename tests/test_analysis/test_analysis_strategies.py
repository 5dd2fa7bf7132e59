from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from movereg.analysis import catalogue_path, default_catalogue, load_catalogue, strategy_label
from movereg.analysis.strategies import EXPECTED_MOTIONS, INTENDED_EFFECTS
from movereg.errors import ValidationError


def test_default_catalogue_matches_product_notes() -> None:
    cat = default_catalogue()
    ids = [s.id for s in cat]
    assert len(ids) == len(set(ids)) == 58
    by_id = {s.id: s for s in cat}
    assert by_id["mov.break"].expected_motion == ("high", "impacts")
    assert by_id["ves.spin"].caution is not None and "supervised" in by_id["ves.spin"].caution
    assert by_id["pro.vest"].intended_effect == ("calming",)
    assert by_id["mov.break"].intended_effect == ("alerting", "organizing")
    assert by_id["mov.walk"].caution is None
    for s in cat:
        assert set(s.intended_effect) <= INTENDED_EFFECTS
        assert set(s.expected_motion) <= EXPECTED_MOTIONS
        assert s.setting and s.label and s.category
        assert s.to_dict()["id"] == s.id


def test_catalogue_path_is_the_packaged_yaml() -> None:
    doc = yaml.safe_load(catalogue_path().read_text(encoding="utf-8"))
    assert len(doc["strategies"]) == len(default_catalogue())


def test_label_lookup_and_custom() -> None:
    assert strategy_label("pro.wall_push") == "Wall push-ups"
    assert strategy_label("our swing song") == "our swing song"


@pytest.mark.parametrize("entry, msg", [
    ({"id": "x"}, "missing"),
    ({"id": "x", "label": "X", "category": "C", "systems": [], "intended_effect": ["happy"],
      "expected_motion": [], "caution": None, "setting": ["home"]}, "unknown intended_effect"),
    ({"id": "x", "label": "X", "category": "C", "systems": 5,
      "intended_effect": [], "expected_motion": [], "caution": None, "setting": []}, "list"),
])
def test_bad_entries_are_rejected(tmp_path: Path, entry: dict, msg: str) -> None:
    p = tmp_path / "cat.yaml"
    p.write_text(yaml.safe_dump({"strategies": [entry]}), encoding="utf-8")
    with pytest.raises(ValidationError, match=msg):
        load_catalogue(p)


def test_duplicate_ids_rejected(tmp_path: Path) -> None:
    e = default_catalogue()[0].to_dict()
    p = tmp_path / "cat.yaml"
    p.write_text(yaml.safe_dump({"strategies": [e, e]}), encoding="utf-8")
    with pytest.raises(ValidationError, match="duplicate"):
        load_catalogue(p)
    with pytest.raises(ValidationError):
        load_catalogue(tmp_path / "missing.yaml")
