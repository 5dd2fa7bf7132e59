"""``movereg backup``: an encrypted, consistent copy of a data directory (server may run)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HELP = "write an encrypted backup of a data directory (safe while the server runs)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options: ``--data-dir``, ``--out``, ``--passphrase-stdin``."""
    parser.add_argument("--data-dir", type=Path, default=None,
                        help="the data directory to back up (default: the per-user one)")
    parser.add_argument("--out", type=Path, required=True, metavar="FILE",
                        help="the backup file to write (must not exist)")
    parser.add_argument("--passphrase-stdin", action="store_true",
                        help="read the passphrase from the first line of standard input "
                             "(otherwise it is asked for twice)")


def read_passphrase(from_stdin: bool, *, confirm: bool) -> str:
    """The passphrase from stdin's first line, or typed (twice when ``confirm``)."""
    from movereg.errors import ValidationError

    if from_stdin:
        line = sys.stdin.readline().rstrip("\r\n")
        if not line:
            raise ValidationError("no passphrase on standard input")
        return line
    import getpass

    first = getpass.getpass("backup passphrase: ")
    if confirm and getpass.getpass("again: ") != first:
        raise ValidationError("the two passphrases differ")
    return first


def run(args: argparse.Namespace) -> int:
    """Back up the database, its audit head and the secrets file, encrypted."""
    from movereg.config import Settings
    from movereg.storage import create_backup

    settings = Settings() if args.data_dir is None else Settings(data_dir=args.data_dir)
    passphrase = read_passphrase(args.passphrase_stdin, confirm=True)
    info = create_backup(settings.data_dir, args.out, passphrase)
    rows = sum(info.tables.values())
    sys.stdout.write(f"backed up {settings.data_dir} to {args.out}: {info.db_bytes} bytes, "
                     f"{rows} rows in {len(info.tables)} tables, audit log of "
                     f"{info.audit_n} entries\n")
    if not info.head_ok:
        sys.stderr.write("movereg backup: warning: the audit log does not match its anchored "
                         "head; it was backed up as found (run `movereg user verify-audit`)\n")
    sys.stdout.write("Keep the passphrase apart from the backup: without it the backup "
                     "cannot be read.\n")
    return 0
