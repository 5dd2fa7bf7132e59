"""``movereg relay``: the home relay (#23). Empties the family's bands and uploads their
recordings to the clinic's server with a relay token. No database; serves no pages."""

from __future__ import annotations

import argparse
import asyncio
import os
import stat
import sys
from pathlib import Path

from movereg.errors import ValidationError

HELP = ("Home relay: find the family's bands, keep their recordings on this computer and "
        "upload them to the clinic's server (a relay token from the admin page).")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options: ``--server URL --token-file F [--spool DIR] [--once] [--interval S]``."""
    parser.add_argument("--server", required=True, metavar="URL",
                        help="the clinic's movereg server, e.g. https://movereg.clinic.example")
    parser.add_argument("--token-file", required=True, type=Path, metavar="F",
                        help="file holding the relay token the admin made (keep it 0600)")
    parser.add_argument("--spool", type=Path, default=None, metavar="DIR",
                        help="where recordings wait until the server has them "
                             "(default: <per-user data dir>/relay-spool)")
    parser.add_argument("--once", action="store_true", help="one pass, then exit")
    parser.add_argument("--interval", type=float, default=300.0, metavar="S",
                        help="seconds between passes (default 300)")
    parser.add_argument("--max-upload-rate", type=float, default=None, metavar="BYTES_PER_S",
                        help="limit the upload speed (spare the family's connection)")
    parser.add_argument("--simulate", action="store_true",
                        help="simulated bands (sim-N) instead of Bluetooth: demo and tests")
    parser.add_argument("--simulate-hours", type=float, default=2.0, metavar="H",
                        help="length of each simulated band's two recordings, h (default 2)")


def _token(path: Path) -> str:
    try:
        text = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ValidationError(f"cannot read the token file {path}: {exc.strerror or exc}",
                              advice="put the relay token from the admin page in that "
                                     "file") from None
    if not text.startswith("mrr_") or any(c.isspace() for c in text):
        raise ValidationError(f"{path} does not hold a relay token (one line starting "
                              "with mrr_)", advice="copy the token from the admin page")
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        sys.stderr.write(f"movereg relay: warning: {path} can be read by others; chmod 600 "
                         "it\n")
    return text


def run(args: argparse.Namespace) -> int:
    """Run the relay; exit 2 (one line) when the token is refused or the options are bad."""
    from movereg.config import default_data_dir
    from movereg.relay import BleOpener, Relay, RelayClient, RelayRevoked, SimOpener

    if not args.server.startswith(("https://", "http://")):
        raise ValidationError(f"--server {args.server!r} is not a URL",
                              advice="give https://host[:port]")
    if not args.interval > 0:
        raise ValidationError("--interval must be > 0 seconds")
    if args.server.startswith("http://") and not any(
            h in args.server for h in ("//127.0.0.1", "//localhost", "//[::1]")):
        sys.stderr.write("movereg relay: warning: the server is not HTTPS; the token and the "
                         "recordings travel unencrypted\n")
    token = _token(args.token_file)
    spool = args.spool or default_data_dir() / "relay-spool"
    if not 0 < args.simulate_hours <= 48:
        raise ValidationError("--simulate-hours must be in (0, 48]")
    opener = (SimOpener(Path(spool) / "sim-bands.json", hours=args.simulate_hours)
              if args.simulate else BleOpener())
    client = RelayClient(args.server, token, max_upload_bps=args.max_upload_rate)

    def say(msg: str) -> None:
        sys.stdout.write(f"movereg relay: {msg}\n")
        sys.stdout.flush()

    from movereg.sensors.metawear_logging_clock import use_clock_book

    Path(spool).mkdir(parents=True, exist_ok=True)
    use_clock_book(Path(spool) / "metawear-clock.json")  # MetaWear tick references
    relay = Relay(client, Path(spool), opener, say=say)
    say(f"spool {spool}; server {client.server}; pid {os.getpid()}")
    try:
        asyncio.run(relay.run(once=args.once, interval_s=args.interval))
    except RelayRevoked as exc:
        sys.stderr.write(f"movereg relay: error: {exc.message}. The relay stops; "
                         f"{exc.advice}.\n")
        return 2
    finally:
        client.close()
    return 0
