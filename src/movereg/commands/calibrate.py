"""``movereg calibrate``: fit each band's calibration from its stored raw samples."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

HELP = ("fit a per-band calibration (sphere fit on still periods) from stored raw "
        "samples; live bands apply the newest accepted one from their next connection")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options: ``--data-dir D [--device ID] [--days N] [--list]``."""
    parser.add_argument("--data-dir", type=Path, default=None,
                        help="where the database lives (default: the per-user data dir)")
    parser.add_argument("--device", default=None, metavar="ID",
                        help="one band's device id (default: every band with raw samples)")
    parser.add_argument("--days", type=float, default=None, metavar="N",
                        help="use only the last N days of stored raw samples (default: all)")
    parser.add_argument("--list", action="store_true",
                        help="list the kept fits (accepted or not) instead of fitting")


def run(args: argparse.Namespace) -> int:
    """Fit, keep and report one line per band; exit 0 (a rejected fit is not an error)."""
    import time

    from movereg.config import Settings
    from movereg.errors import NotFoundError, ValidationError
    from movereg.pipeline.device_calibration import fit_device
    from movereg.storage import Store
    from movereg.timeutil import NS_PER_S

    if args.days is not None and not args.days > 0:
        raise ValidationError("--days must be > 0")
    settings = Settings() if args.data_dir is None else Settings(data_dir=args.data_dir)
    if not settings.db_path.exists():
        raise NotFoundError(f"no movereg database in {settings.data_dir}",
                            advice="pass the --data-dir the server uses")
    start = None if args.days is None else \
        time.time_ns() - round(args.days * 86_400 * NS_PER_S)
    with Store(settings.db_path) as store:
        if args.list:
            for cal in store.list_device_calibrations(args.device):
                _line(cal)
            return 0
        if args.device is not None:
            devices = [args.device]
        else:
            devices = [d.device_id for d in store.list_devices()
                       if store.last_sample_end_ns(d.device_id) is not None]
            if not devices:
                raise NotFoundError("no band has stored raw samples",
                                    advice="raw samples are kept only while raw recording "
                                    "is on (and consented)")
        for dev in devices:
            cal = fit_device(store, dev, start_ns=start)
            store.audit("cli", "calibration.fit", detail={
                "device": dev, "calibration_id": cal.id, "accepted": cal.accepted})
            _line(cal)
    return 0


def _line(cal: Any) -> None:
    """One line about a fit: id, accepted or why not, still windows, span, errors (mg)."""
    import sys

    from movereg.timeutil import NS_PER_S, iso_utc

    hours = (cal.span_end_ns - cal.span_start_ns) / NS_PER_S / 3600
    what = "accepted" if cal.accepted else f"not accepted ({cal.reason})"
    err = ("" if cal.error_before_mg is None else
           f", error {cal.error_before_mg:.1f}" + (
               "" if cal.error_after_mg is None else f" -> {cal.error_after_mg:.2f}") + " mg")
    sys.stdout.write(f"{cal.device_id}: calibration {cal.id} {what}: {cal.n_windows} still "
                     f"windows over {hours:.1f} h{err}; fitted "
                     f"{iso_utc([cal.fitted_at])[0][:19]}Z\n")
