"""``movereg serve``: the dashboard and API with real wristbands (uvicorn)."""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "run the dashboard and API (binds 127.0.0.1 unless --host says otherwise)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options: ``--host``, ``--port``, ``--data-dir``, ``--secure-cookies``."""
    parser.add_argument("--host", default=None,
                        help="address to listen on (default 127.0.0.1: this computer only). "
                             "Any other address needs at least one user and TLS in front")
    parser.add_argument("--port", type=int, default=None, help="TCP port (default 8765)")
    parser.add_argument("--data-dir", type=Path, default=None,
                        help="where the database lives (default: the per-user data dir)")
    parser.add_argument("--secure-cookies", action="store_true",
                        help="mark cookies Secure (set this when serving behind HTTPS)")
    parser.add_argument("--tls-cert", type=Path, default=None,
                        help="TLS certificate (PEM) to serve HTTPS directly")
    parser.add_argument("--tls-key", type=Path, default=None,
                        help="private key (PEM) of --tls-cert")
    parser.add_argument("--sim-bands", type=int, default=None, metavar="N",
                        help="offer N simulated bands on the bands page (trying it out, tests)")


def _settings(args: argparse.Namespace) -> object:
    from movereg.config import Settings

    overrides: dict[str, object] = {}
    if args.host is not None:
        overrides["host"] = args.host
    if args.port is not None:
        overrides["port"] = args.port
    if args.data_dir is not None:
        overrides["data_dir"] = args.data_dir
    if args.secure_cookies or args.tls_cert is not None:
        overrides["secure_cookies"] = True
    if getattr(args, "sim_bands", None) is not None:
        overrides["sim_bands"] = args.sim_bands
    return Settings(**overrides)  # type: ignore[arg-type]


def run(args: argparse.Namespace) -> int:
    """Check the bind, then serve until interrupted."""
    import logging

    import uvicorn

    from movereg.config import Settings
    from movereg.dashboard.app import check_bind, create_app
    from movereg.errors import ConfigError
    from movereg.storage import Store

    settings = _settings(args)
    assert isinstance(settings, Settings)
    if (args.tls_cert is None) != (args.tls_key is None):
        raise ConfigError("give both --tls-cert and --tls-key")
    for p in (args.tls_cert, args.tls_key):
        if p is not None and not p.is_file():
            raise ConfigError(f"TLS file not found: {p}")
    store = Store(settings.db_path)
    try:
        check_bind(settings, store)  # refuse before opening a socket
        setup_token = store.new_setup_token() if store.setup_pending() else None
    finally:
        store.close()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    log = logging.getLogger("movereg")
    scheme = "https" if args.tls_cert is not None else "http"
    if scheme == "http" and settings.host not in ("127.0.0.1", "localhost", "::1"):
        log.warning("movereg: serving children's data on %s WITHOUT TLS; put an HTTPS proxy "
                    "in front or pass --tls-cert/--tls-key", settings.host)
    app = create_app(settings)
    if setup_token is not None:   # first run: one link, valid until an administrator exists
        host = "127.0.0.1" if settings.host in ("0.0.0.0", "::") else settings.host
        import sys

        sys.stdout.write(f"\n    To set up movereg, open this link (it works once):\n"
                         f"    {scheme}://{host}:{settings.port}/setup?token={setup_token}\n\n")
        sys.stdout.flush()
    log.info("movereg: %s://%s:%d/ (data in %s)", scheme, settings.host, settings.port,
             settings.data_dir)
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="info",
                proxy_headers=False,
                ssl_certfile=None if args.tls_cert is None else str(args.tls_cert),
                ssl_keyfile=None if args.tls_key is None else str(args.tls_key))
    return 0
