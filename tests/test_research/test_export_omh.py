"""Open mHealth exports validated offline against the vendored published schemas."""

from __future__ import annotations

import csv
import json
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
from movereg.storage.export_omh import _NAMESPACE, STANDARD_GRAVITY

ROOT = Path(__file__).resolve().parents[2]
VENDOR = ROOT / "schemas" / "omh"
_BASES = {"omh": "https://w3id.org/openmhealth/schemas/omh/",
          "ieee": "https://w3id.org/ieee/ieee-1752-schema/"}
#: the source repository's NAME-1.x.json symlinks, resolved as its README records
_ALIASES = {"acceleration-unit-value-1.x.json": "acceleration-unit-value-1.1.json",
            "body-location-1.x.json": "body-location-1.1.json",
            **{f"{n}-1.x.json": f"{n}-1.0.json" for n in (
                "activity-name", "length-unit-value", "duration-unit-value",
                "kcal-unit-value", "time-frame", "time-interval", "date-time", "unit-value",
                "part-of-day")}}


def _registry() -> Registry[Any]:
    """Every vendored schema at its published URI (no network: nothing else resolves)."""
    registry: Registry[Any] = Registry()
    for family, base in _BASES.items():
        for path in sorted((VENDOR / family).glob("*.json")):
            res = Resource.from_contents(json.loads(path.read_text(encoding="utf-8")))
            registry = registry.with_resource(base + path.name, res)
    for alias, target in _ALIASES.items():
        registry = registry.with_resource(_BASES["omh"] + alias,
                                          registry.get_or_retrieve(
                                              _BASES["omh"] + target).value)
    return registry.crawl()


def _validator(name: str) -> jsonschema.protocols.Validator:
    contents = json.loads((VENDOR / "omh" / name).read_text(encoding="utf-8"))
    cls = jsonschema.validators.validator_for(contents)
    cls.check_schema(contents)
    return cls({"$ref": _BASES["omh"] + name}, registry=_registry(),
               format_checker=cls.FORMAT_CHECKER)


def _header_ok(head: dict[str, Any], name: str, code: str) -> None:
    """The data-point-1.0 / header-1.1 envelope (schema-id is not vendored: see README)."""
    assert set(head) >= {"id", "creation_date_time", "schema_id"}
    assert head["schema_id"] == {"namespace": "omh", "name": name, "version": "2.0"}
    assert head["user_id"] == code
    prov = head["acquisition_provenance"]
    assert prov["source_name"].startswith("movereg ") and prov["modality"] == "sensed"
    fmt = jsonschema.Draft7Validator.FORMAT_CHECKER
    assert fmt.conforms(head["creation_date_time"], "date-time")
    assert fmt.conforms(prov["source_creation_date_time"], "date-time")


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


def test_vendored_schemas_check_and_resolve_offline() -> None:
    for family in _BASES:
        for path in (VENDOR / family).glob("*.json"):
            contents = json.loads(path.read_text(encoding="utf-8"))
            jsonschema.validators.validator_for(contents).check_schema(contents)
    assert (VENDOR / "LICENSE").read_text().lstrip().startswith("Apache License")
    # a wrong unit, a missing axis and a bad time are each refused
    v = _validator("acceleration-2.0.json")
    good = {"acceleration_x": {"value": 0.1, "unit": "m/s^2"},
            "acceleration_y": {"value": 0.2, "unit": "m/s^2"},
            "effective_time_frame": {"date_time": "2025-06-06T01:00:00.020000+00:00"}}
    v.validate(good)
    assert not v.is_valid(dict(good, acceleration_x={"value": 0.1, "unit": "g"}))
    assert not v.is_valid({k: good[k] for k in ("acceleration_x", "effective_time_frame")})
    assert not v.is_valid(dict(good, effective_time_frame={"date_time": "6 June 2025"}))
    pa = _validator("physical-activity-2.0.json")
    day = {"activity_name": "light-intensity physical activity",
           "effective_time_frame": {"time_interval": {
               "start_date_time": "2025-06-06T00:00:00+02:00",
               "end_date_time": "2025-06-07T00:00:00+02:00"}},
           "effective_duration": {"value": 61.5, "unit": "min"}}
    pa.validate(day)
    assert not pa.is_valid(dict(day, effective_duration={"value": 1, "unit": "wk"}))
    assert not pa.is_valid({"activity_name": "x"})


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
    v = _validator("acceleration-2.0.json")
    for point, row in zip(points, table, strict=True):
        v.validate(point["body"])
        _header_ok(point["header"], "acceleration", "KID-1")
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
    v = _validator("physical-activity-2.0.json")
    got: dict[tuple[str, str, str], float] = {}
    for point in points:
        v.validate(point["body"])
        body = point["body"]
        _header_ok(point["header"], "physical-activity", point["header"]["user_id"])
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
        v = _validator("acceleration-2.0.json")
        for p in points:
            v.validate(p["body"])
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
