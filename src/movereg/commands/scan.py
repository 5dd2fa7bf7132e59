"""``movereg scan``: list nearby wristbands movereg can read."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import TYPE_CHECKING, TextIO

from movereg.errors import ParameterError

if TYPE_CHECKING:
    from movereg.sensors.transport import Backend

HELP = "List nearby wristbands movereg can read (Polar, MetaWear, Movesense, micro:bit, PineTime)."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``movereg scan``."""
    parser.add_argument("--timeout", type=float, default=5.0, metavar="S",
                        help="how long to listen for advertisements, seconds (default 5)")


async def scan_and_print(timeout_s: float, *, backend: Backend | None = None,
                         out: TextIO | None = None) -> int:
    """Scan and print one line per supported band; returns the number found."""
    from movereg.sensors.scanner import scan

    out = out or sys.stdout
    found = await scan(timeout_s, backend=backend)
    if not found:
        print("No supported bands found nearby. Switch the band on, bring it within a few "
              "metres, and try again (or record a simulated band: movereg record --device sim).",
              file=out)
        return 0
    print(f"{'ADDRESS':<20} {'FAMILY':<11} {'RSSI':>5}  NAME", file=out)
    for r in found:
        rssi = f"{r.rssi}" if r.rssi is not None else "?"
        print(f"{r.address:<20} {r.family.value:<11} {rssi:>5}  {r.name or ''}", file=out)
    return len(found)


def run(args: argparse.Namespace) -> int:
    """Scan once and print the table (exit 2 with one line when there is no Bluetooth)."""
    if not args.timeout > 0:
        raise ParameterError(f"--timeout must be > 0 s, got {args.timeout}")
    asyncio.run(scan_and_print(args.timeout))
    return 0
