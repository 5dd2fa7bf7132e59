"""``movereg restore``: an encrypted backup into a new, empty data directory."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HELP = "restore an encrypted backup into a new, empty data directory"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments: ``FILE``, ``--data-dir``, ``--passphrase-stdin``."""
    parser.add_argument("file", type=Path, metavar="FILE", help="the backup file")
    parser.add_argument("--data-dir", type=Path, required=True, metavar="NEW",
                        help="a new or empty directory to restore into")
    parser.add_argument("--passphrase-stdin", action="store_true",
                        help="read the passphrase from the first line of standard input")


def run(args: argparse.Namespace) -> int:
    """Decrypt, check (integrity, audit head) and install the backup."""
    from movereg.commands.backup import read_passphrase
    from movereg.storage import Store, restore_backup

    passphrase = read_passphrase(args.passphrase_stdin, confirm=False)
    info = restore_backup(args.file, args.data_dir, passphrase)
    with Store(args.data_dir / "movereg.sqlite3") as store:
        v = store.verify_audit()
    sys.stdout.write(f"restored {args.file} into {args.data_dir}: "
                     f"{sum(info.tables.values())} rows in {len(info.tables)} tables; "
                     f"integrity ok; audit log of {info.audit_n} entries ends at the head "
                     "recorded in the backup\n")
    if not v.ok:
        sys.stderr.write(f"movereg restore: warning: the restored audit log fails "
                         f"verification ({v.problem}); it was restored as backed up\n")
        return 1
    return 0
