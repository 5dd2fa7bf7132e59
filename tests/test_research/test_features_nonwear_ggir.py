"""``movereg features --nonwear-ggir``: GGIR's flag beside the live one, per epoch."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from movereg.cli import main
from movereg.signal.nonwear_ggir import nonwear_ggir

FS = 10.0


def _recording() -> np.ndarray:
    """3 h on a table, 2 h worn (moving), 2.5 h on the table again: 10 Hz."""
    rng = np.random.default_rng(7)

    def lying(hours: float, v: list[float], sd: float) -> np.ndarray:
        n = int(hours * 3600 * FS)
        return np.tile(np.array(v), (n, 1)) + rng.normal(0, sd, (n, 3))

    return np.vstack([lying(3, [0, 0, 1.0], 0.002), lying(2, [0, 0, 1.0], 0.3),
                      lying(2.5, [0, 1.0, 0], 0.002)])


@pytest.mark.parametrize("approach", ["2013", "2023"])
def test_column_matches_the_blocks(approach: str, tmp_path: Path) -> None:
    x = _recording()
    src = tmp_path / "r.csv"
    with open(src, "w", encoding="utf-8") as fh:
        fh.write(f"# fs_hz={FS:g}\nx,y,z\n")
        np.savetxt(fh, x, fmt="%.5f", delimiter=",")
    out = tmp_path / "r.csv.out.csv"
    assert main(["features", str(src), "--epoch", "60", "--calibrate", "off",
                 "--nonwear-ggir", approach, "--out", str(out)]) == 0
    with open(out, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    got = np.array([int(r["nonwear_ggir"]) for r in rows])
    blocks = nonwear_ggir(np.round(x, 5), FS, approach=approach).nonwear
    assert len(blocks) == 30                          # 7.5 h of 15-min blocks
    want = blocks[np.arange(len(rows)) // 15]         # 15 one-minute epochs per block
    assert got.tolist() == want.tolist()
    assert got[:60].sum() >= 45 and got[4 * 60:5 * 60 - 15].sum() == 0   # still / worn
    pq_out = tmp_path / "r.parquet"
    assert main(["features", str(src), "--epoch", "60", "--calibrate", "off",
                 "--nonwear-ggir", approach, "--out", str(pq_out)]) == 0
    col = pq.read_table(pq_out).column("nonwear_ggir").to_pylist()
    assert col == got.tolist()
