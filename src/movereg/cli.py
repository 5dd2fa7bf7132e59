"""The ``movereg`` command line: ``demo | serve | scan | record | features | export | user``.

Each sub-command lives in its own module under :mod:`movereg.commands` exposing
``HELP: str``, ``add_arguments(parser)`` and ``run(args) -> int``. Heavy imports (numba,
bleak, fastapi) happen inside ``run`` so ``movereg --help`` stays fast.

Every :class:`~movereg.errors.MoveregError` becomes a one-line message on stderr and
exit status 2; nothing reaches the user as a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from types import ModuleType

from movereg import __version__
from movereg.errors import MoveregError

__all__ = ["build_parser", "main"]

#: sub-command name -> module implementing it
COMMANDS: dict[str, str] = {
    "demo": "movereg.commands.demo",
    "serve": "movereg.commands.serve",
    "scan": "movereg.commands.scan",
    "record": "movereg.commands.record",
    "features": "movereg.commands.features",
    "export": "movereg.commands.export",
    "user": "movereg.commands.user",
    "backup": "movereg.commands.backup",
    "restore": "movereg.commands.restore",
    "import": "movereg.commands.import_",
    "relay": "movereg.commands.relay",
    "calibrate": "movereg.commands.calibrate",
}


def _load(name: str) -> ModuleType | None:
    try:
        return importlib.import_module(COMMANDS[name])
    except ModuleNotFoundError as exc:  # a command not built yet
        if exc.name == COMMANDS[name]:
            return None
        raise


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser with every available sub-command."""
    parser = argparse.ArgumentParser(
        prog="movereg",
        description=(
            "movereg: wearable movement-sensor regulation monitor. Describes movement; "
            "not a medical device."
        ),
    )
    parser.add_argument("--version", action="version", version=f"movereg {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        module = _load(name)
        if module is None:
            continue
        p = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(p)
        p.set_defaults(_module=module)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the process exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    module = getattr(args, "_module", None)
    if module is None:
        parser.print_help()
        return 2
    try:
        return int(module.run(args) or 0)
    except MoveregError as exc:
        print(f"movereg {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"movereg {args.command}: stopped.", file=sys.stderr)
        return 130
    except OSError as exc:  # disk full, permission denied, missing file
        print(f"movereg {args.command}: error: {exc.strerror or exc}"
              f"{': ' + str(exc.filename) if exc.filename else ''}", file=sys.stderr)
        return 2
