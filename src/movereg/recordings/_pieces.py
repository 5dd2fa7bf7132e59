"""Split GT3X / CWA / GENEActiv files into small, valid files of the same format.

``actfast`` decodes a whole file into memory. To keep memory bounded for month-long
recordings, movereg cuts the file at the format's own record boundaries into pieces
(each a valid file: the header plus a run of records), lets ``actfast`` decode each
piece, and streams the samples on. Boundaries used:

* GENEActiv BIN: the 59-line header + whole 10-line pages;
* GT3X: ``info.txt`` + a run of whole ``log.bin`` records, each piece starting with the
  PARAMETERS records seen so far (they carry the rate and accelerometer scale).

Damage does not stop the read: a partial trailing page or record, a GT3X record whose
checksum fails or a corrupt record header is reported through ``on_damage(reason,
message, blocks, samples)`` and the good data before (and, for checksums, after) it is
kept.
"""

from __future__ import annotations

import io
import struct
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

from movereg.errors import InputFileError

__all__ = ["OnDamage", "bin_pieces", "gt3x_pieces"]

#: ``on_damage(reason, message, blocks, samples, spans)``; ``spans``: (start, end) of the
#: damaged time in the device's local clock, whole seconds since 1970, where known
OnDamage = Callable[[str, str, int, int, list[tuple[int, int]]], None]


def _ignore(reason: str, message: str, blocks: int, samples: int,
            spans: list[tuple[int, int]]) -> None:
    return None

BIN_HEADER_LINES = 59
BIN_PAGE_LINES = 10


def bin_pieces(path: Path, pages: int, on_damage: OnDamage = _ignore
               ) -> Iterator[tuple[bytes, int]]:
    """(piece bytes, pages in it); a partial trailing page is reported and skipped."""
    p = str(path)
    with open(path, "rb") as fh:
        header = [fh.readline() for _ in range(BIN_HEADER_LINES)]
        if not header[-1]:
            raise InputFileError(p, "truncated GENEActiv file: header shorter than 59 lines")
        head = b"".join(header)
        page_no = 0
        cut = False
        while not cut:
            buf = io.BytesIO()
            buf.write(head)
            k = 0
            while k < pages:
                page = [fh.readline() for _ in range(BIN_PAGE_LINES)]
                if not page[0]:
                    break
                if not page[-1] or not page[-1].rstrip(b"\r\n") or len(
                        page[-1].rstrip(b"\r\n")) % 12:
                    on_damage("truncated", f"page {page_no + 1} is cut off at the end of "
                              "the file", 1, 300, [])
                    cut = True
                    break
                buf.writelines(page)
                k += 1
                page_no += 1
            if k == 0:
                return
            yield buf.getvalue(), k
            if k < pages:
                return


def _gt3x_zip(info: bytes, log: bytes) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as z:
        z.writestr("info.txt", info)
        z.writestr("log.bin", log)
    return out.getvalue()


def gt3x_pieces(path: Path, max_bytes: int, on_damage: OnDamage = _ignore,
                per_record: int = 0) -> Iterator[bytes]:
    """GT3X zips of ``info.txt`` + about ``max_bytes`` of whole, checked log records each.

    ``per_record``: samples in one ACTIVITY record (the rate), for the skipped counts.
    """
    p = str(path)
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise InputFileError(p, f"cannot read as GT3X (not a complete ZIP archive): "
                             f"{exc}") from exc
    with zf:
        names = set(zf.namelist())
        if "info.txt" not in names or "log.bin" not in names:
            raise InputFileError(p, "GT3X without info.txt and log.bin")
        try:
            info = zf.read("info.txt")
            yield from _gt3x_records(zf, info, max_bytes, on_damage, per_record)
        except (zipfile.BadZipFile, EOFError, OSError, RuntimeError) as exc:
            raise InputFileError(p, f"corrupt GT3X archive: {exc}") from exc


def _gt3x_records(zf: zipfile.ZipFile, info: bytes, max_bytes: int, on_damage: OnDamage,
                  per_record: int) -> Iterator[bytes]:
    import numpy as np

    params: list[bytes] = []
    piece = io.BytesIO()
    offset = 0
    n_act = bad_act = 0
    bad_spans: list[tuple[int, int]] = []
    with zf.open("log.bin") as log:
        while True:
            head = log.read(8)
            if not head:
                break
            if len(head) < 8:
                on_damage("truncated", f"the last log record is cut off ({len(head)} of 8 "
                          "header bytes)", 1, per_record, [])
                break
            sep, rtype, ts, size = struct.unpack("<BBIH", head)
            if sep != 0x1E:
                rest = len(log.read())
                on_damage("bad_record", f"log.bin is corrupt at byte {offset} (bad record "
                          f"separator 0x{sep:02x}); the {rest + 8:,} bytes after it skipped",
                          1, 0, [])
                break
            body = log.read(size + 1)
            if len(body) < size + 1:
                on_damage("truncated", f"the last log record is cut off ({len(body)} of "
                          f"{size + 1} bytes)", 1, per_record, [(ts, ts + 1)])
                break
            rec = head + body
            offset += len(rec)
            if rtype in (0x00, 0x1A):
                n_act += 1
                # checksum: the one's complement of the XOR of all bytes before it
                if int(np.bitwise_xor.reduce(np.frombuffer(rec, np.uint8))) != 0xFF:
                    bad_act += 1
                    bad_spans.append((ts, ts + 1))  # one record: one second
                    continue
            if rtype == 0x15:
                params.append(rec)
            piece.write(rec)
            if piece.tell() >= max_bytes:
                yield _gt3x_zip(info, b"".join(params) + piece.getvalue())
                piece = io.BytesIO()
    if bad_act:
        on_damage("checksum", f"{bad_act} of {n_act} activity records failed their checksum",
                  bad_act, bad_act * per_record, bad_spans)
    if piece.tell():
        yield _gt3x_zip(info, b"".join(params) + piece.getvalue())
