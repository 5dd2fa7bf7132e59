"""``movereg export``: write a pseudonymous export file from the database."""

from __future__ import annotations

import argparse
from datetime import datetime
from pathlib import Path

HELP = "export epochs, movement breaks, strategy events or raw samples (CSV or Parquet)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options: ``--data-dir --what --format --out [--child] [--from --to]``."""
    parser.add_argument("--data-dir", type=Path, default=None,
                        help="where the database lives (default: the per-user data dir)")
    parser.add_argument("--what", required=True, choices=["epochs", "breaks", "events", "raw"])
    parser.add_argument("--format", default="csv", choices=["csv", "parquet"])
    parser.add_argument("--out", required=True, type=Path, help="output file")
    parser.add_argument("--child", default=None, metavar="CODE",
                        help="one child's pseudonymous code (default: every child)")
    parser.add_argument("--from", dest="start", default=None, metavar="ISO",
                        help="start time, ISO 8601 with offset (e.g. 2025-03-01T08:00+00:00)")
    parser.add_argument("--to", dest="end", default=None, metavar="ISO",
                        help="end time (exclusive), ISO 8601 with offset")


def _ns(text: str | None, what: str) -> int | None:
    from movereg.errors import ValidationError

    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ValidationError(f"{what}: not an ISO 8601 time: {text!r}") from exc
    if value.tzinfo is None:
        raise ValidationError(f"{what}: give a UTC offset, e.g. {text}+00:00")
    from movereg.dashboard.schemas import ns

    return ns(value)


def run(args: argparse.Namespace) -> int:
    """Stream the export to ``--out`` (a data dictionary goes beside epoch exports)."""
    import hashlib
    import sys

    from movereg.config import Settings
    from movereg.errors import NotFoundError, ValidationError
    from movereg.storage import Store
    from movereg.storage.export import export_chunks, stream_csv, stream_parquet

    start, end = _ns(args.start, "--from"), _ns(args.end, "--to")
    if start is not None and end is not None and end <= start:
        raise ValidationError("--to must be after --from")
    settings = Settings() if args.data_dir is None else Settings(data_dir=args.data_dir)
    if not settings.db_path.exists():
        raise NotFoundError(f"no movereg database in {settings.data_dir}",
                            advice="pass the --data-dir the server uses")
    with Store(settings.db_path) as store:
        if args.child is None:
            ids = [c.id for c in store.list_children()]
        else:
            child = store.find_child(args.child)
            if child is None:
                raise NotFoundError(f"no child with code {args.child!r}")
            ids = [child.id]
        chunks = export_chunks(store, args.what, ids, start_ns=start, end_ns=end)
        body = (stream_csv(args.what, chunks) if args.format == "csv"
                else stream_parquet(args.what, chunks))
        digest = hashlib.sha256()
        size = 0
        tmp = args.out.with_name(args.out.name + ".part")
        with tmp.open("wb") as fh:
            for part in body:
                fh.write(part)
                digest.update(part)
                size += len(part)
        tmp.replace(args.out)
        store.audit("cli", "export.done", detail={
            "what": args.what, "format": args.format, "children": [
                store.get_child(i).code for i in ids], "bytes": size,
            "sha256": digest.hexdigest()})
        if args.what == "epochs":
            from movereg.signal import write_data_dictionary

            write_data_dictionary(args.out.with_name(args.out.stem + ".dictionary.csv"))
    sys.stdout.write(f"wrote {args.out} ({size} bytes, sha256 {digest.hexdigest()[:16]}...)\n")
    return 0
