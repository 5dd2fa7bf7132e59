"""Record and replay raw notifications as JSON lines (fixtures and bug reports).

File format (UTF-8, one JSON object per line)::

    {"meta": {"family": "polar_pmd", "device_id": "...", "movereg": "0.1.0"}}   (optional, first)
    {"t_ns": 1795870110229535069, "hex": "02646c76c43cc67f0780..."}
    ...

``t_ns`` is the host receive time (UTC ns); ``hex`` the notification bytes.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from movereg.errors import InputFileError
from movereg.models import SampleBlock
from movereg.sensors.clock import DeviceClock
from movereg.sensors.decoders.base import DeviceProfile

__all__ = ["CaptureWriter", "capture_meta", "read_capture", "replay_capture"]


class CaptureWriter:
    """Append raw notifications to a ``.jsonl`` file; usable as a client ``raw_hook``.

    Parameters
    ----------
    path
        Output file (created or truncated).
    meta
        Optional metadata written as the first line (family, device id, ...).
    """

    def __init__(self, path: str | Path, meta: dict[str, Any] | None = None) -> None:
        self.path = Path(path)
        self._fh: IO[str] | None = self.path.open("w", encoding="utf-8")
        self.count = 0
        if meta is not None:
            self._fh.write(json.dumps({"meta": meta}) + "\n")

    def __call__(self, data: bytes, t_ns: int) -> None:
        """Write one notification (bytes, host receive time in UTC ns)."""
        if self._fh is None:
            return
        self._fh.write(f'{{"t_ns": {int(t_ns)}, "hex": "{bytes(data).hex()}"}}\n')
        self.count += 1

    def close(self) -> None:
        """Flush and close (idempotent)."""
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    def __enter__(self) -> CaptureWriter:
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def _lines(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    try:
        fh = path.open(encoding="utf-8")
    except OSError as exc:
        raise InputFileError(str(path), exc.strerror or str(exc)) from exc
    with fh:
        for no, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputFileError(str(path), f"not JSON ({exc.msg})", line=no) from None
            if not isinstance(obj, dict):
                raise InputFileError(str(path), "expected a JSON object", line=no)
            yield no, obj


def capture_meta(path: str | Path) -> dict[str, Any]:
    """The metadata line of a capture ({} when there is none)."""
    for _no, obj in _lines(Path(path)):
        meta = obj.get("meta")
        return dict(meta) if isinstance(meta, dict) else {}
    return {}


def read_capture(path: str | Path) -> Iterator[tuple[bytes, int]]:
    """Yield ``(bytes, t_ns)`` for every notification in a capture file.

    Raises
    ------
    InputFileError
        Unreadable file or a malformed line (names file and line).
    """
    p = Path(path)
    for no, obj in _lines(p):
        if "meta" in obj:
            continue
        try:
            t_ns = int(obj["t_ns"])
            data = bytes.fromhex(obj["hex"])
        except (KeyError, TypeError, ValueError):
            raise InputFileError(str(p), 'each line needs "t_ns" (int) and "hex" (bytes)',
                                 line=no) from None
        yield data, t_ns


def replay_capture(path: str | Path, profile: DeviceProfile, clock: DeviceClock, *,
                   skip_replies: bool = True) -> Iterator[SampleBlock]:
    """Run a capture through a profile's decoder and a clock (the live path, offline).

    Parameters
    ----------
    path
        Capture file.
    profile
        A configured profile (e.g. a PMD profile that has seen the START reply, or
        whose ``factor`` was set).
    clock
        A fresh :class:`DeviceClock` for the device.
    skip_replies
        Skip notifications the profile recognises as command replies.

    Raises
    ------
    InputFileError, DecodeError
        Malformed file or frame.
    """
    for data, t_ns in read_capture(path):
        if skip_replies and profile.is_reply(data):
            continue
        block = clock.push(profile.decode(data), t_ns)
        if block is not None:
            yield block
