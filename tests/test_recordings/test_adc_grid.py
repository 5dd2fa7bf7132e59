"""Restoring rounded ADC steps: exact when provable, never fires on ordinary data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from movereg.cli import main
from movereg.errors import ParameterError
from movereg.recordings import detect_adc_grid, open_recording, snap_to_grid
from movereg.recordings.adc_grid import parse_adc_grid

GRIDS = (256.0, 1024.0 / 3.0)
R4 = Path(__file__).resolve().parents[1] / "data" / "actilife" / "R4_raw.csv.gz"


def _steps(seed: int, n: int, lsb: float) -> np.ndarray:
    """Device values: whole ADC steps of a moving wrist, in g (n, 3)."""
    rng = np.random.default_rng(seed)
    g = rng.normal(0.0, 0.4, (n, 3)) + np.array([0.0, 0.0, 1.0])
    return np.rint(np.clip(g, -6.0, 6.0) * lsb) / lsb


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), lsb=st.sampled_from(GRIDS),
       decimals=st.sampled_from([3, 4, 6]), nan_rows=st.integers(0, 50))
def test_rounded_steps_are_found_and_restored_exactly(seed: int, lsb: float, decimals: int,
                                                      nan_rows: int) -> None:
    dev = _steps(seed, 2000, lsb)
    dev[np.random.default_rng(seed).integers(0, 2000, nan_rows)] = np.nan
    written = np.round(dev, decimals)
    found = detect_adc_grid(written)
    assert found is not None
    got_lsb, got_dec = found
    assert got_lsb == lsb and got_dec <= decimals
    back = snap_to_grid(written, got_lsb, tolerance_g=0.5 * 10.0 ** -got_dec)
    np.testing.assert_array_equal(back, dev)            # NaN rows stay NaN, the rest exact
    assert np.nanmax(np.abs(back - written)) <= 0.5 * 10.0 ** -decimals + 1e-12


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), decimals=st.sampled_from([2, 3, 4, 6, None]))
def test_ordinary_data_is_never_taken_for_steps(seed: int, decimals: int | None) -> None:
    rng = np.random.default_rng(seed)
    x = rng.normal(0.0, 0.4, (2000, 3)) + np.array([0.0, 0.0, 1.0])
    if decimals is not None:
        x = np.round(x, decimals)
    assert detect_adc_grid(x) is None


def test_too_few_flat_or_too_coarse_values_are_not_decided_on() -> None:
    assert detect_adc_grid(_steps(1, 100, 256.0)) is None          # 300 values < 1000
    assert detect_adc_grid(np.zeros((2000, 3))) is None            # flat
    assert detect_adc_grid(np.round(_steps(2, 2000, 256.0), 2)) is None   # 10 mg rounding
    assert detect_adc_grid(np.full((2000, 3), np.nan)) is None


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), lsb=st.sampled_from([*GRIDS, 100.0, 4096.0]))
def test_forced_grid_moves_each_value_at_most_half_a_step(seed: int, lsb: float) -> None:
    x = np.random.default_rng(seed).normal(0.0, 1.0, (500, 3))
    x[7] = np.nan
    y = snap_to_grid(x, lsb)
    assert np.all(np.isnan(y[7]))
    ok = np.isfinite(x)
    assert np.max(np.abs(y[ok] - x[ok])) <= 0.5 / lsb + 1e-12
    steps = y[ok] * lsb
    assert np.max(np.abs(steps - np.rint(steps))) <= 1e-9     # on the grid


def _csv(path: Path, x: np.ndarray, decimals: int) -> Path:
    with open(path, "w") as fh:
        fh.write("# fs_hz=50\nx,y,z\n")
        for row in x:
            fh.write(",".join(f"{v:.{decimals}f}" for v in row) + "\n")
    return path


def test_reader_restores_by_default_and_reads_as_written_when_off(tmp_path: Path) -> None:
    dev = _steps(3, 3000, 256.0)
    path = _csv(tmp_path / "a.csv", dev, 3)

    def read(grid: str | float) -> tuple[np.ndarray, float | None]:
        rec = open_recording(path, adc_grid=grid)
        return np.concatenate([c for _, c in rec.chunks(1000)]), rec.adc_lsb_per_g
    as_written, lsb = read("off")
    assert lsb is None
    assert open_recording(path, adc_grid="off").meta["adc_grid"] == (
        "values as written (ADC grid restoring off)")
    np.testing.assert_array_equal(as_written, np.round(dev, 3))
    restored, lsb = read("auto")
    assert lsb == 256.0
    assert "ADC steps of 1/256 g (written to 3 decimals" in open_recording(
        path, adc_grid="auto").meta["adc_grid"]
    np.testing.assert_array_equal(restored, dev)
    assert open_recording(path).adc_lsb_per_g == 256.0                  # the default
    forced, lsb = read(256)
    assert lsb == 256.0
    np.testing.assert_array_equal(forced, dev)
    ordinary = _csv(tmp_path / "b.csv", np.random.default_rng(4).normal(0, 1, (3000, 3)), 3)
    rec = open_recording(ordinary, adc_grid="auto")
    assert rec.adc_lsb_per_g is None and rec.meta["adc_lsb_per_g"] is None
    assert "not provably" in rec.meta["adc_grid"]


def test_reader_detects_on_the_first_batch_with_enough_values(tmp_path: Path) -> None:
    """A long run of empty rows (missing samples) first: detection looks further, and
    every batch is restored; the empty rows stay NaN."""
    dev = _steps(6, 3000, 1024.0 / 3.0)
    path = tmp_path / "gap_first.csv"
    with open(path, "w") as fh:
        fh.write("# fs_hz=50\nx,y,z\n")
        fh.write(",,\n" * 400_000)                      # > 1 MB: the whole first batch
        for row in dev:
            fh.write(",".join(f"{v:.3f}" for v in row) + "\n")
    rec = open_recording(path, adc_grid="auto")
    assert rec.adc_lsb_per_g == 1024.0 / 3.0
    x = np.concatenate([c for _, c in rec.chunks(1 << 16)])
    assert x.shape == (403_000, 3)
    assert np.isnan(x[:400_000]).all()
    np.testing.assert_array_equal(x[400_000:], dev)


@pytest.mark.parametrize("bad", ["", "sometimes", "0", "-256", "nan", "inf", 1e9])
def test_bad_grid_values_are_refused(bad: str | float) -> None:
    with pytest.raises(ParameterError):
        parse_adc_grid(bad)
    with pytest.raises(ParameterError):
        open_recording(R4, adc_grid=bad)


def test_cli_adc_grid(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import pandas as pd

    out_off, out_auto = tmp_path / "off.csv", tmp_path / "auto.csv"
    assert main(["features", str(R4), "--epoch", "1", "--out", str(out_off),
                 "--adc-grid", "off"]) == 0
    assert main(["features", str(R4), "--epoch", "1", "--out", str(out_auto)]) == 0
    assert "1/256 g" in capsys.readouterr().err
    off, auto = pd.read_csv(out_off), pd.read_csv(out_auto)
    cols = ["counts_x", "counts_y", "counts_z"]
    assert len(off) == len(auto) == 2700
    assert (off[cols] != auto[cols]).any(axis=1).sum() > 0     # the steps change counts
    assert main(["features", str(R4), "--out", str(tmp_path / "x.csv"),
                 "--adc-grid", "maybe"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "ADC grid" in err[0]


def test_cohort_restores_by_default_and_redoes_on_a_changed_choice(tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    from movereg.recordings import run_cohort

    src = _csv(tmp_path / "steps.csv", _steps(5, 3000, 256.0), 3)
    out = tmp_path / "out"
    plain = run_cohort([src], out, progress=False, adc_grid="off")
    meta = pq.read_schema(out / "steps.parquet").metadata
    assert meta[b"movereg.adc_lsb_per_g"] == b"None"
    restored = run_cohort([src], out, progress=False)                   # default: auto
    assert not restored.rows[0].get("skipped")          # other values: computed again
    meta = pq.read_schema(out / "steps.parquet").metadata
    assert meta[b"movereg.adc_lsb_per_g"] == b"256.0"
    assert plain.rows[0]["status"] == restored.rows[0]["status"] == "ok"
    again = run_cohort([src], out, progress=False, adc_grid="auto")
    assert again.rows[0].get("skipped")
