"""``movereg demo``: the dashboard with a seeded demo clinic and simulated wristbands.

Seeds (once per data directory) a therapist, a parent and a researcher account with
random passwords, ``--children`` children (default 4) under pseudonymous codes with
nicknames, the caseload and guardian links, research consent (features) for every
child and a therapy session per child; then serves the real app (the real hub, storage and
API) with one simulated band per child streaming those sessions, and prints the URL.
Each child moves in their own way (calm, rhythmic rocking, frequent movement breaks, a
band taken off for a while) from an independent seed; the bands report a battery level
that drains slowly, the second one low (the battery alert shows). The first page answers at once:
the signal kernels compile in the background, and a past week per child is written
through the same pipeline once they are ready (:mod:`movereg.commands._demo_history`).
No network access or hardware is needed.
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
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

HELP = "run the dashboard with a demo clinic and simulated wristbands (offline)"

_ACCOUNTS_FILE = "demo-accounts.json"
_NICKNAMES = ("Robin", "Sky", "Alex", "Sam", "Jo", "Kai", "Ari", "Noa", "Remy", "Tay", "Lou",
              "Max", "Eli", "Ren", "Avi", "Quinn")
#: how each demo child moves (simulated band scenario), in turn
STYLES = ("calm", "rhythmic", "breaks", "not_worn_stretch")
#: the second band's battery, % (low: the demo shows the battery alert)
_LOW_BATTERY_PCT = 14
_STYLE_WORDS = {"calm": "mostly calm", "rhythmic": "rhythmic rocking",
                "breaks": "frequent movement breaks", "not_worn_stretch":
                "takes the band off for a while"}


def demo_children(n: int) -> list[tuple[str, str]]:
    """``(nickname, code)`` of the first ``n`` demo children (codes DEMO-A1, DEMO-B2, ...)."""
    return [(_NICKNAMES[k], f"DEMO-{chr(65 + k)}{k + 1}") for k in range(n)]


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
    parser.add_argument("--children", type=int, default=4,
                        help="number of demo children, 1..16 (default 4), each with a "
                             "simulated band that moves in its own way")
    parser.add_argument("--bands", type=int, default=None,
                        help="number of simulated bands, shared in turn between the demo "
                             "children (default: one per child; the load benchmark uses 64)")
    parser.add_argument("--no-history", action="store_true",
                        help="do not write the past week of demo data")
    parser.add_argument("--bursts", type=float, default=None, metavar="SECONDS",
                        help="script movement bursts on the first band (3 s still, then "
                             "2 s of vigorous movement): the first SECONDS after the bands "
                             "start, then every 60 s (tests and demonstrations)")


@dataclass(frozen=True)
class _Demo:
    therapist: tuple[str, str]
    parent: tuple[str, str]
    researcher: tuple[str, str]
    children: list[tuple[int, str, str]]        # (id, code, nickname)
    sessions: dict[int, int]                    # child id -> session id
    fresh: bool = False                         # seeded by this run


def _out(text: str = "") -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


_ROLES = ("therapist", "parent", "researcher")


def _prehash(data_dir: Path) -> dict[str, Future[tuple[str, str]]]:
    """Random passwords and their argon2 hashes for a new demo, computed in parallel
    threads (argon2 releases the GIL) once the server answers. Empty when the directory
    already has demo accounts."""
    if (data_dir / _ACCOUNTS_FILE).exists():
        return {}

    def make() -> tuple[str, str]:
        from movereg.dashboard.auth import hash_password

        pw = secrets.token_urlsafe(12)
        return pw, hash_password(pw)

    pool = ThreadPoolExecutor(max_workers=len(_ROLES), thread_name_prefix="demo-hash")
    futures = {role: pool.submit(make) for role in _ROLES}
    pool.shutdown(wait=False)
    return futures


def _seed(store: Any, data_dir: Path, n_children: int,
          hashed: dict[str, Future[tuple[str, str]]] | None = None) -> _Demo:
    """Create the demo clinic once; later runs reuse it (passwords from the file)."""
    from movereg.errors import ConfigError

    accounts = data_dir / _ACCOUNTS_FILE
    if accounts.exists():
        saved = json.loads(accounts.read_text(encoding="utf-8"))
        kids = []
        for nick, code in demo_children(n_children):
            child = store.find_child(code)
            if child is None:
                raise ConfigError(f"{data_dir} has demo accounts but no child {code}; use a "
                                  "fresh --data-dir (or the same --children as before)")
            kids.append((child.id, code, nick))
        if "researcher" not in saved:        # a demo directory from before researchers
            saved["researcher"] = ["researcher", _add_user(store, "researcher")]
            _write_accounts(accounts, saved)
        sessions = {cid: _open_session(store, cid, None) for cid, _, _ in kids}
        return _Demo(_pair(saved["therapist"]), _pair(saved["parent"]),
                     _pair(saved["researcher"]), kids, sessions)
    if store.count_users() > 0:
        raise ConfigError(f"{data_dir} already holds a movereg database that is not a demo",
                          advice="run the demo with a fresh --data-dir (or none)")
    hashed = hashed or _prehash(data_dir)
    (t_pw, t_hash), (p_pw, p_hash), (r_pw, r_hash) = (hashed[r].result() for r in _ROLES)
    therapist = store.create_user("therapist", t_hash, "therapist")
    parent = store.create_user("parent", p_hash, "parent")
    store.create_user("researcher", r_hash, "researcher")
    kids = []
    children = demo_children(n_children)
    for nick, code in children:
        child = store.create_child(code=code, display_name=nick)
        store.link_user_child(therapist.id, child.id)
        # demo families agree to research use of features, so the export page has data
        store.record_consent(child.id, consented=True, scope="features", recorded_by="demo")
        kids.append((child.id, code, nick))
    store.link_user_child(parent.id, kids[0][0])          # the parent of the first child
    sessions = {cid: _open_session(store, cid, therapist.id) for cid, _, _ in kids}
    _write_accounts(accounts, {"therapist": ["therapist", t_pw], "parent": ["parent", p_pw],
                               "researcher": ["researcher", r_pw]})
    return _Demo(("therapist", t_pw), ("parent", p_pw), ("researcher", r_pw), kids, sessions,
                 fresh=True)


def _pair(value: Any) -> tuple[str, str]:
    return str(value[0]), str(value[1])


def _add_user(store: Any, role: str) -> str:
    from movereg.dashboard.auth import hash_password

    pw = secrets.token_urlsafe(12)
    store.create_user(role, hash_password(pw), role)
    return pw


def _write_accounts(path: Path, accounts: dict[str, list[str]]) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(accounts, fh)


def _open_session(store: Any, child_id: int, user_id: int | None) -> int:
    for s in store.list_sessions(child_id=child_id):
        if s.ended_at is None:
            return int(s.id)
    return int(store.start_session(child_id, kind="therapy", created_by=user_id,
                                   note="demo session with a simulated band").id)


def _announce(demo: _Demo, where: str) -> None:
    _out("movereg demo: a demo clinic with simulated wristbands (no real children's data).")
    _out(f"  data directory: {where}")
    _out(f"  therapist login: {demo.therapist[0]} / {demo.therapist[1]}")
    _out(f"  parent login:    {demo.parent[0]} / {demo.parent[1]}")
    _out(f"  researcher login: {demo.researcher[0]} / {demo.researcher[1]}")
    for _, code, nick in demo.children:
        _out(f"  child {code} (nickname {nick})")
    _out("  the signal kernels compile in the background; the live view says so until "
         "they are ready")
    _out("  the simulated bands record on their own too: Bands page -> Record on the band, "
         "Walk away (demo), Come back, Sync now")


async def _serve(args: argparse.Namespace, settings: Any, where: str) -> None:
    """Serve first (the login page answers while the clinic is seeded), then seed,
    print the accounts, connect the bands and print the URL."""
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
        await asyncio.sleep(0.02)
    # the first page first: seeding (argon2), the simulated bands (scipy) and the kernels
    # (numba) start once the server has answered a request, or after 1 s
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(app.state.first_response.wait(), 1.0)
    # ... and the kernels now too, while the clinic is seeded: not later, when the bands
    # stream (loading them holds the GIL for a while, which would delay storage flushes;
    # the two threads take turns to import Numba and SciPy: movereg._imports)
    app.state.first_response.set()
    preload = asyncio.create_task(asyncio.to_thread(_preload))
    try:
        hashed = _prehash(settings.data_dir)
        demo = await asyncio.to_thread(_seed, app.state.store, settings.data_dir,
                                       args.children, hashed)
        await preload
    except BaseException:
        server.should_exit = True
        await serving
        raise
    _announce(demo, where)
    hub = app.state.hub
    n_bands = len(demo.children) if args.bands is None else args.bands
    for k in range(n_bands):
        i = k % len(demo.children)
        cid, code, _ = demo.children[i]
        style = STYLES[i % len(STYLES)]
        battery = _LOW_BATTERY_PCT if k == 1 else 95 - 6 * (k % 8)
        options: dict[str, Any] = {"scenario": style, "battery_pct": battery}
        if k == 0 and args.bursts is not None:
            options["bursts_ns"] = _bursts(args.bursts)
        dev = await hub.connect(f"sim:{args.seed + k}", child_id=cid,
                                session_id=demo.sessions[cid], device_id=f"sim-{k + 1}",
                                options=options)
        if k < 8:
            low = ", battery low" if battery <= settings.alert_battery_pct else ""
            _out(f"  band {dev} streams for child {code} ({_STYLE_WORDS[style]}{low})")
    if n_bands > 8:
        _out(f"  ... {n_bands} bands in all")

    async def _ready() -> None:
        await hub.wait_engine()
        _out(f"  signal engine ready after {hub.engine_ready_s or 0.0:.1f} s")

    ready = asyncio.create_task(_ready())
    history = None
    if demo.fresh and not args.no_history:
        from movereg.commands._demo_history import seed_history_later

        history = asyncio.create_task(seed_history_later(
            app.state.store, hub, demo.children, seed=args.seed, log=_out))
    host = "127.0.0.1" if args.host in ("0.0.0.0", "::") else args.host
    _out(f"URL: http://{host}:{args.port}/")
    _out("Press Ctrl+C to stop.")
    await serving
    for task in (ready, history):
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


_BURST_EVERY_S = 60


def _bursts(first_s: float) -> list[int]:
    """UTC ns of the scripted bursts (``--bursts``): ``first_s`` from now, then every
    60 s for a day; printed as ``scripted bursts: first at <ms> UTC ms, every <ms> ms``."""
    import time

    t0 = time.time_ns() + round(first_s * 1e9)
    _out(f"  scripted bursts: first at {t0 // 1_000_000} UTC ms, every "
         f"{_BURST_EVERY_S * 1000} ms (band sim-1)")
    return [t0 + k * _BURST_EVERY_S * 1_000_000_000 for k in range(86_400 // _BURST_EVERY_S)]


def _preload() -> None:
    """Import the simulated band (numpy/scipy) off the event loop, before bands start
    (after the first page: the import holds the GIL for a while)."""
    from movereg._imports import import_heavy

    import_heavy("movereg.sensors.simulated")   # not while the kernel thread imports Numba


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

    if args.bands is not None and not 1 <= args.bands <= 256:
        raise ConfigError(f"--bands must be 1..256, got {args.bands}")
    if not 1 <= args.children <= len(_NICKNAMES):
        raise ConfigError(f"--children must be 1..{len(_NICKNAMES)}, got {args.children}")
    _check_port(args.host, args.port)
    if args.data_dir is not None:
        args.data_dir = args.data_dir.expanduser().resolve()
    if args.data_dir is None:
        data_dir = Path(tempfile.mkdtemp(prefix="movereg-demo-"))
        where = f"{data_dir} (a new temporary directory for this run; delete it when done)"
    else:
        data_dir = args.data_dir
        data_dir.mkdir(parents=True, exist_ok=True)
        where = f"{data_dir} (from --data-dir)"
    settings = Settings(data_dir=data_dir, host=args.host, port=args.port, demo=True)
    if not (data_dir / _ACCOUNTS_FILE).exists() and settings.db_path.exists():
        store = Store(settings.db_path)
        try:
            if store.count_users() > 0:
                raise ConfigError(f"{data_dir} already holds a movereg database that is "
                                  "not a demo",
                                  advice="run the demo with a fresh --data-dir (or none)")
        finally:
            store.close()
    _out("movereg demo: starting the server ...")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args, settings, where))
    _out("movereg demo: stopped; data kept in " + str(data_dir))
    return 0
