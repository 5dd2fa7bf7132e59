"""The relay's loop against the in-process server (#23): bands emptied into the spool and
removed only once the spool copy is durable; uploads confirmed by sha256; offline for days
then everything uploads; a band of another child kept aside; a revoked token stops."""

from __future__ import annotations

import asyncio
import hashlib
import json
from pathlib import Path

import httpx
import pytest
from h5_api_support import T0, Api
from relay_support import client_for, relay_token, wait_imports

from band_fakes import FakeOpener, FakeRecorder
from movereg.relay import Relay, RelayClient, RelayRevoked
from movereg.sensors.offline_fetch import fetch_recordings, spooled

_S = 10**9


def _band(dev: str = "dev-a", n: int = 2, seconds: float = 90.0, day: int = 0
          ) -> FakeRecorder:
    band = FakeRecorder(device_id=dev)
    for k in range(n):
        band.add(f"/U/0/day{day}/rec{k}/", T0 + (60 + 600 * k + 86_400 * day) * _S, seconds,
                 seed=k + 10 * day)
    return band


def _offline() -> httpx.MockTransport:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("network is unreachable", request=request)

    return httpx.MockTransport(refuse)


def test_each_recording_is_imported_once_and_the_band_emptied(api: Api,
                                                               tmp_path: Path) -> None:
    band = _band()
    said: list[str] = []
    relay = Relay(client_for(api, relay_token(api)), tmp_path / "spool", FakeOpener(band),
                  say=said.append)
    report = asyncio.run(relay.cycle())
    assert (report.downloaded, report.removed, report.uploaded) == (2, 2, 2)
    assert band.held == {} and band.removed == ["/U/0/day0/rec0/", "/U/0/day0/rec1/"]
    assert spooled(tmp_path / "spool") == [] and report.waiting == 0
    srcs = wait_imports(api, api.child_a.id, 2)
    assert sorted(s.status for s in srcs) == ["done", "done"]
    assert all(s.imported_by and s.imported_by.startswith("relay:") for s in srcs)
    assert any("sha256 confirmed" in m for m in said)
    # the same recordings again (a band that lost its removal): no second import
    again = _band()
    relay.opener = FakeOpener(again)
    report = asyncio.run(relay.cycle())
    assert report.uploaded == 2 and again.held == {}
    assert any("was already there" in m for m in said)
    assert len(api.store.list_sources(child_id=api.child_a.id, kind="file")) == 2


def test_removed_from_the_band_only_after_the_spool_copy(api: Api, tmp_path: Path) -> None:
    band = _band(n=1)
    spool = tmp_path / "spool"
    seen: list[bool] = []
    original = band.remove

    async def remove(rec: object) -> None:   # the spool copy and its sidecar exist first
        [f] = spooled(spool)
        seen.append(f.path.is_file() and hashlib.sha256(f.path.read_bytes()).hexdigest()
                    == f.sha256)
        await original(rec)  # type: ignore[arg-type]

    band.remove = remove  # type: ignore[method-assign]
    relay = Relay(client_for(api, relay_token(api)), spool, FakeOpener(band))
    asyncio.run(relay.cycle())
    assert seen == [True]


def test_offline_for_days_then_everything_uploads(api: Api, tmp_path: Path) -> None:
    token = relay_token(api)
    spool = tmp_path / "spool"
    online = Relay(client_for(api, token), spool, FakeOpener())
    asyncio.run(online.cycle())   # learns which bands to look for
    assert json.loads((spool / "bands.json").read_text())[0]["device_id"] == "dev-a"
    bands = [_band(n=1), _band(n=2, day=1)]
    for k, b in enumerate(bands):  # two days without a connection
        away = Relay(RelayClient("http://clinic.invalid", token, transport=_offline()), spool,
                     FakeOpener(b))
        report = asyncio.run(away.cycle())
        assert not report.online and report.uploaded == 0 and b.held == {}, k
    assert len(spooled(spool)) == 3
    assert api.store.list_sources(child_id=api.child_a.id, kind="file") == []
    report = asyncio.run(online.cycle())
    assert report.uploaded == 3 and spooled(spool) == []
    assert len(wait_imports(api, api.child_a.id, 3)) == 3


def test_a_band_of_another_child_is_kept_aside(api: Api, tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    other = _band("dev-b", n=1)
    asyncio.run(fetch_recordings(other, spool))   # as if a relay had spooled it
    relay = Relay(client_for(api, relay_token(api)), spool, FakeOpener())
    report = asyncio.run(relay.cycle())
    assert report.refused == 1 and spooled(spool) == []
    kept = list((spool / "_refused").rglob("*.csv"))
    assert len(kept) == 1 and kept[0].stat().st_size > 0
    why = next((spool / "_refused").rglob("*.why.txt")).read_text()
    assert "403" in why and "not assigned to one of its children" in why
    assert api.store.list_sources(kind="file") == []


def test_a_revoked_token_stops_the_relay(api: Api, tmp_path: Path) -> None:
    token = relay_token(api)
    rid = api.store.list_relay_tokens()[0].id
    api.store.revoke_relay_token(rid, actor="ada(admin)")
    band = _band(n=1)
    relay = Relay(client_for(api, token), tmp_path / "spool", FakeOpener(band))
    with pytest.raises(RelayRevoked, match="refused this relay's token"):
        asyncio.run(relay.cycle())
    assert len(band.held) == 1   # nothing was taken from the band


def test_cli_bad_token_file_is_one_line(tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    from movereg.cli import main

    bad = tmp_path / "token"
    bad.write_text("not a token\n")
    code = main(["relay", "--server", "http://127.0.0.1:9", "--token-file", str(bad),
                 "--spool", str(tmp_path / "spool"), "--once"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "does not hold a relay token" in err[0]
    code = main(["relay", "--server", "http://127.0.0.1:9", "--token-file",
                 str(tmp_path / "missing"), "--once"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "cannot read the token file" in err[0]
