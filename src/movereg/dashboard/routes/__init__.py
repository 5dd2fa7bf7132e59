"""API routers, one module per resource (``live.py`` belongs to the pipeline work)."""

from __future__ import annotations

from fastapi import APIRouter

__all__ = ["api_routers"]


def api_routers() -> list[APIRouter]:
    """Every JSON API router, in the order they are mounted."""
    from movereg.dashboard.routes import (
        alerts,
        audit,
        auth,
        bands,
        breaks,
        children,
        dayprint,
        epochs,
        events,
        export,
        family,
        imports,
        sessions,
        strategies,
        summary,
        system,
        users,
    )

    return [system.router, auth.router, users.router, children.router, bands.router,
            sessions.router, events.router, epochs.router, breaks.router, summary.router,
            export.router, strategies.router, audit.router, family.router,
            dayprint.router, imports.router, alerts.router, *_clinic_routers(),
            *_band_recording_routers()]


def _clinic_routers() -> list[APIRouter]:
    """The clinic day (issue 15): first-run setup, group sessions, notes, administration."""
    from movereg.dashboard.routes import (
        clinic,
        relay,  # home relays (#23)
        setup,
    )

    return [setup.api_router, clinic.router, relay.router]


def _band_recording_routers() -> list[APIRouter]:
    """Bands that record on their own (issue 23): record on the band, sync."""
    from movereg.dashboard.routes import band_recording

    return [band_recording.router]
