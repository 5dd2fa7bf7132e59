"""Per-device calibration for live bands: fitted from a band's stored raw samples, kept
in the store, applied by the hub before every feature when an accepted one exists.

A band's accelerometer has its own small offset and gain errors (tens of mg are common);
GGIR and actipy fit them per *file* from the file's still periods (van Hees et al. 2014).
Live bands have no file, so movereg fits each band from the raw samples it stored during
earlier wear (raw recording on and consented), keeps every fit with its numbers, and the
hub applies the newest accepted one of a band from the next connection on. Stored raw
samples stay as the band sent them, so a fit can be repeated or checked later.

When: ``movereg calibrate`` (an operator's command, e.g. nightly from cron or after a
week of wear) rather than after each session: a sphere fit needs still periods in many
orientations (GGIR accepts a fit only when every axis is seen beyond +-0.3 g both ways),
which a therapy session rarely gives but a day or more of wear does, and a fit reads all
of a band's stored raw samples (about 1 s of CPU per day at 50 Hz), work that does not
belong on the server's event loop while children stream.
"""

from __future__ import annotations

import dataclasses
import time
from typing import TYPE_CHECKING

import numpy as np

from movereg.errors import NotFoundError
from movereg.models import SampleBlock
from movereg.timeutil import NS_PER_S

if TYPE_CHECKING:
    from movereg.storage import DeviceCalibration, Store

__all__ = ["calibrated_block", "fit_device"]


def fit_device(store: Store, device_id: str, *, start_ns: int | None = None,
               end_ns: int | None = None, now_ns: int | None = None) -> DeviceCalibration:
    """Fit a band's calibration from its stored raw samples in ``[start_ns, end_ns)`` and
    keep it (accepted or not, with the reason); returns the stored record.

    Still 10-s windows never span a gap between stored blocks; blocks at different rates
    each give their own windows, all fitted together.

    Raises
    ------
    NotFoundError
        The band has no stored raw samples in the range.
    """
    from movereg.signal.calibration import StillWindows, fit_sphere

    windows: dict[float, StillWindows] = {}
    ends: dict[float, int] = {}
    n_samples = 0
    first: int | None = None
    last_end = 0
    for chunk in store.iter_raw(device_id=device_id, start_ns=start_ns, end_ns=end_ns):
        col = windows.setdefault(chunk.fs_hz, StillWindows(chunk.fs_hz))
        step = NS_PER_S / chunk.fs_hz
        prev = ends.get(chunk.fs_hz)
        if prev is not None and abs(chunk.t0_ns - prev) > step / 2:
            col.gap()
        col.add(chunk.samples)
        end = chunk.t0_ns + round(chunk.n * step)
        ends[chunk.fs_hz] = end
        n_samples += chunk.n
        first = chunk.t0_ns if first is None else first
        last_end = max(last_end, end)
    if first is None:
        raise NotFoundError(f"band {device_id} has no stored raw samples"
                            + (" in that range" if start_ns or end_ns else ""),
                            advice="raw samples are kept only while raw recording is on "
                            "(and consented); wear the band with raw recording first")
    means = np.concatenate([c.means for c in windows.values()]) if windows else \
        np.zeros((0, 3))
    cal = fit_sphere(means)
    return store.add_device_calibration(
        device_id, fitted_at=time.time_ns() if now_ns is None else now_ns,
        span_start_ns=first, span_end_ns=last_end, n_samples=n_samples,
        n_windows=cal.n_windows, error_before_mg=cal.error_before_mg,
        error_after_mg=cal.error_after_mg, offset=cal.offset.tolist(),
        scale=cal.scale.tolist(), accepted=cal.ok, reason=cal.reason)


def calibrated_block(block: SampleBlock, cal: DeviceCalibration | None) -> SampleBlock:
    """``block`` with ``offset + scale * samples`` (g) when ``cal`` is accepted; else as is."""
    if cal is None or not cal.accepted:
        return block
    return dataclasses.replace(block, samples=cal.apply(block.samples))
