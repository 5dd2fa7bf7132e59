"""``movereg export``: write a pseudonymous export file from the database."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from movereg.storage import Store

HELP = ("export epochs, movement breaks, strategy events, raw samples or days (CSV, "
        "Parquet, or Open mHealth JSON lines for raw samples and days)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options: ``--data-dir --what --format --out [--child] [--from --to] [--epoch S]
    [--features a,b,c] [--research]``."""
    parser.add_argument("--data-dir", type=Path, default=None,
                        help="where the database lives (default: the per-user data dir)")
    parser.add_argument("--what", required=True,
                        choices=["epochs", "breaks", "events", "raw", "days"],
                        help="days: one row per child and local day with wear hours and a "
                        "valid-day flag (a person-level summary goes beside it)")
    parser.add_argument("--format", default="csv", choices=["csv", "parquet", "omh"],
                        help="omh: Open mHealth data points as JSON lines (raw -> "
                        "omh:acceleration:2.0 per sample, days -> omh:physical-activity:2.0 "
                        "per valid day and intensity zone)")
    parser.add_argument("--out", required=True, type=Path,
                        help="output file; with --format parquet and a name not ending in "
                        ".parquet, a hive-partitioned dataset directory "
                        "OUT/child=CODE/date=YYYY-MM-DD/part-*.parquet")
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
    parser.add_argument("--tz", default=None, metavar="ZONE",
                        help="IANA zone for local days (days table, partition dates); "
                        "default UTC")
    parser.add_argument("--valid-day", default="16h", metavar="HOURS",
                        help="days: wear needed for a valid day, e.g. 16h (default), 10h")


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


def _write_file(out: Path, body: Iterator[bytes], digest: Any) -> int:
    """Write ``body`` to ``out`` via ``out.part`` (renamed at the end); bytes written."""
    size = 0
    tmp = out.with_name(out.name + ".part")
    with tmp.open("wb") as fh:
        for part in body:
            fh.write(part)
            digest.update(part)
            size += len(part)
    tmp.replace(out)
    return size


def _check_args(args: argparse.Namespace
                ) -> tuple[int | None, int | None, list[str] | None, float]:
    """The checked options before the database opens: ``--from``/``--to`` as UTC ns, the
    ``--features`` list and the ``--valid-day`` hours (h)."""
    from movereg.errors import ValidationError
    from movereg.storage.days import parse_valid_day
    from movereg.storage.export import parse_features

    start, end = _ns(args.start, "--from"), _ns(args.end, "--to")
    if start is not None and end is not None and end <= start:
        raise ValidationError("--to must be after --from")
    if args.what != "epochs" and (args.epoch_s is not None or args.features is not None):
        raise ValidationError("--epoch and --features apply to --what epochs only")
    features = parse_features(args.features)
    valid_h = parse_valid_day(args.valid_day)
    if args.tz is not None:
        from movereg.recordings.devicetime import parse_tz

        parse_tz(args.tz)
    if args.format == "omh" and args.what not in ("raw", "days"):
        raise ValidationError("--format omh applies to --what raw and --what days",
                              advice="Open mHealth has schemas for acceleration samples "
                              "and physical activity, not for movereg's epochs or events")
    return start, end, features, valid_h


def _child_ids(store: Store, args: argparse.Namespace) -> list[int]:
    """The children of the export: ``--child`` or all; with ``--research`` only those whose
    current research consent covers it."""
    from movereg.errors import NotFoundError, ValidationError

    scope = "features+raw" if args.what == "raw" else "features"
    allowed = store.consented_children(scope) if args.research else None
    if args.child is None:
        return [c.id for c in store.list_children(allowed)]
    child = store.find_child(args.child)
    if child is None:
        raise NotFoundError(f"no child with code {args.child!r}")
    if allowed is not None and child.id not in allowed:
        raise ValidationError(f"child {args.child} has no current research consent"
                              + (" covering raw samples" if args.what == "raw" else ""))
    return [child.id]


def _write_beside(args: argparse.Namespace, hive: bool, day_rows: list[dict[str, object]],
                  valid_h: float, meta: dict[str, str]) -> None:
    """The files beside the export: the person summary of a days export; the data
    dictionary (and the aggregation rules of longer epochs) of an epochs export."""
    import json

    from movereg.storage.days import person_summary
    from movereg.storage.export_dataset import write_json

    if args.what == "days":
        persons = person_summary(day_rows)
        base = args.out if hive else args.out.with_name(args.out.stem)
        path = (base / "_persons.json") if hive else \
            base.with_name(base.name + ".persons.json")
        write_json(path, {"valid_day_h": valid_h, "persons": persons})
    if args.what == "epochs":
        from movereg.signal import write_data_dictionary

        dict_base = args.out / "_dictionary.csv" if hive else \
            args.out.with_name(args.out.stem + ".dictionary.csv")
        write_data_dictionary(dict_base)
        if args.epoch_s is not None:  # how the longer epochs were formed
            agg = args.out / "_aggregation.json" if hive else \
                args.out.with_name(args.out.stem + ".aggregation.json")
            agg.write_text(json.dumps({"epoch_s": args.epoch_s,
                                       "rules": json.loads(meta["movereg.aggregation"])},
                                      indent=2) + "\n", encoding="utf-8")


def run(args: argparse.Namespace) -> int:
    """Stream the export to ``--out`` (a data dictionary goes beside epoch exports)."""
    import hashlib
    import itertools
    import json
    import sys

    from movereg.config import Settings
    from movereg.errors import NotFoundError
    from movereg.storage import Store
    from movereg.storage.days import day_chunks
    from movereg.storage.export import (
        check_epoch_length,
        epoch_export_columns,
        export_chunks,
        stream_csv,
        stream_parquet,
    )
    from movereg.storage.export_dataset import (
        Counted,
        provenance,
        why_empty,
        write_hive_parquet,
        write_json,
    )

    start, end, features, valid_h = _check_args(args)
    hive = args.format == "parquet" and args.out.suffix.lower() != ".parquet"
    settings = Settings() if args.data_dir is None else Settings(data_dir=args.data_dir)
    if not settings.db_path.exists():
        raise NotFoundError(f"no movereg database in {settings.data_dir}",
                            advice="pass the --data-dir the server uses")
    params = {"what": args.what, "child": args.child, "from": args.start, "to": args.end,
              "epoch_s": args.epoch_s, "features": features, "research": bool(args.research),
              "tz": args.tz or "UTC", "valid_day_h": valid_h,
              "calibration": "raw samples as the bands sent them (never calibrated)",
              "nonwear_method": "movereg causal 60-min window (column nonwear)"}
    with Store(settings.db_path) as store:
        ids = _child_ids(store, args)
        if args.what != "raw":
            from movereg.storage.export_dataset import calibration_provenance

            params["calibration"] = calibration_provenance(store, ids, start, end)
        if args.epoch_s is not None:
            check_epoch_length(store, ids, args.epoch_s, start_ns=start, end_ns=end)
        columns = epoch_export_columns(features) if args.what == "epochs" else None
        meta = _metadata(args.epoch_s, columns) if args.what == "epochs" else {}
        if args.what == "days":
            source = day_chunks(store, ids, tz=args.tz, valid_h=valid_h, start_ns=start,
                                end_ns=end)
        else:
            source = export_chunks(store, args.what, ids, start_ns=start, end_ns=end,
                                   epoch_s=args.epoch_s)
        first = next(source, None)  # peek: an empty export says why in its metadata
        why = None if first is not None else why_empty(
            store, args.what, ids, bool(args.research), start is not None or end is not None)
        day_rows: list[dict[str, object]] = []

        def _all() -> object:
            for chunk in itertools.chain([] if first is None else [first], source):
                if args.what == "days":
                    n = len(chunk["date"])
                    day_rows.extend({k: v[i] for k, v in chunk.items()} for i in range(n))
                yield chunk

        chunks = Counted(_all())  # type: ignore[arg-type]
        prov = provenance(args.what, "parquet-hive" if hive else args.format, params,
                          [settings.db_path], rows=0, why_empty=why)
        meta = {**meta, "movereg.provenance": json.dumps(prov, default=str)}
        digest = hashlib.sha256()
        size = 0
        if hive:
            files = write_hive_parquet(args.what, iter(chunks), args.out, columns=columns,
                                       metadata=meta, tz=args.tz)
            size = sum(f.stat().st_size for f in files)
            for f in files:
                digest.update(f.read_bytes())
            side = args.out / "_provenance.json"
        elif args.format == "omh":
            from movereg.storage.export_omh import OmhWriter

            omh = OmhWriter(args.what)
            size = _write_file(args.out, omh.stream(iter(chunks)), digest)
            side = args.out.with_name(args.out.name + ".json")
            if omh.lines == 0 and why is None:
                why = (f"no valid days: none of the {omh.skipped_days} day(s) reached "
                       f"{valid_h:g} h of wear (--valid-day); Open mHealth gets valid days "
                       "only")
                prov["why_empty"] = why
        else:
            body = (stream_csv(args.what, iter(chunks), columns=columns)
                    if args.format == "csv"
                    else stream_parquet(args.what, iter(chunks), columns=columns,
                                        metadata=meta))
            size = _write_file(args.out, body, digest)
            side = args.out.with_name(args.out.name + ".json")
        prov["rows"] = chunks.rows if args.format != "omh" else omh.lines
        write_json(side, prov)
        store.audit("cli", "export.done", detail={
            "what": args.what, "format": args.format, "children": [
                store.get_child(i).code for i in ids], "bytes": size,
            "sha256": digest.hexdigest(), "epoch_s": args.epoch_s, "features": features,
            "research": bool(args.research)})
        _write_beside(args, hive, day_rows, valid_h, meta)
    if why is not None:
        sys.stdout.write(f"no rows: {why}\n")
    sys.stdout.write(f"wrote {args.out} ({chunks.rows} rows, {size} bytes, "
                     f"sha256 {digest.hexdigest()[:16]}...)\n")
    return 0
