"""``movereg import``: recordings made away from the clinic into a child's record.

The same code as the browser's upload (:mod:`movereg.pipeline.importer`): reader ->
feature engine -> the store's tables, one source per file, one transaction per file.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path

from movereg.errors import MoveregError, NotFoundError

HELP = ("Import recording files (CWA, GT3X, GENEActiv BIN, CSV, movereg raw) into a child's "
        "record, so they show on the child's pages.")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options: ``FILE... --data-dir D --child CODE [--tz ZONE] [--device SERIAL]``."""
    parser.add_argument("files", nargs="+", metavar="FILE", help="recording file(s)")
    parser.add_argument("--data-dir", type=Path, default=None,
                        help="where the database lives (default: the per-user data dir)")
    parser.add_argument("--child", required=True, metavar="CODE",
                        help="the child's pseudonymous code")
    parser.add_argument("--tz", default=None, metavar="ZONE",
                        help="IANA time zone the device's clock was set in, e.g. "
                        "Europe/London (device files; default: the file's own, else UTC)")
    parser.add_argument("--device", default=None, metavar="SERIAL",
                        help="the band or device serial, where the file does not say")


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (OSError, KeyError):
        return "cli"


def run(args: argparse.Namespace) -> int:
    """Import each file; one line per file on stderr; exit 2 when any file failed."""
    from tqdm import tqdm

    from movereg.config import Settings
    from movereg.pipeline.importer import import_file
    from movereg.recordings.devicetime import parse_tz
    from movereg.storage import AlreadyImported, Store

    parse_tz(args.tz)  # an unknown zone is one line before any work
    settings = Settings() if args.data_dir is None else Settings(data_dir=args.data_dir)
    failed = 0
    with Store(settings.db_path) as store:
        child = store.find_child(args.child)
        if child is None:
            raise NotFoundError(f"no child with code {args.child!r}",
                                advice="see the codes on the children's pages")
        for name in args.files:
            path = Path(name)
            with tqdm(total=100, desc=path.name, unit="%", file=sys.stderr, disable=None,
                      leave=False, bar_format="{desc}: {percentage:3.0f}%|{bar}| {postfix}") \
                    as bar:
                def show(frac: float, msg: str, bar: tqdm = bar) -> None:
                    bar.n = round(100 * frac)
                    bar.set_postfix_str(msg, refresh=True)

                try:
                    src = import_file(store, child.id, path, actor=_actor(), tz=args.tz,
                                      device=args.device, epoch_s=settings.epoch_s,
                                      max_bytes=settings.import_max_bytes,
                                      raw_retention_days=settings.raw_retention_days,
                                      progress=show)
                except AlreadyImported as exc:
                    sys.stderr.write(f"movereg import: {path}: already in the record of "
                                     f"{child.code} (import {exc.source.id}); nothing "
                                     "changed\n")
                    continue
                except MoveregError as exc:
                    failed += 1
                    sys.stderr.write(f"movereg import: error: {exc}\n")
                    continue
            warn = "; ".join(d["message"] for d in src.damage_list)
            sys.stderr.write(
                f"movereg import: {path}: {src.n_epochs:,} epochs from {src.device_type} "
                f"into {child.code} (import {src.id}, {src.samples_read:,} samples read, "
                f"{src.samples_skipped:,} skipped{'; ' + warn if warn else ''})\n")
    return 2 if failed else 0
