"""A band's live stream, ended to record on the band, comes back when the recording stops.

A band records on its own or streams live, not both (Polar's SDK): *Record on the band*
ends the band's live stream (``BandSync.start_recording`` -> ``Hub.disconnect``) and the
hub forgets that stream; *Stop recording* only stops the band's recording. So nothing
reconnected the band, and the therapist had to. The recording routes now note, in this
server process, which bands streamed live when their recording was asked for, and connect
those again when the recording stops (or did not start): for the child wearing the band
now and that child's open session with this band, as starting a session does. A band that
was not streaming before stays as it was. A restart of the server forgets the note (the
hub streams nothing after a restart until bands are connected).
"""

from __future__ import annotations

import logging
from typing import Any

from movereg.dashboard.routes._common import maybe_await, run_sync
from movereg.errors import MoveregError
from movereg.storage import Store

__all__ = ["LIVE_BACK", "LIVE_PAUSED", "forget", "live_now", "live_target", "reconnect", "remember"]

log = logging.getLogger(__name__)

LIVE_BACK = "Live movement is back: the band streams to movereg again."
LIVE_PAUSED = ("Live movement pauses while the band records on its own; it comes back "
               "when you stop recording.")
_NOTED = "live_before_recording"     # app.state: device ids to connect again


def live_target(device_id: str) -> str:
    """The ``Hub.connect`` target of a band by its device id (``sim-3`` -> ``sim:3``)."""
    return "sim:" + device_id[4:] if device_id.startswith("sim-") else device_id


def live_now(hub: Any, device_id: str) -> bool:
    """True while the hub streams from ``device_id``."""
    return hub is not None and any(str(st.device_id) == device_id for st in hub.status())


def _noted(state: Any) -> set[str]:
    noted: set[str] | None = getattr(state, _NOTED, None)
    if noted is None:
        noted = set()
        setattr(state, _NOTED, noted)
    return noted


def remember(state: Any, device_id: str) -> None:
    """Note that ``device_id`` streamed live before its recording on the band."""
    _noted(state).add(device_id)


def forget(state: Any, device_id: str) -> bool:
    """Drop the note; True when there was one (the band should stream again)."""
    noted = _noted(state)
    was = device_id in noted
    noted.discard(device_id)
    return was


def _open_session(store: Store, child_id: int | None, device_id: str) -> int | None:
    if child_id is None:
        return None
    return next((s.id for s in store.list_sessions(child_id=child_id, open_only=True)
                 if s.device_id == device_id), None)


async def reconnect(hub: Any, store: Store, device_id: str, *, actor: str) -> str:
    """Stream ``device_id`` again (audit-logged); the sentence for the page.

    A simulated band comes back as it was, with what it recorded on itself (the hub's
    band factory, :meth:`~movereg.pipeline.band_links.BandLinks.band_factory`, opens it
    so), as a real band keeps it.
    """
    if live_now(hub, device_id):
        return LIVE_BACK
    child = await run_sync(store.device_child, device_id)
    session = await run_sync(_open_session, store, child, device_id)
    try:
        dev = str(await maybe_await(hub.connect(live_target(device_id), child_id=child,
                                                session_id=session)))
    except MoveregError as exc:
        return (f"Live movement did not come back by itself ({exc.message}). "
                "Connect the band here to see it again.")
    except Exception as exc:        # a band that fails must not fail the stop
        log.warning("band %s did not stream again: %r", device_id, exc)
        return ("Live movement did not come back by itself (the band did not answer). "
                "Connect the band here to see it again.")
    await run_sync(store.audit, actor, "band.connect", child_id=child,
                   detail={"device_id": dev, "session_id": session,
                           "why": "live again after recording on the band"})
    return LIVE_BACK
