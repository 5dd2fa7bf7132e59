"""A small single-file CSV reader for ``movereg features`` (used when
:mod:`movereg.recordings` offers no ``open_recording``).

Format: optional first line ``# fs_hz=<rate>``; a header with ``x``, ``y``, ``z`` (g) and
an optional ``time`` column: seconds (relative or Unix), Unix milliseconds (values above
1e11), or ISO 8601 (UTC when no offset). The rate comes from ``--fs``, the ``# fs_hz``
line, or the median step of the first time values. Samples are taken as contiguous.
"""

from __future__ import annotations

import gzip
import io
import re
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from movereg.errors import InputFileError

__all__ = ["CsvInput"]

_FS_RE = re.compile(r"^#\s*fs_hz\s*=\s*([0-9.eE+-]+)\s*$")


def _time_value_ns(text: str, path: str, line: int) -> float:
    try:
        v = float(text)
    except ValueError:
        try:
            dt = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
        except ValueError:
            raise InputFileError(path, f"time value {text!r} is neither a number nor ISO 8601",
                                 line=line) from None
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=UTC)
        return dt.timestamp() * 1e9
    return v * 1e6 if abs(v) > 1e11 else v * 1e9


class CsvInput:
    """One CSV recording: ``fs_hz``, ``t0_ns`` and ``chunks(n)`` of float64 (n, 3) g."""

    def __init__(self, path: str | Path, fs_hz: float | None = None) -> None:
        self.path = Path(path)
        self._name = str(path)
        self._skip = 0                 # lines before the header
        header_fs: float | None = None
        first_lines = self._head(2000)
        if not first_lines:
            raise InputFileError(self._name, "empty file")
        if first_lines[0].startswith("#"):
            m = _FS_RE.match(first_lines[0].strip())
            if m:
                try:
                    header_fs = float(m.group(1))
                except ValueError:
                    raise InputFileError(self._name, "bad '# fs_hz=' line", line=1) from None
            self._skip = 1
        if len(first_lines) <= self._skip:
            raise InputFileError(self._name, "no header line with x,y,z")
        cols = [c.strip().lower() for c in first_lines[self._skip].split(",")]
        missing = [c for c in ("x", "y", "z") if c not in cols]
        if missing:
            raise InputFileError(self._name, f"missing column(s) {', '.join(missing)} "
                                 "(need a header with x,y,z in g)", line=self._skip + 1)
        self._idx = [cols.index(c) for c in ("x", "y", "z")]
        self._tidx = cols.index("time") if "time" in cols else None
        self._ncols = len(cols)
        data = first_lines[self._skip + 1:]
        if not [ln for ln in data if ln.strip()]:
            raise InputFileError(self._name, "no data rows")
        times: list[float] = []
        if self._tidx is not None:
            for k, ln in enumerate(data[:1000]):
                parts = ln.split(",")
                if len(parts) > self._tidx and parts[self._tidx].strip():
                    times.append(_time_value_ns(parts[self._tidx], self._name,
                                                self._skip + 2 + k))
        rate = fs_hz if fs_hz is not None else header_fs
        if rate is None and len(times) >= 2:
            steps = np.diff(np.array(times))
            steps = steps[steps > 0]
            if steps.size:
                rate = 1e9 / float(np.median(steps))
                rate = round(rate) if abs(rate - round(rate)) < 0.02 * rate else round(rate, 2)
        if rate is None or not rate > 0:
            raise InputFileError(self._name, "unknown sampling rate: give --fs HZ, a "
                                 "'# fs_hz=<rate>' first line, or a time column")
        self.fs_hz = float(rate)
        t0 = times[0] if times else 0.0
        self.t0_ns = round(t0) if t0 > 1e17 else 0       # absolute times only

    def _open(self) -> io.TextIOBase:
        try:
            with open(self.path, "rb") as fh:
                magic = fh.read(2)
        except OSError as exc:
            raise InputFileError(self._name, f"cannot read: {exc.strerror}") from None
        if magic == b"\x1f\x8b":
            return io.TextIOWrapper(gzip.open(self.path, "rb"), encoding="utf-8",
                                    errors="replace")
        return open(self.path, encoding="utf-8", errors="replace")

    def _head(self, n: int) -> list[str]:
        out: list[str] = []
        try:
            with self._open() as fh:
                for line in fh:
                    out.append(line.rstrip("\r\n"))
                    if len(out) >= n:
                        break
        except (OSError, EOFError, zlib.error) as exc:
            raise InputFileError(self._name, f"unreadable compressed file ({exc})") from None
        return out

    def chunks(self, n_samples: int) -> Iterator[np.ndarray]:
        """Yield float64 (m, 3) arrays of at most ``n_samples`` rows (empty cells -> NaN)."""
        buf = np.empty((n_samples, 3))
        k = 0
        try:
            with self._open() as fh:
                for lineno, line in enumerate(fh, start=1):
                    if lineno <= self._skip + 1:
                        continue
                    s = line.strip()
                    if not s:
                        continue
                    parts = s.split(",")
                    if len(parts) < self._ncols:
                        raise InputFileError(self._name, f"expected {self._ncols} fields, "
                                             f"got {len(parts)}", line=lineno)
                    try:
                        for a, i in enumerate(self._idx):
                            v = parts[i].strip()
                            buf[k, a] = float(v) if v else np.nan
                    except ValueError:
                        raise InputFileError(self._name, "non-numeric value in x/y/z",
                                             line=lineno) from None
                    k += 1
                    if k == n_samples:
                        yield buf[:k].copy()
                        k = 0
        except (OSError, EOFError, zlib.error) as exc:
            raise InputFileError(self._name, f"unreadable compressed file ({exc})") from None
        if k:
            yield buf[:k].copy()
