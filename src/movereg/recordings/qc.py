"""Per-file quality control: what a device file held, what was read and what was not.

A :class:`RecordingQC` is filled by the reader when the file is opened (header facts,
damage found by a scan) and while it is streamed (samples read, clipping, gaps); it is
complete once :meth:`~movereg.recordings.base.Recording.chunks` has run to the end.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["QC_COLUMNS", "Damage", "RecordingQC"]

#: Columns of a QC row (:meth:`RecordingQC.row`), in order.
QC_COLUMNS = (
    "format", "device", "serial_hash", "fs_hz", "measured_fs_hz", "tz", "tz_source",
    "first_sample_utc", "last_sample_utc", "samples_read", "samples_skipped",
    "skipped_why", "gaps", "clipped_share",
)

#: Fraction of the configured range at which a sample counts as clipped.
CLIP_FRACTION = 0.99


@dataclass
class Damage:
    """One kind of damage in a file.

    Attributes
    ----------
    reason
        Short key: ``checksum``, ``truncated``, ``missing_pages``, ``bad_record``,
        ``clock_backwards``, ``not_data``.
    message
        One line for the user, e.g. ``3 of 145 sectors failed their checksum``.
    blocks
        Sectors / records / pages affected.
    samples
        Samples skipped (for unreadable blocks: the block's nominal sample count).
    spans
        ``(start_ns, end_ns)`` UTC of each damaged span, where the file tells.
    """

    reason: str
    message: str
    blocks: int = 0
    samples: int = 0
    spans: list[tuple[int, int]] = field(default_factory=list)


@dataclass
class RecordingQC:
    """Quality-control facts of one recording (times UTC ns, rates Hz)."""

    format: str = ""
    device: str = ""
    serial: str = ""
    fs_hz: float = float("nan")
    measured_fs_hz: float = float("nan")
    range_g: float | None = None
    tz: str = "UTC"
    tz_source: str = "assumed"
    first_sample_ns: int | None = None
    last_sample_ns: int | None = None
    samples_read: int = 0
    clipped: int = 0
    gaps: int = 0
    damage: list[Damage] = field(default_factory=list)
    complete: bool = False

    @property
    def samples_skipped(self) -> int:
        """Samples lost to damage (all reasons)."""
        return sum(d.samples for d in self.damage)

    @property
    def clipped_share(self) -> float:
        """Share of read samples with an axis at >= 99 % of the range (NaN if unknown)."""
        if self.range_g is None or self.samples_read == 0:
            return float("nan")
        return self.clipped / self.samples_read

    def add_damage(self, reason: str, message: str, *, blocks: int = 0, samples: int = 0,
                   span: tuple[int, int] | None = None) -> None:
        """Record damage; the same reason accumulates into one entry."""
        for d in self.damage:
            if d.reason == reason:
                d.blocks += blocks
                d.samples += samples
                d.message = message
                if span is not None:
                    d.spans.append(span)
                return
        self.damage.append(Damage(reason, message, blocks, samples,
                                  [span] if span is not None else []))

    def end_stream(self, gaps: int, backwards: int) -> None:
        """The samples were read to the end: ``gaps`` gaps in them, ``backwards`` samples
        dropped because their time went backwards (damage ``clock_backwards``)."""
        self.gaps = gaps
        if backwards:
            self.add_damage("clock_backwards", f"{backwards} samples stamped earlier than the "
                            "one before", samples=backwards)
        self.complete = True

    def count_raw(self, xyz: np.ndarray) -> None:
        """Count raw samples read and clipped ones (float (n, 3) in g)."""
        n = int(xyz.shape[0])
        self.samples_read += n
        if self.range_g is not None and n:
            lim = CLIP_FRACTION * self.range_g
            hit = np.abs(xyz[:, 0]) >= lim  # per column: faster than a max over axis 1
            for j in range(1, xyz.shape[1]):
                hit |= np.abs(xyz[:, j]) >= lim
            self.clipped += int(np.count_nonzero(hit))

    def warning(self) -> str | None:
        """One line for the CLI when anything was damaged, else ``None``."""
        if not self.damage:
            return None
        parts = [d.message for d in self.damage]
        skipped = self.samples_skipped
        if skipped:
            parts[-1] += f"; {skipped:,} samples skipped"
        return "; ".join(parts)

    def skipped_why(self) -> str:
        """``reason=samples`` pairs, ``;``-separated (empty when nothing was skipped)."""
        return ";".join(f"{d.reason}={d.samples}" for d in self.damage)

    def row(self, serial_hash: str = "") -> dict[str, Any]:
        """The QC row (:data:`QC_COLUMNS`); the serial only as its hash."""
        from movereg.signal.table import iso_utc

        def iso(t: int | None) -> str:
            return "" if t is None else str(iso_utc(np.array([t], dtype=np.int64))[0])

        return {
            "format": self.format, "device": self.device, "serial_hash": serial_hash,
            "fs_hz": self.fs_hz, "measured_fs_hz": self.measured_fs_hz, "tz": self.tz,
            "tz_source": self.tz_source, "first_sample_utc": iso(self.first_sample_ns),
            "last_sample_utc": iso(self.last_sample_ns), "samples_read": self.samples_read,
            "samples_skipped": self.samples_skipped, "skipped_why": self.skipped_why(),
            "gaps": self.gaps, "clipped_share": self.clipped_share,
        }
