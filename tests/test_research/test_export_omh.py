"""Open mHealth exports validated offline against movereg's own schemas of the records
(``schemas/omh-*.schema.json``) and, when ``MOVEREG_OMH_SCHEMA_DIR`` points at a checkout
of the published schemas, against those too."""

from __future__ import annotations

import copy
import csv
import json
import os
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import jsonschema
import numpy as np
import pyarrow.parquet as pq
import pytest
from referencing import Registry, Resource
from research_support import T0
from research_support import cohort as _cohort

from movereg.cli import main
from movereg.config import Settings
from movereg.models import SampleBlock
from movereg.storage import IngestBatch, Store
from movereg.storage.export_omh import _NAMESPACE, OMH_DAY_ZONES, STANDARD_GRAVITY

ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = ROOT / "schemas"
_ENV = "MOVEREG_OMH_SCHEMA_DIR"
_BASES = {"omh": "https://w3id.org/openmhealth/schemas/omh/",
          "ieee": "https://w3id.org/ieee/ieee-1752-schema/"}


def _ours(name: str) -> jsonschema.protocols.Validator:
    """movereg's schema of a whole data point (header + body), date-time etc. checked."""
    contents = json.loads((SCHEMAS / f"omh-{name}.schema.json").read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(contents)
    return jsonschema.Draft202012Validator(
        contents, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)


def _published_registry(root: Path) -> Registry[Any]:
    """Every published schema of a local checkout at its published URI (no network).

    A ``NAME-1.x.json`` is a symbolic link in the repository; where a checkout keeps it
    as a text file holding the target's name, that file is followed by hand."""
    registry: Registry[Any] = Registry()
    for family, base in _BASES.items():
        for path in sorted((root / "schema" / family).glob("*.json")):
            text = path.read_text(encoding="utf-8")
            if not text.lstrip().startswith("{"):
                text = (path.parent / text.strip()).read_text(encoding="utf-8")
            registry = registry.with_resource(
                base + path.name, Resource.from_contents(json.loads(text)))
    return registry.crawl()


def _published(name: str) -> jsonschema.protocols.Validator:
    """The published body schema ``omh/NAME-2.0.json`` of the checkout in $MOVEREG_OMH_SCHEMA_DIR."""
    root = Path(os.environ[_ENV])
    contents = json.loads((root / "schema" / "omh" / name).read_text(encoding="utf-8"))
    cls = jsonschema.validators.validator_for(contents)
    return cls({"$ref": _BASES["omh"] + name}, registry=_published_registry(root),
               format_checker=cls.FORMAT_CHECKER)


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _raw_db(tmp: Path) -> str:
    d = _cohort(tmp)
    rng = np.random.default_rng(3)
    with Store(Settings(data_dir=tmp).db_path) as store:
        xyz = (rng.normal(0, 0.3, (150, 3)) + np.array([0.0, 0.0, 1.0])).astype("float32")
        store.write_batch(IngestBatch(raw=[("AA:BB:CC:DD:EE:00", SampleBlock(
            "AA:BB:CC:DD:EE:00", T0 + 3600 * 10**9, 50.0, xyz))]))
    return d


_HEAD = {"id": "0b9f1c3e-4d2a-5e6f-8a7b-9c0d1e2f3a4b",
         "creation_date_time": "2025-06-07T09:00:00+02:00",
         "acquisition_provenance": {"source_name": "movereg 0.0", "modality": "sensed",
                                    "source_creation_date_time": "2025-06-06T01:00:00Z"},
         "user_id": "KID-1"}
_ACC = {"header": dict(_HEAD, schema_id={"namespace": "omh", "name": "acceleration",
                                         "version": "2.0"}, movereg_device="d41d8cd9"),
        "body": {"acceleration_x": {"value": 0.1, "unit": "m/s^2"},
                 "acceleration_y": {"value": -0.2, "unit": "m/s^2"},
                 "acceleration_z": {"value": 9.8, "unit": "m/s^2"},
                 "effective_time_frame": {"date_time": "2025-06-06T01:00:00.020000+00:00"}}}
_DAY = {"header": dict(_HEAD, schema_id={"namespace": "omh", "name": "physical-activity",
                                         "version": "2.0"}),
        "body": {"activity_name": "light-intensity physical activity",
                 "effective_time_frame": {"time_interval": {
                     "start_date_time": "2025-06-06T00:00:00+02:00",
                     "end_date_time": "2025-06-07T00:00:00+02:00"}},
                 "effective_duration": {"value": 61.5, "unit": "min"}}}


def _set(path: str, value: Any) -> Any:
    """A mutation: ``value`` at the dotted ``path`` (``...`` deletes the key)."""
    def apply(point: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node = point
        for key in parents:
            node = node[key]
        if value is ...:
            del node[last]
        else:
            node[last] = value
    return apply


#: (record, mutation, a rule of the published body schema?) -- each must be refused
_BROKEN: dict[str, tuple[str, Any, bool]] = {
    "no acceleration_x": ("acceleration", _set("body.acceleration_x", ...), True),
    "no acceleration_y": ("acceleration", _set("body.acceleration_y", ...), True),
    "no unit": ("acceleration", _set("body.acceleration_y.unit", ...), True),
    "no value": ("acceleration", _set("body.acceleration_x.value", ...), True),
    "unit g": ("acceleration", _set("body.acceleration_x.unit", "g"), True),
    "unit m/s2": ("acceleration", _set("body.acceleration_z.unit", "m/s2"), True),
    "value as text": ("acceleration", _set("body.acceleration_x.value", "0.1"), True),
    "no time frame": ("acceleration", _set("body.effective_time_frame", ...), True),
    "bad date-time": ("acceleration",
                      _set("body.effective_time_frame.date_time", "6 June 2025"), True),
    "date-time without offset": ("acceleration", _set(
        "body.effective_time_frame.date_time", "2025-06-06T01:00:00"), True),
    "point and interval": ("acceleration", _set(
        "body.effective_time_frame.time_interval", _DAY["body"]["effective_time_frame"][
            "time_interval"]), True),
    "no schema_id": ("acceleration", _set("header.schema_id", ...), False),
    "schema_id 1.0": ("acceleration", _set("header.schema_id.version", "1.0"), False),
    "no header id": ("acceleration", _set("header.id", ...), False),
    "bad creation time": ("acceleration", _set("header.creation_date_time", "today"), False),
    "modality guessed": ("acceleration",
                         _set("header.acquisition_provenance.modality", "guessed"), False),
    "no header": ("physical-activity", _set("header", ...), False),
    "no z (3 axes)": ("acceleration", _set("body.acceleration_z", ...), False),
    "stray body field": ("acceleration", _set("body.acceleration_w",
                                              {"value": 1, "unit": "m/s^2"}), False),
    "no activity_name": ("physical-activity", _set("body.activity_name", ...), True),
    "activity_name number": ("physical-activity", _set("body.activity_name", 3), True),
    "activity_name not ours": ("physical-activity",
                               _set("body.activity_name", "running"), False),
    "duration unit wk": ("physical-activity", _set("body.effective_duration.unit", "wk"),
                         True),
    "duration unit minutes": ("physical-activity",
                              _set("body.effective_duration.unit", "minutes"), True),
    "negative duration": ("physical-activity",
                          _set("body.effective_duration.value", -1.0), False),
    "interval start only": ("physical-activity", _set(
        "body.effective_time_frame.time_interval.end_date_time", ...), True),
    "interval bad end": ("physical-activity", _set(
        "body.effective_time_frame.time_interval.end_date_time", "2025-06-07 24:00"), True),
    "day without time frame": ("physical-activity",
                               _set("body.effective_time_frame", ...), True),
}


def _good(record: str) -> dict[str, Any]:
    return copy.deepcopy(_ACC if record == "acceleration" else _DAY)


def test_our_schemas_accept_the_records_movereg_writes() -> None:
    acc, pa = _ours("acceleration"), _ours("physical-activity")
    acc.validate(_good("acceleration"))
    pa.validate(_good("physical-activity"))
    for _col, name in OMH_DAY_ZONES:        # the zone names of the exporter, nothing else
        pa.validate(dict(_good("physical-activity"),
                         body=dict(_DAY["body"], activity_name=name)))
    enum = json.loads((SCHEMAS / "omh-physical-activity.schema.json").read_text())[
        "properties"]["body"]["properties"]["activity_name"]["enum"]
    assert enum == [name for _col, name in OMH_DAY_ZONES]
    # the published interval shapes beyond start + end are accepted too
    for frame in ({"start_date_time": "2025-06-06T00:00:00Z",
                   "duration": {"value": 24, "unit": "h"}},
                  {"end_date_time": "2025-06-07T00:00:00Z",
                   "duration": {"value": 1, "unit": "d"}},
                  {"date": "2025-06-06", "part_of_day": "morning"}):
        point = _good("physical-activity")
        point["body"]["effective_time_frame"] = {"time_interval": frame}
        pa.validate(point)
    # every schema of the folder is listed in its README, and says it is not the published one
    readme = (SCHEMAS / "README.md").read_text(encoding="utf-8")
    for path in SCHEMAS.glob("omh-*.schema.json"):
        assert path.name in readme
        assert "not the published schema" in json.loads(path.read_text())["description"]


@pytest.mark.parametrize("case", sorted(_BROKEN))
def test_our_schemas_refuse_a_broken_record(case: str) -> None:
    record, mutate, _published_rule = _BROKEN[case]
    point = _good(record)
    mutate(point)
    assert not _ours(record).is_valid(point), case


def test_raw_as_omh_acceleration_equals_the_parquet_export(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = _raw_db(tmp_path / "db")
    out, ref = tmp_path / "raw.jsonl", tmp_path / "raw.parquet"
    assert main(["export", "--data-dir", d, "--what", "raw", "--format", "omh", "--out",
                 str(out)]) == 0
    assert main(["export", "--data-dir", d, "--what", "raw", "--format", "parquet",
                 "--out", str(ref)]) == 0
    capsys.readouterr()
    points = _lines(out)
    table = pq.read_table(ref).to_pylist()
    assert len(points) == len(table) == 150
    v = _ours("acceleration")
    for point, row in zip(points, table, strict=True):
        v.validate(point)
        assert point["header"]["user_id"] == "KID-1"
        assert point["header"]["acquisition_provenance"]["modality"] == "sensed"
        body = point["body"]
        for ax in "xyz":
            assert body[f"acceleration_{ax}"]["unit"] == "m/s^2"
            assert body[f"acceleration_{ax}"]["value"] / STANDARD_GRAVITY == \
                pytest.approx(row[f"{ax}_g"], rel=1e-12)
        assert datetime.fromisoformat(body["effective_time_frame"]["date_time"]) == row["time"]
        assert point["header"]["movereg_device"] == row["device"]
    assert len({p["header"]["id"] for p in points}) == 150      # one id per sample
    for i in (0, 77, 149):   # UUID5 of (table, child, band, time ns), as uuid.uuid5 makes it
        name = f"raw:KID-1:{table[i]['device']}:{T0 + 3600 * 10**9 + i * 20_000_000}"
        assert points[i]["header"]["id"] == str(uuid.uuid5(_NAMESPACE, name))
    prov = json.loads(out.with_name(out.name + ".json").read_text())
    assert prov["format"] == "omh" and prov["rows"] == 150 and prov["why_empty"] is None
    # the same samples exported again keep their ids
    again = tmp_path / "again.jsonl"
    assert main(["export", "--data-dir", d, "--what", "raw", "--format", "omh", "--out",
                 str(again)]) == 0
    assert [p["header"]["id"] for p in _lines(again)] == [p["header"]["id"] for p in points]


def test_days_as_omh_physical_activity_equal_the_csv_day_table(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = _cohort(tmp_path / "db")
    out, ref = tmp_path / "days.jsonl", tmp_path / "days.csv"
    for fmt, path in (("omh", out), ("csv", ref)):
        assert main(["export", "--data-dir", d, "--what", "days", "--format", fmt,
                     "--out", str(path), "--tz", "Europe/Amsterdam",
                     "--valid-day", "10h"]) == 0
    capsys.readouterr()
    with ref.open(newline="") as fh:
        days = list(csv.DictReader(fh))
    valid = [r for r in days if r["valid_day"] == "1"]
    assert 0 < len(valid) < len(days)            # the rule leaves some days out
    points = _lines(out)
    assert len(points) == 3 * len(valid)
    v = _ours("physical-activity")
    got: dict[tuple[str, str, str], float] = {}
    for point in points:
        v.validate(point)
        body = point["body"]
        frame = body["effective_time_frame"]["time_interval"]
        day = frame["start_date_time"][:10]
        assert frame["start_date_time"].endswith(("+02:00", "+01:00"))   # local day
        assert body["effective_duration"]["unit"] == "min"
        zone = body["activity_name"].split("-")[0]
        got[(point["header"]["user_id"], day, zone)] = body["effective_duration"]["value"]
    want = {(r["child_code"], r["date"], z): float(r[f"{z}_min"])
            for r in valid for z in ("light", "moderate", "vigorous")}
    assert got.keys() == want.keys()
    for key, value in want.items():
        assert got[key] == pytest.approx(value, rel=1e-12)


def test_omh_with_no_rows_says_why(tmp_path: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    d = _cohort(tmp_path / "db")
    out = tmp_path / "raw.jsonl"
    assert main(["export", "--data-dir", d, "--what", "raw", "--format", "omh", "--out",
                 str(out)]) == 0
    said = capsys.readouterr().out
    assert out.read_bytes() == b""
    prov = json.loads(out.with_name(out.name + ".json").read_text())
    assert "no raw samples" in prov["why_empty"] and "no raw samples" in said
    # days exist, none valid under a 24-h rule: the reason names the rule
    days = tmp_path / "days.jsonl"
    assert main(["export", "--data-dir", d, "--what", "days", "--format", "omh", "--out",
                 str(days), "--valid-day", "24h"]) == 0
    said = capsys.readouterr().out
    prov = json.loads(days.with_name(days.name + ".json").read_text())
    assert prov["rows"] == 0 and "no valid days" in prov["why_empty"]
    assert "24 h of wear" in said
    # epochs have no Open mHealth mapping: one line, exit 2
    assert main(["export", "--data-dir", d, "--what", "epochs", "--format", "omh",
                 "--out", str(tmp_path / "e.jsonl")]) == 2
    assert "applies to --what raw and --what days" in capsys.readouterr().err


def test_export_page_api_streams_omh_raw(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                         ) -> None:
    import sys

    sys.path.insert(0, str(ROOT / "tests" / "test_dashboard"))
    from h5_api_support import T0 as API_T0
    from h5_api_support import make_api

    gen = make_api(tmp_path, monkeypatch)
    api = next(gen)
    try:
        xyz = np.tile(np.array([[0.0, 0.5, 1.0]], dtype=np.float32), (60, 1))
        api.store.write_batch(IngestBatch(raw=[("dev-a", SampleBlock("dev-a", API_T0, 30.0,
                                                                     xyz))]))
        r = api.client.get("/api/export/raw", params={"format": "omh", "child": "KID-A"},
                           headers=api.h("researcher"))
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("application/x-ndjson")
        assert ".jsonl" in r.headers["content-disposition"]
        points = [json.loads(line) for line in r.text.splitlines()]
        assert len(points) == 60
        v = _ours("acceleration")
        for p in points:
            v.validate(p)
            assert p["body"]["acceleration_z"]["value"] == pytest.approx(STANDARD_GRAVITY)
        bad = api.client.get("/api/export/epochs", params={"format": "omh"},
                             headers=api.h("researcher"))
        assert bad.status_code == 422 and "raw samples only" in bad.text
    finally:
        gen.close()


def test_export_page_api_carries_provenance_and_says_why_when_empty(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    sys.path.insert(0, str(ROOT / "tests" / "test_dashboard"))
    from h5_api_support import make_api

    gen = make_api(tmp_path, monkeypatch)
    api = next(gen)
    try:
        r = api.client.get("/api/export/epochs", params={"format": "parquet", "child": "KID-A"},
                           headers=api.h("researcher"))
        assert r.status_code == 200 and "X-Movereg-Why-Empty" not in r.headers
        (tmp_path / "e.parquet").write_bytes(r.content)
        meta = pq.read_schema(tmp_path / "e.parquet").metadata
        prov = json.loads(meta[b"movereg.provenance"])
        assert prov["movereg_version"] and prov["feature_definitions_version"]
        assert prov["parameters"]["children"] == ["KID-A"] and prov["exported_at"]
        assert json.loads(r.headers["X-Movereg-Provenance"]) == prov
        # KID-A has no raw samples: the download says so (header and Parquet metadata)
        r = api.client.get("/api/export/raw", params={"format": "csv", "child": "KID-A"},
                           headers=api.h("researcher"))
        assert r.status_code == 200
        assert "no raw samples" in r.headers["X-Movereg-Why-Empty"]
        assert "no raw samples" in json.loads(r.headers["X-Movereg-Provenance"])["why_empty"]
        assert r.text.splitlines()[0].startswith("child_code,")   # the header row only
        assert len(r.text.splitlines()) == 1
    finally:
        gen.close()


@pytest.mark.skipif(not os.environ.get(_ENV),
                    reason=f"set {_ENV} to a checkout of github.com/openmhealth/schemas "
                           "to validate exports against the published schemas too")
def test_exports_validate_against_the_published_schemas(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    acc, pa = _published("acceleration-2.0.json"), _published("physical-activity-2.0.json")
    d = _raw_db(tmp_path / "db")
    raw, days = tmp_path / "raw.jsonl", tmp_path / "days.jsonl"
    assert main(["export", "--data-dir", d, "--what", "raw", "--format", "omh", "--out",
                 str(raw)]) == 0
    assert main(["export", "--data-dir", d, "--what", "days", "--format", "omh", "--out",
                 str(days), "--valid-day", "10h"]) == 0
    capsys.readouterr()
    raw_points, day_points = _lines(raw), _lines(days)
    assert raw_points and day_points
    for point in raw_points:
        acc.validate(point["body"])
    for point in day_points:
        pa.validate(point["body"])
    # our schemas refuse no body the published ones accept among the broken cases we
    # mark as published rules: each is refused by the published body schema too
    for case, (record, mutate, published_rule) in _BROKEN.items():
        if published_rule:
            point = _good(record)
            mutate(point)
            assert not (acc if record == "acceleration" else pa).is_valid(point["body"]), case
