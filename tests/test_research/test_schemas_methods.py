"""Published JSON Schemas match the dictionary and validate real exports; README methods."""

from __future__ import annotations

import json
import math
import re
from datetime import datetime
from pathlib import Path

import jsonschema
import numpy as np
import pyarrow.parquet as pq
import pytest
from research_support import cohort as _cohort

from movereg.cli import main
from movereg.config import Settings
from movereg.models import SampleBlock
from movereg.storage import IngestBatch, Store
from movereg.storage.tables import TABLES, json_schema, methods_text, table_dictionary

ROOT = Path(__file__).resolve().parents[2]


def test_published_schemas_are_the_generated_ones() -> None:
    for table in TABLES:
        published = json.loads((ROOT / "schemas" / f"{table}.schema.json").read_text())
        assert published == json_schema(table), f"regenerate schemas/{table}.schema.json"
        jsonschema.Draft202012Validator.check_schema(published)
        assert all(e["definition"] for e in table_dictionary(table))


def _json_rows(path: Path) -> list[dict[str, object]]:
    rows = pq.read_table(path).to_pylist()
    out = []
    for row in rows:
        out.append({k: (v.isoformat() if isinstance(v, datetime) else
                        None if isinstance(v, float) and math.isnan(v) else v)
                    for k, v in row.items()})
    return out


@pytest.mark.parametrize("table", ["epochs", "days", "raw", "events"])
def test_real_exports_validate(table: str, tmp_path: Path,
                               capsys: pytest.CaptureFixture[str]) -> None:
    d = _cohort(tmp_path / "db")
    with Store(Settings(data_dir=tmp_path / "db").db_path) as store:
        kid = store.find_child("KID-1")
        assert kid is not None
        t0 = int(store.epochs(child_id=kid.id)["epoch_start"][0])
        store.write_batch(IngestBatch(raw=[("AA:BB:CC:DD:EE:00", SampleBlock(
            "AA:BB:CC:DD:EE:00", t0, 50.0, np.zeros((50, 3), "float32")))]))
    out = tmp_path / f"{table}.parquet"
    assert main(["export", "--data-dir", d, "--what", table, "--format", "parquet",
                 "--out", str(out)]) == 0
    capsys.readouterr()
    rows = _json_rows(out)
    assert rows
    validator = jsonschema.Draft202012Validator(
        json_schema(table), format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    for row in rows:
        validator.validate(row)
    if rows:
        bad = dict(rows[0], child_code=7)
        assert not validator.is_valid(bad)


def test_readme_methods_paragraph_is_the_generated_one() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    m = re.search(r"<!-- methods:start -->\n(.*?)\n<!-- methods:end -->", text, re.S)
    assert m, "README has no Methods paragraph"
    assert " ".join(m.group(1).split()) == methods_text()
    assert "van Hees VT et al. J Appl Physiol 2014" in methods_text()


def test_feature_file_extras_are_in_the_dictionary() -> None:
    from movereg.signal.calibration import Calibration, calibration_row

    names = {e["name"] for e in table_dictionary("features_extra")}
    assert set(calibration_row(Calibration(), "off")) | {"nonwear_ggir"} == names
    assert all(e["definition"] for e in table_dictionary("features_extra"))
