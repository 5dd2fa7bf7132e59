"""The relay's side of the server's relay API (httpx, synchronous: run it in a thread).

Errors come back as three kinds, because the relay acts on each differently:
:class:`RelayRevoked` (401: stop, say so), :class:`UploadRefused` (403/413/422: this file
will never be taken; keep it aside, never delete it) and :class:`ServerUnreachable`
(no connection, a timeout, a 5xx: keep everything and try again later).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import httpx

from movereg.errors import MoveregError

__all__ = ["RelayBandInfo", "RelayClient", "RelayRevoked", "ServerUnreachable", "UploadReceipt",
           "UploadRefused"]

#: ``progress(bytes_sent, bytes_total)`` while a file uploads.
UploadProgress = Callable[[int, int], None]


class RelayRevoked(MoveregError):
    """The server refused the relay's token (revoked, or never made there)."""


class UploadRefused(MoveregError):
    """The server will not take this file (not a band of the relay's children then, too
    large, not a recording). Retrying does not help; the file is kept aside."""


class ServerUnreachable(MoveregError):
    """No answer from the server (offline, DNS, TLS, timeout, 5xx): try again later."""


@dataclass(frozen=True, slots=True)
class RelayBandInfo:
    """A band the server wants the relay to look for."""

    device_id: str
    family: str | None


@dataclass(frozen=True, slots=True)
class UploadReceipt:
    """The server's answer to an upload."""

    sha256: str
    import_id: int
    already_imported: bool
    status: str


class _Paced:
    """A file read at most ``bps`` bytes a second (a family's uplink is not ours to fill),
    reporting progress; httpx reads it in 64 KiB pieces and learns its size by fstat."""

    def __init__(self, fh: IO[bytes], total: int, bps: float | None,
                 progress: UploadProgress | None) -> None:
        self._fh, self._total, self._bps, self._progress = fh, total, bps, progress
        self._sent = 0
        self._t0 = time.monotonic()

    def fileno(self) -> int:
        return self._fh.fileno()

    def tell(self) -> int:
        return self._fh.tell()

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        return self._fh.seek(offset, whence)

    def read(self, n: int = -1) -> bytes:
        data = self._fh.read(n)
        self._sent += len(data)
        if self._bps:
            ahead = self._sent / self._bps - (time.monotonic() - self._t0)
            if ahead > 0:
                time.sleep(ahead)
        if self._progress is not None:
            self._progress(self._sent, self._total)
        return data


def _detail(r: httpx.Response) -> str:
    try:
        body = r.json()
    except ValueError:
        return r.text[:200]
    return str(body.get("detail", body))[:300] if isinstance(body, dict) else str(body)[:300]


class RelayClient:
    """Talks to ``movereg serve`` with a relay token.

    Parameters
    ----------
    server
        The server's base URL (``https://clinic.example``).
    token
        The relay token (``mrr_...``).
    max_upload_bps
        Upload speed limit, bytes/s (None: as fast as the link goes).
    transport
        An httpx transport (tests); default the network.
    """

    def __init__(self, server: str, token: str, *, max_upload_bps: float | None = None,
                 timeout_s: float = 60.0, transport: httpx.BaseTransport | None = None) -> None:
        self.server = server.rstrip("/")
        self.max_upload_bps = max_upload_bps
        self._http = httpx.Client(base_url=self.server, transport=transport,
                                  headers={"Authorization": f"Bearer {token}"},
                                  timeout=httpx.Timeout(timeout_s, connect=10.0))

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def _send(self, method: str, url: str, **kw: Any) -> httpx.Response:
        try:
            r = self._http.request(method, url, **kw)
        except httpx.HTTPError as exc:   # connection refused/reset, DNS, TLS, timeouts
            raise ServerUnreachable(f"cannot reach {self.server}: {type(exc).__name__}: "
                                    f"{exc}") from None
        if r.status_code == 401:
            raise RelayRevoked(f"the server refused this relay's token: {_detail(r)}",
                               advice="ask the clinic's admin for a new relay token and put "
                                      "it in the token file")
        if r.status_code >= 500:
            raise ServerUnreachable(f"{self.server} answered {r.status_code}: {_detail(r)}")
        return r

    def bands(self) -> list[RelayBandInfo]:
        """The bands to look for (assigned now to the relay's children)."""
        r = self._send("GET", "/api/relay/bands")
        if r.status_code != 200:
            raise ServerUnreachable(f"the band list answered {r.status_code}: {_detail(r)}")
        return [RelayBandInfo(str(b["device_id"]), b.get("family"))
                for b in r.json().get("bands", [])]

    def upload(self, path: Path, *, band: str, start_ns: int, recording_id: str,
               sha256: str, progress: UploadProgress | None = None) -> UploadReceipt:
        """Upload one spooled recording; the receipt's ``sha256`` is the server's."""
        started = datetime.fromtimestamp(start_ns / 1e9, UTC).isoformat()
        size = path.stat().st_size
        with open(path, "rb") as fh:
            body = _Paced(fh, size, self.max_upload_bps, progress)
            r = self._send("POST", "/api/relay/recordings",
                           data={"band": band, "started": started,
                                 "recording_id": recording_id, "sha256": sha256},
                           files={"file": (path.name, body, "application/octet-stream")})
        if r.status_code in (403, 404, 413, 422):
            raise UploadRefused(f"{path.name}: the server will not take it "
                                f"({r.status_code}): {_detail(r)}")
        if r.status_code not in (200, 202):
            raise ServerUnreachable(f"{path.name}: the upload answered {r.status_code}: "
                                    f"{_detail(r)}")
        d = r.json()
        return UploadReceipt(str(d.get("sha256", "")), int(d.get("import_id", 0)),
                             bool(d.get("already_imported")), str(d.get("status", "")))
