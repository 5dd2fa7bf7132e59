"""``movereg record``: record a band's decoded samples to CSV until Ctrl-C.

The CSV is ``time,x,y,z``: time in Unix seconds with nanosecond digits (UTC), x/y/z in
g, one row per sample; spans the band did not deliver are simply absent (``movereg
features`` reads them as missing time). ``--raw`` also keeps every raw notification as
JSON lines (for bug reports and test fixtures).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal as _signal
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from movereg.errors import ParameterError

if TYPE_CHECKING:
    from movereg.models import BandStatus, SampleBlock
    from movereg.sensors.transport import Backend

HELP = ("Record a band's accelerometer samples (CSV time,x,y,z in g) until Ctrl-C; "
        "--device sim records a simulated band.")

_FAMILIES = ("polar_pmd", "metawear", "movesense", "infinitime", "microbit")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``movereg record``."""
    parser.add_argument("--device", required=True, metavar="ADDRESS|sim",
                        help="band address (see `movereg scan`), or sim / sim:<seed>")
    parser.add_argument("--out", required=True, metavar="FILE", help="output CSV file")
    parser.add_argument("--raw", metavar="RAW.jsonl", default=None,
                        help="also write every raw notification to this JSON-lines file")
    parser.add_argument("--duration", type=float, default=None, metavar="S",
                        help="stop after S seconds of data (default: until Ctrl-C)")
    parser.add_argument("--family", choices=_FAMILIES, default=None,
                        help="band family (default: recognised from its advertisement)")
    parser.add_argument("--rate", type=float, default=52.0, metavar="HZ",
                        help="requested sample rate (default 52; the band picks the nearest)")
    parser.add_argument("--speed", type=float, default=1.0, metavar="X",
                        help="simulated band only: replay speed (default 1 = real time)")


def _fmt_time(t_ns: int) -> str:
    return f"{t_ns // 1_000_000_000}.{t_ns % 1_000_000_000:09d}"


def write_block(out: TextIO, block: SampleBlock) -> None:
    """Append one block's rows ``time,x,y,z`` (Unix s with ns digits, g)."""
    period = 1e9 / block.fs_hz
    rows = []
    for i, (x, y, z) in enumerate(block.samples.tolist()):
        t = block.t0_ns + round(i * period)
        rows.append(f"{_fmt_time(t)},{x:.6g},{y:.6g},{z:.6g}\n")
    out.write("".join(rows))


def status_line(st: BandStatus, samples: int) -> str:
    """One status line (no diagnosis words: just the link and the data)."""
    parts = [st.device_id, st.state.value]
    if st.rate_hz is not None:
        parts.append(f"{st.rate_hz:.1f} Hz")
    parts.append(f"{samples} samples")
    if st.battery_pct is not None:
        parts.append(f"battery {st.battery_pct}%")
    if st.samples_lost:
        parts.append(f"{st.samples_lost} samples missing")
    if st.state.value == "reconnecting":
        parts.append(f"attempt {st.attempt}"
                     + (f", next try in {st.next_try_s:.0f} s" if st.next_try_s is not None else ""))
    if st.reason and st.state.value in ("reconnecting", "stopped"):
        parts.append(st.reason)
    return " | ".join(parts)


async def record(device: str, out_path: Path, *, raw_path: Path | None = None,
                 duration_s: float | None = None, family: str | None = None,
                 rate_hz: float = 52.0, speed: float = 1.0, backend: Backend | None = None,
                 err: TextIO | None = None, stop_event: asyncio.Event | None = None,
                 band_options: dict[str, Any] | None = None) -> int:
    """Record until ``stop_event`` is set (Ctrl-C) or ``duration_s`` of data; returns samples.

    Raises
    ------
    BluetoothUnavailableError, SensorError
        The band cannot be used at all (e.g. no Bluetooth on this machine).
    """
    from movereg.sensors import CaptureWriter, StreamConfig, open_band, parse_sim_target

    err = err or sys.stderr
    stop_event = stop_event or asyncio.Event()
    tty = err.isatty()
    capture = CaptureWriter(raw_path, meta={"device": device, "family": family}) \
        if raw_path is not None else None
    opts: dict[str, Any] = dict(band_options or {})
    if parse_sim_target(device) is not None:
        opts["speed"] = speed
    band = open_band(device, family=family, config=StreamConfig(fs_hz=rate_hz),
                     backend=backend, raw_hook=capture, **opts)
    samples = 0
    first_t: int | None = None
    last_line = 0.0
    # a real band that never connects must not keep a --duration recording open forever
    wall_deadline = (time.monotonic() + duration_s / speed + 60.0) if duration_s else None
    try:
        with out_path.open("w", encoding="utf-8", newline="") as out:
            out.write("time,x,y,z\n")
            await band.start()
            stopper = asyncio.create_task(stop_event.wait())
            blocks = band.blocks().__aiter__()
            nxt: asyncio.Future[Any] | None = None
            try:
                while True:
                    # keep one pending __anext__ across status ticks: cancelling it would
                    # close the band's async generator
                    if nxt is None:
                        nxt = asyncio.ensure_future(blocks.__anext__())
                    waiting: set[asyncio.Future[Any]] = {nxt, stopper}
                    done, _ = await asyncio.wait(waiting, timeout=1.0,
                                                 return_when=asyncio.FIRST_COMPLETED)
                    if nxt not in done:
                        if stopper in done:
                            break
                    else:
                        fut, nxt = nxt, None
                        try:
                            block = fut.result()
                        except StopAsyncIteration:
                            break
                        write_block(out, block)
                        samples += block.n
                        first_t = block.t0_ns if first_t is None else first_t
                        if duration_s is not None and block.t_end_ns - first_t >= duration_s * 1e9:
                            break
                    now = time.monotonic()
                    if wall_deadline is not None and now > wall_deadline:
                        break
                    if now - last_line >= (1.0 if tty else 10.0):
                        last_line = now
                        line = status_line(band.status(), samples)
                        err.write(("\r" + line + "\x1b[K") if tty else line + "\n")
                        err.flush()
            finally:
                stopper.cancel()
                await band.stop()
                # drain what was decoded before the stop (and surface a fatal error)
                if nxt is not None:
                    with contextlib.suppress(StopAsyncIteration):
                        block = await nxt
                        write_block(out, block)
                        samples += block.n
                async for block in blocks:
                    write_block(out, block)
                    samples += block.n
    finally:
        if capture is not None:
            capture.close()
    if tty:
        err.write("\n")
    err.write(f"recorded {samples} samples to {out_path}\n")
    return samples


def run(args: argparse.Namespace) -> int:
    """Record; Ctrl-C stops cleanly (STOP sent to the band, files flushed)."""
    if args.duration is not None and not args.duration > 0:
        raise ParameterError(f"--duration must be > 0 s, got {args.duration}")
    if not args.rate > 0 or not args.speed > 0:
        raise ParameterError("--rate and --speed must be > 0")

    async def _main() -> int:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(_signal.SIGINT, stop.set)
            loop.add_signal_handler(_signal.SIGTERM, stop.set)
        return await record(args.device, Path(args.out),
                            raw_path=Path(args.raw) if args.raw else None,
                            duration_s=args.duration, family=args.family,
                            rate_hz=args.rate, speed=args.speed, stop_event=stop)

    asyncio.run(_main())
    return 0
