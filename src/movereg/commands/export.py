"""``movereg export``: write a pseudonymous export file from the database."""

from __future__ import annotations

import argparse
from datetime import datetime
from pathlib import Path

HELP = "export epochs, movement breaks, strategy events or raw samples (CSV or Parquet)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options: ``--data-dir --what --format --out [--child] [--from --to] [--epoch S]
    [--features a,b,c] [--research]``."""
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
    parser.add_argument("--epoch", dest="epoch_s", type=float, default=None, metavar="S",
                        help="epochs only: re-aggregate to S seconds, a whole multiple of "
                             "the recorded epoch length (e.g. 5, 15, 60)")
    parser.add_argument("--features", default=None, metavar="A,B,C",
                        help="epochs only: feature columns to keep (epoch_start, epoch_s "
                             "and coverage are always included)")
    parser.add_argument("--research", action="store_true",
                        help="only children whose current research consent covers this "
                             "export (raw samples need the features+raw scope), as a "
                             "researcher's export would")


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


def _metadata(epoch_s: float | None, columns: list[str] | None) -> dict[str, str]:
    if epoch_s is None:
        return {}
    import json

    from movereg.analysis import AGGREGATION_RULES

    rules = {c: r for c, r in AGGREGATION_RULES.items() if columns is None or c in columns}
    return {"movereg.epoch_s": f"{epoch_s:g}",
            "movereg.aggregation": json.dumps(rules, sort_keys=True)}


def run(args: argparse.Namespace) -> int:
    """Stream the export to ``--out`` (a data dictionary goes beside epoch exports)."""
    import hashlib
    import sys

    from movereg.config import Settings
    from movereg.errors import NotFoundError, ValidationError
    from movereg.storage import Store
    from movereg.storage.export import (
        check_epoch_length,
        epoch_export_columns,
        export_chunks,
        parse_features,
        stream_csv,
        stream_parquet,
    )

    start, end = _ns(args.start, "--from"), _ns(args.end, "--to")
    if start is not None and end is not None and end <= start:
        raise ValidationError("--to must be after --from")
    if args.what != "epochs" and (args.epoch_s is not None or args.features is not None):
        raise ValidationError("--epoch and --features apply to --what epochs only")
    features = parse_features(args.features)
    settings = Settings() if args.data_dir is None else Settings(data_dir=args.data_dir)
    if not settings.db_path.exists():
        raise NotFoundError(f"no movereg database in {settings.data_dir}",
                            advice="pass the --data-dir the server uses")
    with Store(settings.db_path) as store:
        scope = "features+raw" if args.what == "raw" else "features"
        allowed = store.consented_children(scope) if args.research else None
        if args.child is None:
            ids = [c.id for c in store.list_children(allowed)]
        else:
            child = store.find_child(args.child)
            if child is None:
                raise NotFoundError(f"no child with code {args.child!r}")
            if allowed is not None and child.id not in allowed:
                raise ValidationError(f"child {args.child} has no current research consent"
                                      + (" covering raw samples" if args.what == "raw"
                                         else ""))
            ids = [child.id]
        if args.epoch_s is not None:
            check_epoch_length(store, ids, args.epoch_s, start_ns=start, end_ns=end)
        columns = epoch_export_columns(features) if args.what == "epochs" else None
        meta = _metadata(args.epoch_s, columns) if args.what == "epochs" else {}
        chunks = export_chunks(store, args.what, ids, start_ns=start, end_ns=end,
                               epoch_s=args.epoch_s)
        body = (stream_csv(args.what, chunks, columns=columns) if args.format == "csv"
                else stream_parquet(args.what, chunks, columns=columns, metadata=meta))
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
            "sha256": digest.hexdigest(), "epoch_s": args.epoch_s, "features": features,
            "research": bool(args.research)})
        if args.what == "epochs":
            from movereg.signal import write_data_dictionary

            write_data_dictionary(args.out.with_name(args.out.stem + ".dictionary.csv"))
            if meta:  # how the longer epochs were formed, beside CSV and Parquet alike
                import json

                args.out.with_name(args.out.stem + ".aggregation.json").write_text(
                    json.dumps({"epoch_s": args.epoch_s,
                                "rules": json.loads(meta["movereg.aggregation"])},
                               indent=2) + "\n", encoding="utf-8")
    sys.stdout.write(f"wrote {args.out} ({size} bytes, sha256 {digest.hexdigest()[:16]}...)\n")
    return 0
