"""movereg's raw Parquet export (and any Parquet with a time and x, y, z columns).

Columns: ``t_ns`` (int64 UTC ns) or ``time`` (``timestamp[ns|us|ms, tz=UTC]``, or int64
ns), and ``x``, ``y``, ``z`` or ``x_g``, ``y_g``, ``z_g`` (float, g) — the latter is what
``movereg export --what raw`` writes (one device per file: several interleaved devices
show as time going backwards, an error). The rate comes from the caller, from the schema
metadata key ``fs_hz`` (``b"fs_hz"`` or ``b"movereg.fs_hz"``), or from the timestamps.
Read in row batches (bounded memory).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from movereg.errors import InputFileError
from movereg.recordings.base import Recording, _Segmenter, rate_from_times

__all__ = ["ParquetRecording"]

_BATCH = 1 << 18


def _times_ns(col: Any) -> np.ndarray:
    import pyarrow as pa

    if pa.types.is_timestamp(col.type):
        col = col.cast(pa.timestamp("ns", tz=col.type.tz)).cast(pa.int64())
    return np.asarray(col.to_numpy(zero_copy_only=False), dtype=np.int64)


class ParquetRecording(Recording):
    """A Parquet file of raw samples (see the module docstring)."""

    def __init__(self, path: Path, *, fs_hz: float | None = None) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        p = str(path)
        try:
            self._pf = pq.ParquetFile(p)
        except (pa.ArrowException, OSError) as exc:
            raise InputFileError(p, f"cannot read as Parquet: {exc}") from exc
        names = [n.lower() for n in self._pf.schema_arrow.names]
        real = dict(zip(names, self._pf.schema_arrow.names, strict=True))
        tcol = next((real[n] for n in ("t_ns", "time", "timestamp") if n in names), None)
        axes = [next((real[c] for c in (a, f"{a}_g") if c in names), None) for a in "xyz"]
        if tcol is None or None in axes:
            raise InputFileError(p, "Parquet raw file needs a t_ns or time column and x, y, z "
                                 f"(columns: {', '.join(self._pf.schema_arrow.names)})")
        self._cols = [tcol, *(a for a in axes if a is not None)]
        n = self._pf.metadata.num_rows
        if n == 0:
            raise InputFileError(p, "no samples")
        md = self._pf.schema_arrow.metadata or {}
        rate = fs_hz
        for key in (b"fs_hz", b"movereg.fs_hz"):
            if rate is None and key in md:
                rate = float(md[key])
        first = self._pf.read_row_group(0, columns=[tcol]).column(0)
        t_first = _times_ns(first.combine_chunks())
        if rate is None:
            rate = rate_from_times(t_first, p)
        meta: dict[str, Any] = {"format": "parquet",
                                "device": md.get(b"device", b"unknown").decode(),
                                "serial": md.get(b"serial", b"").decode()}
        self.path = path
        super().__init__(path, float(rate), int(t_first[0]), int(n), meta)

    def _blocks(self) -> Iterator[tuple[bool, np.ndarray, np.ndarray | None]]:
        import pyarrow as pa

        seg = _Segmenter(self.fs_hz, str(self.path))
        index = 0
        try:
            for batch in self._pf.iter_batches(batch_size=_BATCH, columns=self._cols):
                m = batch.num_rows
                xyz = np.empty((m, 3), dtype=np.float64)
                for k in range(3):
                    xyz[:, k] = batch.column(k + 1).to_numpy(zero_copy_only=False)
                yield from seg.feed(_times_ns(batch.column(0)), xyz, index)
                index += m
        except (pa.ArrowException, OSError) as exc:
            raise InputFileError(str(self.path), f"cannot read Parquet data: {exc}") from exc
