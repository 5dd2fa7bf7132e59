"""``movereg demo``: the dashboard with a seeded demo clinic and simulated wristbands.

Seeds (once per data directory) a therapist and a parent account with random passwords,
two children under pseudonymous codes with nicknames, the caseload and guardian links
and a therapy session per child; then serves the real app (the real hub, storage and
API) with simulated bands streaming those sessions, and prints the URL. No network
access or hardware is needed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

HELP = "run the dashboard with a demo clinic and two simulated wristbands (offline)"

_ACCOUNTS_FILE = "demo-accounts.json"
_CHILDREN = (("Robin", "DEMO-A1"), ("Sky", "DEMO-B2"))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options: ``--host``, ``--port``, ``--data-dir``, ``--seed`` (and ``--bands``)."""
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default 127.0.0.1: this computer only)")
    parser.add_argument("--port", type=int, default=8765, help="TCP port (default 8765)")
    parser.add_argument("--data-dir", type=Path, default=None,
                        help="where the demo database lives (default: a new temporary "
                             "directory for this run). An existing demo directory is "
                             "reused: accounts and data are kept")
    parser.add_argument("--seed", type=int, default=0,
                        help="random seed of the simulated movement (default 0)")
    parser.add_argument("--bands", type=int, default=2,
                        help="number of simulated bands, shared between the two demo "
                             "children (default 2; the load benchmark uses 64)")


@dataclass(frozen=True)
class _Demo:
    therapist: tuple[str, str]
    parent: tuple[str, str]
    children: list[tuple[int, str, str]]        # (id, code, nickname)
    sessions: dict[int, int]                    # child id -> session id


def _out(text: str = "") -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def _seed(store: Any, data_dir: Path) -> _Demo:
    """Create the demo clinic once; later runs reuse it (passwords from the file)."""
    from movereg.dashboard.auth import hash_password

    accounts = data_dir / _ACCOUNTS_FILE
    if accounts.exists():
        saved = json.loads(accounts.read_text(encoding="utf-8"))
        kids = []
        for code, nick in ((c, n) for n, c in _CHILDREN):
            child = store.find_child(code)
            if child is None:
                from movereg.errors import ConfigError

                raise ConfigError(f"{data_dir} has demo accounts but no child {code}; use a "
                                  "fresh --data-dir")
            kids.append((child.id, code, nick))
        sessions = {cid: _open_session(store, cid, None) for cid, _, _ in kids}
        return _Demo((saved["therapist"][0], saved["therapist"][1]),
                     (saved["parent"][0], saved["parent"][1]),
                     kids, sessions)
    if store.count_users() > 0:
        from movereg.errors import ConfigError

        raise ConfigError(f"{data_dir} already holds a movereg database that is not a demo",
                          advice="run the demo with a fresh --data-dir (or none)")
    t_pw, p_pw = secrets.token_urlsafe(12), secrets.token_urlsafe(12)
    therapist = store.create_user("therapist", hash_password(t_pw), "therapist")
    parent = store.create_user("parent", hash_password(p_pw), "parent")
    kids = []
    for nick, code in _CHILDREN:
        child = store.create_child(code=code, display_name=nick)
        store.link_user_child(therapist.id, child.id)
        # demo families agree to research use of features, so the export page has data
        store.record_consent(child.id, consented=True, scope="features",
                             recorded_by="demo")
        kids.append((child.id, code, nick))
    store.link_user_child(parent.id, kids[0][0])          # the parent of the first child
    sessions = {cid: _open_session(store, cid, therapist.id) for cid, _, _ in kids}
    fd = os.open(accounts, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump({"therapist": ["therapist", t_pw], "parent": ["parent", p_pw]}, fh)
    return _Demo(("therapist", t_pw), ("parent", p_pw), kids, sessions)


def _open_session(store: Any, child_id: int, user_id: int | None) -> int:
    for s in store.list_sessions(child_id=child_id):
        if s.ended_at is None:
            return int(s.id)
    return int(store.start_session(child_id, kind="therapy", created_by=user_id,
                                   note="demo session with a simulated band").id)


async def _serve(args: argparse.Namespace, settings: Any, demo: _Demo) -> None:
    import uvicorn

    from movereg.dashboard.app import create_app

    app = create_app(settings)
    loop = asyncio.get_running_loop()

    class _Server(uvicorn.Server):
        def handle_exit(self, sig: int, frame: FrameType | None) -> None:
            # end live streams first: uvicorn waits for open responses before shutdown
            hub = getattr(app.state, "hub", None)
            if hub is not None:
                loop.call_soon_threadsafe(hub.close_live)
            super().handle_exit(sig, frame)

    config = uvicorn.Config(app, host=args.host, port=args.port, log_level="warning",
                            proxy_headers=False,   # X-Forwarded-For: Settings.trusted_proxies
                            lifespan="on", ws_ping_interval=20.0,
                            timeout_graceful_shutdown=5)
    server = _Server(config)
    serving = asyncio.create_task(server.serve())
    while not server.started:
        if serving.done():
            await serving            # start-up failed: re-raise
            return
        await asyncio.sleep(0.05)
    hub = app.state.hub
    for k in range(args.bands):
        cid, code, _ = demo.children[k % len(demo.children)]
        dev = await hub.connect(f"sim:{args.seed + k}", child_id=cid,
                                session_id=demo.sessions[cid], device_id=f"sim-{k + 1}")
        if k < 8:
            _out(f"  band {dev} streams for child {code}")
    if args.bands > 8:
        _out(f"  ... {args.bands} bands in all")
    host = "127.0.0.1" if args.host in ("0.0.0.0", "::") else args.host
    _out(f"URL: http://{host}:{args.port}/")
    _out("Press Ctrl+C to stop.")
    await serving


def _check_port(host: str, port: int) -> None:
    import socket

    from movereg.errors import ConfigError

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise ConfigError(f"cannot use --host {host}: {exc}") from exc
    family, kind, proto, _, addr = infos[0]
    with socket.socket(family, kind, proto) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(addr)
        except OSError as exc:
            raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror or exc}",
                              advice="choose another --port") from exc


def run(args: argparse.Namespace) -> int:
    """Seed the demo clinic, serve the app with simulated bands, print the URL."""
    from movereg.config import Settings
    from movereg.errors import ConfigError
    from movereg.storage.store import Store

    if not 1 <= args.bands <= 256:
        raise ConfigError(f"--bands must be 1..256, got {args.bands}")
    _check_port(args.host, args.port)
    if args.data_dir is None:
        data_dir = Path(tempfile.mkdtemp(prefix="movereg-demo-"))
        where = f"{data_dir} (a new temporary directory for this run; delete it when done)"
    else:
        data_dir = args.data_dir.expanduser().resolve()
        data_dir.mkdir(parents=True, exist_ok=True)
        where = f"{data_dir} (from --data-dir)"
    settings = Settings(data_dir=data_dir, host=args.host, port=args.port, demo=True)
    store = Store(settings.db_path)
    try:
        demo = _seed(store, data_dir)
    finally:
        store.close()
    _out("movereg demo: a demo clinic with simulated wristbands (no real children's data).")
    _out(f"  data directory: {where}")
    _out(f"  therapist login: {demo.therapist[0]} / {demo.therapist[1]}")
    _out(f"  parent login:    {demo.parent[0]} / {demo.parent[1]}")
    for _, code, nick in demo.children:
        _out(f"  child {code} (nickname {nick})")
    _out("  starting the server (the first run compiles the signal kernels: up to a "
         "minute) ...")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args, settings, demo))
    _out("movereg demo: stopped; data kept in " + str(data_dir))
    return 0
