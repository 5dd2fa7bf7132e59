"""EpochTable exports, the data dictionary, bouts and autocalibration."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from movereg.errors import ParameterError
from movereg.signal import (
    EPOCH_COLUMNS,
    Calibration,
    EpochTable,
    FeatureConfig,
    FeatureEngine,
    apply_calibration,
    calibrate,
    data_dictionary,
    extract_features,
    movement_breaks,
    vigorous_bouts,
    write_data_dictionary,
)
from movereg.signal.table import columns_as_lists

T0 = 1_767_225_600_000_000_000      # 2026-01-01T00:00:00Z


def _table(seed: int = 0) -> EpochTable:
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 0.2, (25 * 30, 3)) + np.array([0.0, 0.0, 1.0])
    x[100:140] = np.nan
    return extract_features(x, 25.0, t0_ns=T0, epoch_s=5.0)


def test_csv_roundtrip_iso_times_and_nan(tmp_path: Path) -> None:
    tab = _table()
    p = tmp_path / "e.csv"
    tab.to_csv(p)
    with open(p, encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == [n for n, _ in EPOCH_COLUMNS]
    assert rows[0]["epoch_start"] == "2026-01-01T00:00:00.000000+00:00"
    assert rows[1]["epoch_start"] == "2026-01-01T00:00:05.000000+00:00"
    assert len(rows) == tab.n
    for name, _dt in EPOCH_COLUMNS[1:]:
        col = np.array([float(r[name]) if r[name] != "" else np.nan for r in rows])
        np.testing.assert_array_equal(col, tab[name].astype(float), err_msg=name)


def test_parquet_roundtrip(tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    tab = _table(1)
    p = tmp_path / "e.parquet"
    tab.to_parquet(p)
    t = pq.read_table(p)
    assert t.column_names == [n for n, _ in EPOCH_COLUMNS]
    assert str(t.schema.field("epoch_start").type) == "timestamp[ns, tz=UTC]"
    np.testing.assert_array_equal(t.column("epoch_start").cast("int64").to_numpy(),
                                  tab["epoch_start"])
    np.testing.assert_array_equal(t.column("enmo_mg").to_numpy(), tab["enmo_mg"])


def test_records_concat_slice_and_validation() -> None:
    tab = _table(2)
    recs = tab.to_records()
    assert len(recs) == tab.n and set(recs[0]) == {n for n, _ in EPOCH_COLUMNS}
    both = EpochTable.concat([tab.slice(0, 2), tab.slice(2, tab.n)])
    assert both.equals(tab)
    assert EpochTable.concat([]).n == 0
    bad = dict(tab.columns)
    bad["zone"] = bad["zone"].astype(np.int64)
    with pytest.raises(ParameterError):
        EpochTable(bad)
    missing = dict(tab.columns)
    del missing["impacts"]
    with pytest.raises(ParameterError):
        EpochTable(missing)


def test_packed_tables_from_the_engine_read_like_plain_ones() -> None:
    """Streamed tables are packed; columns, lists, records and slices match a plain copy."""
    x = np.random.default_rng(4).normal(0.0, 0.4, size=(4_000, 3))
    x[700:900] = np.nan
    eng = FeatureEngine(50.0, epoch_s=1.0)
    tables = [eng.push(x[i:i + 250], T0 + i * 20_000_000) for i in range(0, 4_000, 250)]
    tables.append(eng.flush())
    emitted = [t for t in tables if t.n]
    assert len(emitted) > 3 and sum(t.n for t in emitted) == 80
    for t in emitted:
        plain = EpochTable({k: v.copy() for k, v in t.columns.items()})
        assert set(t.columns) == set(t.names) and repr(t) == f"EpochTable(n={t.n})"
        lists = t.column_lists()
        assert lists is t.column_lists() is columns_as_lists(t)       # cached
        want = plain.column_lists()
        assert list(lists) == list(want)
        for name in t.names:
            np.testing.assert_array_equal(np.array(lists[name], dtype=float),
                                          np.array(want[name], dtype=float))
            assert t.columns[name].dtype == plain.columns[name].dtype
        assert len(t.to_records()) == t.n
        assert t.slice(0, 1).equals(plain.slice(0, 1))
    whole = EpochTable.concat(emitted)
    assert whole.equals(extract_features(x, 50.0, t0_ns=T0, epoch_s=1.0))
    other = type("TableLike", (), {"columns": {"epoch_start": np.zeros(2)}, "n": 2})()
    assert columns_as_lists(other) is other.columns       # any table-like: its columns


def test_data_dictionary_covers_every_column(tmp_path: Path) -> None:
    entries = data_dictionary()
    assert [e["name"] for e in entries] == [n for n, _ in EPOCH_COLUMNS]
    for e in entries:
        assert set(e) == {"name", "unit", "dtype", "definition", "reference", "notes"}
        assert e["definition"]
    zone = next(e for e in entries if e["name"] == "zone")
    assert "not validated for this population or device" in zone["notes"].lower()
    c52 = next(e for e in data_dictionary(52.0) if e["name"] == "counts_vm")
    assert "ActiGraph-like, not ActiLife-identical" in c52["notes"]
    c100 = next(e for e in data_dictionary(100.0) if e["name"] == "counts_vm")
    assert "ActiLife-identical method" in c100["notes"]
    write_data_dictionary(tmp_path / "d.json")
    write_data_dictionary(tmp_path / "d.csv")
    assert json.loads((tmp_path / "d.json").read_text())[0]["name"] == "epoch_start"
    with open(tmp_path / "d.csv", encoding="utf-8") as fh:
        assert len(list(csv.DictReader(fh))) == len(EPOCH_COLUMNS)


def _enmo_table(enmo: list[float], epoch_s: float = 5.0) -> EpochTable:
    cols = {name: np.zeros(len(enmo), dtype=dt) for name, dt in EPOCH_COLUMNS}
    cols["epoch_start"] = T0 + np.arange(len(enmo), dtype=np.int64) * int(epoch_s * 1e9)
    cols["epoch_s"] = np.full(len(enmo), epoch_s)
    cols["enmo_mg"] = np.array(enmo, dtype=float)
    return EpochTable(cols)


def test_movement_breaks_join_short_dips() -> None:
    # 40 s active, 5 s dip, 30 s active, 20 s rest, 10 s active
    e = [100.0] * 8 + [10.0] + [300.0] * 6 + [5.0] * 4 + [80.0] * 2
    bouts = movement_breaks(_enmo_table(e), min_duration_s=60.0, max_dip_s=5.0)
    assert len(bouts) == 1
    b = bouts[0]
    assert b.start_ns == T0 and b.end_ns == T0 + 75 * 10**9
    assert b.duration_s == 75.0 and b.peak_enmo_mg == 300.0
    assert b.mean_enmo_mg == pytest.approx(np.mean(e[:15]))
    assert movement_breaks(_enmo_table(e), min_duration_s=60.0, max_dip_s=0.0) == []
    assert len(movement_breaks(_enmo_table(e), min_duration_s=10.0, max_dip_s=0.0)) == 3


def test_vigorous_bouts_80_percent_rule() -> None:
    e = [800.0] * 9 + [100.0] + [800.0] * 2 + [0.0] * 5
    cfg = FeatureConfig()
    bouts = vigorous_bouts(_enmo_table(e, 1.0), config=cfg, max_gap_s=2.0)
    assert len(bouts) == 1 and bouts[0].duration_s == 12.0
    assert bouts[0].active_fraction == pytest.approx(11 / 12)
    sparse = [800.0, 0.0, 0.0] * 6
    assert vigorous_bouts(_enmo_table(sparse, 1.0), max_gap_s=2.0) == []


def test_calibration_recovers_known_offset_and_scale() -> None:
    rng = np.random.default_rng(5)
    fs = 25.0
    parts = []
    for _ in range(40):                                  # 40 still orientations, 12 s each
        v = rng.normal(size=3)
        v /= np.linalg.norm(v)
        parts.append(np.tile(v, (int(fs * 12), 1)) + rng.normal(0, 0.003, (int(fs * 12), 3)))
        parts.append(rng.normal(0, 0.5, (int(fs * 5), 3)))     # movement between
    true = np.vstack(parts)
    offset = np.array([0.03, -0.02, 0.05])
    scale = np.array([1.02, 0.97, 1.01])
    raw = (true - offset) / scale                       # so that true = offset + scale * raw
    cal = calibrate(raw, fs)
    assert cal.ok, cal.reason
    np.testing.assert_allclose(cal.offset, offset, atol=2e-3)
    np.testing.assert_allclose(cal.scale, scale, atol=2e-3)
    assert cal.error_after_mg < cal.error_before_mg / 5
    fixed = apply_calibration(raw, cal)
    np.testing.assert_allclose(fixed, true, atol=1e-2)


def test_calibration_refuses_without_orientations() -> None:
    x = np.tile([0.0, 0.0, 1.0], (25 * 600, 1))
    cal = calibrate(x, 25.0)
    assert not cal.ok and "orientations" in cal.reason
    np.testing.assert_array_equal(apply_calibration(x, Calibration()), x)
    with pytest.raises(ParameterError):
        calibrate(np.zeros((10, 2)), 25.0)


def test_detect_nonwear_ggir_centred_windows() -> None:
    from movereg.signal import detect_nonwear

    fs = 2.0
    rng = np.random.default_rng(9)
    hour = int(3600 * fs)
    moving = rng.normal(0, 0.3, (2 * hour, 3)) + np.array([0.0, 0.0, 1.0])
    still = np.tile([0.0, 0.0, 1.0], (3 * hour, 1)) + rng.normal(0, 0.002, (3 * hour, 3))
    x = np.vstack([moving, still, moving])
    flags = detect_nonwear(x, fs, epoch_s=900.0)          # one epoch per 15-min step
    assert flags.shape == (28,)
    # centred 60-min windows: steps whose window lies inside the still 3 h are flagged
    expected = np.zeros(28, dtype=np.int8)
    for b in range(28):
        lo, hi = b * 900 - 1350, (b + 1) * 900 + 1350       # seconds
        expected[b] = int(lo >= 7200 and hi <= 18000)
    np.testing.assert_array_equal(flags, expected)
    assert flags.sum() == 8
    assert detect_nonwear(np.zeros((0, 3)), fs).shape == (0,)
