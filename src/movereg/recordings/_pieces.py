"""Split GT3X / CWA / GENEActiv files into small, valid files of the same format.

``actfast`` decodes a whole file into memory. To keep memory bounded for month-long
recordings, movereg cuts the file at the format's own record boundaries into pieces
(each a valid file: the header plus a run of records), lets ``actfast`` decode each
piece, and streams the samples on. Boundaries used:

* CWA: 1024-byte header + whole 512-byte data sectors;
* GENEActiv BIN: the 59-line header + whole 10-line pages;
* GT3X: ``info.txt`` + a run of whole ``log.bin`` records, each piece starting with the
  PARAMETERS records seen so far (they carry the rate and accelerometer scale).
"""

from __future__ import annotations

import io
import struct
import zipfile
from collections.abc import Iterator
from pathlib import Path

from movereg.errors import InputFileError

__all__ = ["bin_pieces", "cwa_pieces", "gt3x_pieces"]

CWA_HEADER = 1024
CWA_SECTOR = 512
BIN_HEADER_LINES = 59
BIN_PAGE_LINES = 10


def cwa_pieces(path: Path, sectors: int) -> Iterator[bytes]:
    """Header + up to ``sectors`` data sectors per piece (size checked by the caller)."""
    with open(path, "rb") as fh:
        header = fh.read(CWA_HEADER)
        while True:
            body = fh.read(sectors * CWA_SECTOR)
            if not body:
                return
            yield header + body


def bin_pieces(path: Path, pages: int) -> Iterator[tuple[bytes, int]]:
    """(piece bytes, pages in it); raises on a partial trailing page."""
    p = str(path)
    with open(path, "rb") as fh:
        header = [fh.readline() for _ in range(BIN_HEADER_LINES)]
        if not header[-1]:
            raise InputFileError(p, "truncated GENEActiv file: header shorter than 59 lines")
        head = b"".join(header)
        page_no = 0
        while True:
            buf = io.BytesIO()
            buf.write(head)
            k = 0
            while k < pages:
                page = [fh.readline() for _ in range(BIN_PAGE_LINES)]
                if not page[0]:
                    break
                if not page[-1] or not page[-1].rstrip(b"\r\n"):
                    raise InputFileError(p, f"truncated GENEActiv file: page {page_no + 1} "
                                         "is incomplete")
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


def gt3x_pieces(path: Path, max_bytes: int) -> Iterator[bytes]:
    """GT3X zips of ``info.txt`` + about ``max_bytes`` of whole log records each."""
    p = str(path)
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise InputFileError(p, f"cannot read as GT3X (not a complete ZIP archive): "
                             f"{exc}") from exc
    with zf:
        names = set(zf.namelist())
        if "info.txt" not in names or "log.bin" not in names:
            raise InputFileError(p, "GT3X without info.txt and log.bin (older NHANES-style "
                                 "GT3X files with activity.bin are not supported)")
        try:
            info = zf.read("info.txt")
            params: list[bytes] = []
            piece = io.BytesIO()
            offset = 0
            with zf.open("log.bin") as log:
                while True:
                    head = log.read(8)
                    if not head:
                        break
                    if len(head) < 8:
                        raise InputFileError(p, f"truncated log.bin: partial record header "
                                             f"at byte {offset}")
                    sep, rtype, _ts, size = struct.unpack("<BBIH", head)
                    if sep != 0x1E:
                        raise InputFileError(p, f"corrupt log.bin: bad record separator "
                                             f"0x{sep:02x} at byte {offset}")
                    body = log.read(size + 1)
                    if len(body) < size + 1:
                        raise InputFileError(p, f"truncated log.bin: partial record at "
                                             f"byte {offset}")
                    rec = head + body
                    offset += len(rec)
                    if rtype == 0x15:
                        params.append(rec)
                    piece.write(rec)
                    if piece.tell() >= max_bytes:
                        yield _gt3x_zip(info, b"".join(params) + piece.getvalue())
                        piece = io.BytesIO()
            if piece.tell():
                yield _gt3x_zip(info, b"".join(params) + piece.getvalue())
        except (zipfile.BadZipFile, EOFError, OSError, RuntimeError) as exc:
            raise InputFileError(p, f"corrupt GT3X archive: {exc}") from exc
