"""EpochTable: one row per epoch, the columns of :data:`movereg.signal.schema.EPOCH_COLUMNS`."""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from movereg.errors import ParameterError
from movereg.signal.schema import EPOCH_COLUMNS
from movereg.timeutil import iso_utc

__all__ = ["EpochTable", "columns_as_lists", "iso_utc"]

_NAMES = tuple(name for name, _ in EPOCH_COLUMNS)
_DTYPES = {name: np.dtype(dt) for name, dt in EPOCH_COLUMNS}


#: Where packed columns live: ``(name, array index, row)`` per column.
Layout = tuple[tuple[str, int, int], ...]


class EpochTable:
    """A column table of epochs.

    Parameters
    ----------
    columns
        ``{name: 1-D numpy array}`` for every name in ``EPOCH_COLUMNS`` (same length,
        the schema's dtype). ``epoch_start`` is UTC ns; floats are NaN where undefined.

    Notes
    -----
    The feature engine emits *packed* tables: the columns are rows of one 2-D array per
    dtype, and the per-column views of :attr:`columns` are built on first use.
    :meth:`column_lists` (what storage and the live feed need) reads the packed arrays
    directly: three ``tolist`` calls instead of twenty-two views and conversions.
    Tables are read-only: do not modify their arrays or lists.
    """

    __slots__ = ("_columns", "_lists", "_n", "_packed")

    def __init__(self, columns: Mapping[str, np.ndarray]) -> None:
        self._columns: Mapping[str, np.ndarray] | None = columns
        self._packed: tuple[tuple[np.ndarray, ...], Layout] | None = None
        self._lists: dict[str, list[Any]] | None = None
        self._n = -1
        n = None
        for name in _NAMES:
            if name not in columns:
                raise ParameterError(f"EpochTable: column {name!r} missing")
            col = columns[name]
            if col.ndim != 1 or col.dtype != _DTYPES[name]:
                raise ParameterError(
                    f"EpochTable: column {name!r} must be 1-D {_DTYPES[name]}, got "
                    f"{col.ndim}-D {col.dtype}")
            if n is None:
                n = col.shape[0]
            elif col.shape[0] != n:
                raise ParameterError("EpochTable: columns differ in length")

    # --- construction ---------------------------------------------------------------
    @classmethod
    def _from_packed(cls, arrays: tuple[np.ndarray, ...], layout: Layout,
                     n: int) -> EpochTable:
        """Wrap packed columns the engine built to the schema (no validation: hot path).

        ``arrays``: 2-D arrays, one row per column, one column per epoch in their first
        ``n`` columns (the rest is unused); ``layout`` places every schema column there.
        """
        table = object.__new__(cls)
        table._columns = None
        table._packed = (arrays, layout)
        table._lists = None
        table._n = n
        return table

    def __repr__(self) -> str:
        return f"EpochTable(n={self.n})"

    @property
    def columns(self) -> Mapping[str, np.ndarray]:
        """``{name: 1-D array}`` for every column of the schema."""
        cols = self._columns
        if cols is None:
            arrays, layout = self._packed_rows()
            cols = {name: arrays[kind][row] for name, kind, row in layout}
            self._columns = cols
        return cols

    def _packed_rows(self) -> tuple[tuple[np.ndarray, ...], Layout]:
        """The packed arrays cut to this table's ``n`` epochs, and their layout."""
        assert self._packed is not None
        arrays, layout = self._packed
        n = self._n
        return tuple(a if a.shape[1] == n else a[:, :n] for a in arrays), layout

    def column_lists(self) -> dict[str, list[Any]]:
        """Every column as a list of Python scalars (for SQLite and JSON); cached."""
        lists = self._lists
        if lists is None:
            if self._packed is not None:
                arrays, layout = self._packed_rows()
                rows = [a.tolist() for a in arrays]
                lists = {name: rows[kind][row] for name, kind, row in layout}
            else:
                lists = {name: col.tolist() for name, col in self.columns.items()}
            self._lists = lists
        return lists

    @classmethod
    def empty(cls) -> EpochTable:
        """A table with no rows."""
        return cls({name: np.empty(0, dtype=dt) for name, dt in _DTYPES.items()})

    @classmethod
    def concat(cls, tables: Iterable[EpochTable]) -> EpochTable:
        """Rows of ``tables`` one after the other."""
        tabs = list(tables)
        if not tabs:
            return cls.empty()
        return cls({name: np.concatenate([t.columns[name] for t in tabs]) for name in _NAMES})

    # --- access -----------------------------------------------------------------------
    @property
    def n(self) -> int:
        """Number of epochs (rows)."""
        if self._n >= 0:
            return self._n
        return int(self.columns["epoch_start"].shape[0])

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, name: str) -> np.ndarray:
        return self.columns[name]

    @property
    def names(self) -> tuple[str, ...]:
        """Column names in schema order."""
        return _NAMES

    def slice(self, start: int, stop: int) -> EpochTable:
        """Rows ``start:stop``."""
        return EpochTable({k: self.columns[k][start:stop] for k in _NAMES})

    def to_records(self) -> list[dict[str, Any]]:
        """One ``dict`` per epoch with Python scalars (NaN stays ``float('nan')``)."""
        lists = self.column_lists()
        cols = [lists[k] for k in _NAMES]
        return [dict(zip(_NAMES, row, strict=True)) for row in zip(*cols, strict=True)]

    def equals(self, other: EpochTable, *, rtol: float = 1e-9) -> bool:
        """Integers identical, floats equal to ``rtol`` (NaN == NaN)."""
        if self.n != other.n:
            return False
        for name, dt in _DTYPES.items():
            a = self.columns[name]
            b = other.columns[name]
            if dt.kind == "f":
                if not np.allclose(a, b, rtol=rtol, atol=0.0, equal_nan=True):
                    return False
            elif not np.array_equal(a, b):
                return False
        return True

    # --- export -------------------------------------------------------------------------
    def to_csv(self, path: str | Path, *, extra: Sequence[tuple[str, np.ndarray]] = ()) -> None:
        """Write CSV: ``epoch_start`` as ISO 8601 UTC with offset, NaN as empty field."""
        starts = iso_utc(self.columns["epoch_start"])
        rest = [self.columns[k].tolist() for k in _NAMES[1:]]
        rest += [np.asarray(col).tolist() for _, col in extra]
        header = list(_NAMES) + [name for name, _ in extra]
        with open(path, "w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(header)
            for i, start in enumerate(starts):
                w.writerow([start, *(_fmt(col[i]) for col in rest)])

    def to_parquet(self, path: str | Path) -> None:
        """Write Parquet via pyarrow; ``epoch_start`` as ``timestamp[ns, UTC]``."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        arrays = []
        for name in _NAMES:
            col = self.columns[name]
            if name == "epoch_start":
                arrays.append(pa.array(col, type=pa.timestamp("ns", tz="UTC")))
            else:
                arrays.append(pa.array(col))
        pq.write_table(pa.Table.from_arrays(arrays, names=list(_NAMES)), str(path))


def columns_as_lists(table: Any) -> Mapping[str, Any]:
    """A table's columns for SQLite and JSON: :meth:`EpochTable.column_lists` where the
    table has it (one conversion, cached), else its ``.columns`` (any table-like)."""
    as_lists = getattr(table, "column_lists", None)
    columns: Mapping[str, Any] = as_lists() if as_lists is not None else table.columns
    return columns


def _fmt(v: object) -> object:
    if isinstance(v, float):
        if math.isnan(v):
            return ""
        return repr(v)
    return v
