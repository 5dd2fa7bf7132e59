"""Polar offline codecs: round trips of our own encoders, and fuzzing (only our
DecodeError escapes any parser: RFC76 packets, RFC60 headers, protobuf messages,
.REC files, .polarrec containers)."""

from __future__ import annotations

import contextlib
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from movereg.errors import DecodeError, InputFileError
from movereg.recordings import open_recording
from movereg.sensors import _encoders as enc
from movereg.sensors.polar_offline import pftp
from movereg.sensors.polar_offline._protobuf import decode_fields, enc_varint, read_varint
from movereg.sensors.polar_offline.band import PMD_FACTOR, index_source
from movereg.sensors.polar_offline.recfile import (
    container_header,
    container_record,
    encode_rec,
    parse_container,
    parse_rec,
)

EPOCH = 946_684_800 * 10**9
T0 = 1_790_000_000 * 10**9
SETTINGS = enc.encode_pmd_settings({0: [52], 1: [16], 2: [8], 4: [3]}) + enc.encode_pmd_factor(
    PMD_FACTOR)


def _frames(n_frames: int, first: int = 0, per: int = 36, rate: float = 52.0,
            skip: frozenset[int] = frozenset()) -> list[bytes]:
    out = []
    for i in range(n_frames):
        k = first + i * per
        if i in skip:
            continue
        last = T0 - EPOCH + round((k + per - 1) * 1e9 / rate)
        out.append(enc.encode_pmd_delta_frame(index_source(k, per, rate), last))
    return out


def _container(tmp: Path, parts: list[bytes], listed: int | None = None) -> Path:
    meta = {"recording_id": "/U/0/20260921/R/141320/", "device_id": "p1",
            "parts": [f"ACC{i}.REC" for i in range(listed or len(parts))]}
    path = tmp / "r.polarrec"
    path.write_bytes(container_header(meta) + b"".join(container_record(p) for p in parts))
    return path


def _idx(x: np.ndarray) -> np.ndarray:
    c = np.rint(x / PMD_FACTOR).astype(np.int64)
    return c[:, 0] + 8192 * c[:, 1]


# ---------------------------------------------------------------- round trips ----
@given(st.binary(max_size=2000), st.integers(2, 300), st.integers(0, 15))
def test_rfc76_round_trip(message: bytes, size: int, seq: int) -> None:
    packets, nxt = pftp.rfc76_packets(message, size, seq)
    assert all(len(p) <= size for p in packets) and nxt == (seq + len(packets)) % 16
    asm = pftp.Rfc76Assembler()
    got = [asm.feed(p) for p in packets]
    assert got[:-1] == [None] * (len(packets) - 1) and got[-1] == (0, message)


def test_rfc76_header_bits_and_errors() -> None:
    packets, _ = pftp.rfc76_packets(b"abcdefg", 4, 14)
    # seq 14, MORE, first; seq 15, MORE, next; seq 0, LAST, next
    assert [p[0] for p in packets] == [0xE6, 0xF7, 0x03]
    asm = pftp.Rfc76Assembler()
    assert asm.feed(pftp.rfc76_error(103)) == (103, b"")
    asm.feed(packets[0])
    with pytest.raises(DecodeError, match="sequence"):
        asm.feed(packets[2])
    with pytest.raises(DecodeError, match="without a first"):
        asm.feed(packets[1])


@given(st.sampled_from(list(pftp.Op)), st.text(max_size=80))
def test_operation_round_trip(op: pftp.Op, path: str) -> None:
    msg = pftp.rfc60_request(pftp.encode_operation(op, path))
    is_q, _qid, head, data = pftp.parse_rfc60(msg)
    assert not is_q and data == b"" and pftp.decode_operation(head) == (op, path)


def test_query_header_and_known_bytes() -> None:
    # GET "/U/0/" : 08 00 (command 0 is the default, still sent) 12 05 "/U/0/"
    assert pftp.encode_operation(pftp.Op.GET, "/U/0/") == b"\x08\x00\x12\x05/U/0/"
    q = pftp.rfc60_query(pftp.Query.GET_DISK_SPACE)
    assert q == b"\x05\x80" and pftp.parse_rfc60(q)[:2] == (True, 5)


@given(st.lists(st.tuples(st.text(min_size=1, max_size=20), st.integers(0, 2**40),
                          st.none() | st.integers(946_684_800, 4_000_000_000)), max_size=8))
def test_directory_round_trip(items: list[tuple[str, int, int | None]]) -> None:
    entries = [pftp.DirEntry(n, s, None if t is None else t * 10**9) for n, s, t in items]
    assert pftp.decode_directory(pftp.encode_directory(entries)) == entries


@given(st.integers(0, 2**64 - 1))
def test_varint_round_trip(v: int) -> None:
    assert read_varint(enc_varint(v), 0) == (v, len(enc_varint(v)))


def test_time_and_disk_space_round_trip() -> None:
    t = T0 + 123_000_000
    assert pftp.decode_system_time(pftp.encode_system_time(t)) == t
    d = pftp.DiskSpace(4096, 4000, 1234)
    assert pftp.decode_disk_space(pftp.encode_disk_space(d)) == d and d.free_bytes == 4096 * 1234


def test_rec_layout_and_round_trip() -> None:
    frames = _frames(5)
    raw = encode_rec(T0, SETTINGS, frames)
    assert raw[0] == 0 and struct.unpack_from("<I", raw, 1)[0] == 0x3D7C4C2B
    assert raw[17:37] == b"2026-09-21 14:13:20\x00"
    rf = parse_rec(raw)
    assert rf.start_ns == T0 and rf.settings == SETTINGS and rf.frames == frames
    assert rf.truncated_at is None
    cut = parse_rec(raw[:-3])
    assert cut.frames == frames[:-1] and cut.truncated_at is not None


# ---------------------------------------------------------------------- reader ----
def test_reader_joins_parts_and_leaves_missing_frames_as_gaps(tmp_path: Path) -> None:
    parts = [encode_rec(T0, SETTINGS, _frames(40)),
             encode_rec(T0, SETTINGS, _frames(40, first=40 * 36, skip=frozenset({10, 11})))]
    rec = open_recording(_container(tmp_path, parts))
    t0, x = rec.read_all()
    k = _idx(x[~np.isnan(x[:, 0])])
    missing = set(range(50 * 36, 52 * 36))
    assert t0 == T0 and np.array_equal(k, [i for i in range(80 * 36) if i not in missing])
    assert rec.qc.gaps == 1 and np.isnan(x[:, 0]).sum() == 72
    assert rec.qc.first_sample_ns == T0 and not rec.qc.damage


def test_reader_reports_damage_and_keeps_the_rest(tmp_path: Path) -> None:
    frames = _frames(20)
    frames[5] = frames[5][:10] + b"\x40"   # a delta block cut off
    part = encode_rec(T0, SETTINGS, frames)
    path = _container(tmp_path, [part, part[:200]], listed=3)
    path.write_bytes(path.read_bytes() + b"\x10\x00")  # a record cut off
    rec = open_recording(path)
    _t0, x = rec.read_all()
    reasons = {d.reason for d in rec.qc.damage}
    assert {"bad_frame", "missing_part", "truncated"} <= reasons
    assert _idx(x[~np.isnan(x[:, 0])]).size == 19 * 36
    with pytest.raises(InputFileError):
        open_recording(_container(tmp_path, [b"\x01" * 60]))


# --------------------------------------------------------------------- fuzzing ----
def _mutations(valid: list[bytes]) -> st.SearchStrategy[bytes]:
    def mutate(b: bytes, i: int, v: int, cut: int) -> bytes:
        m = bytearray(b)
        if m:
            m[i % len(m)] = v
        return bytes(m[:cut])

    return st.one_of(st.binary(max_size=400),
                     st.builds(mutate, st.sampled_from(valid), st.integers(0, 10**6),
                               st.integers(0, 255), st.integers(0, 10**6)))


_REC = encode_rec(T0, SETTINGS, _frames(3))
_VALID = [_REC, pftp.encode_directory([pftp.DirEntry("ACC0.REC", 12, T0)]),
          pftp.encode_operation(pftp.Op.GET, "/U/0/"), pftp.encode_system_time(T0),
          pftp.encode_disk_space(pftp.DiskSpace(1, 2, 3)),
          container_header({"parts": ["ACC0.REC"]}) + container_record(_REC),
          pftp.rfc60_request(b"\x08\x00")]

PARSERS: dict[str, Callable[[bytes], Any]] = {
    "rec": parse_rec, "container": parse_container, "directory": pftp.decode_directory,
    "operation": pftp.decode_operation, "time": pftp.decode_system_time,
    "disk": pftp.decode_disk_space, "rfc60": pftp.parse_rfc60, "fields": decode_fields,
}


@pytest.mark.parametrize("name", sorted(PARSERS))
@settings(max_examples=300, deadline=None)
@given(data=_mutations(_VALID))
def test_only_decode_error_escapes(name: str, data: bytes) -> None:
    try:
        PARSERS[name](data)
    except DecodeError as exc:
        assert exc.family == "polar_pmd"


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=30), max_size=10))
def test_rfc76_assembler_only_decode_error(packets: list[bytes]) -> None:
    asm = pftp.Rfc76Assembler()
    for p in packets:
        with contextlib.suppress(DecodeError):
            asm.feed(p)


@settings(max_examples=100, deadline=None)
@given(data=_mutations([*_VALID[:1], _VALID[5]]))
def test_reader_only_input_file_error(tmp_path_factory: pytest.TempPathFactory,
                                      data: bytes) -> None:
    tmp = tmp_path_factory.mktemp("fz")
    path = _container(tmp, [data]) if not data.startswith(b"MVRGPREC") else tmp / "r.polarrec"
    if data.startswith(b"MVRGPREC"):
        path.write_bytes(data)
    with contextlib.suppress(InputFileError):
        open_recording(path).read_all()


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=40))
def test_reader_with_any_settings_only_input_file_error(
        tmp_path_factory: pytest.TempPathFactory, tlv: bytes) -> None:
    path = _container(tmp_path_factory.mktemp("fs"), [encode_rec(T0, tlv, _frames(2))])
    with contextlib.suppress(InputFileError):
        open_recording(path).read_all()
