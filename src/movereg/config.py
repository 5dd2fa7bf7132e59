"""Settings (pydantic-settings). No module-level instance: build one per app/CLI call.

Environment variables use the ``MOVEREG_`` prefix, e.g. ``MOVEREG_DATA_DIR``.
"""

from __future__ import annotations

from pathlib import Path

import platformdirs
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings", "default_data_dir"]


def default_data_dir() -> Path:
    """Per-user data directory (e.g. ``~/.local/share/movereg`` on Linux)."""
    return Path(platformdirs.user_data_dir("movereg", appauthor=False))


class Settings(BaseSettings):
    """Runtime settings for the service, pipeline and CLI."""

    model_config = SettingsConfigDict(env_prefix="MOVEREG_", extra="ignore")

    data_dir: Path = Field(default_factory=default_data_dir)
    host: str = "127.0.0.1"
    port: int = Field(default=8765, ge=1, le=65535)
    epoch_s: float = Field(default=1.0, gt=0, description="live feature epoch, s")
    flush_interval_s: float = Field(default=0.25, gt=0,
                                    description="storage batch, s (a crash loses at most "
                                                "about this much, plus one sample block)")
    session_idle_logout_min: float = Field(default=15.0, gt=0)
    secure_cookies: bool = False
    demo: bool = False
    raw_retention_days: int = Field(default=90, ge=1)
    sim_bands: int = Field(default=0, ge=0, le=64,
                           description="simulated bands the bands page offers (sim:1..N; "
                                       "demo and tests)")
    # --- sessions, tokens, request limits (#21) --------------------------------------
    session_ttl_hours: float = Field(default=12.0, gt=0, le=24 * 30,
                                     description="browser session lifetime, h")
    bearer_ttl_max_hours: float = Field(default=168.0, gt=0, le=24 * 365,
                                        description="longest bearer token a user may ask "
                                                    "for, h")
    bearer_idle_timeout_min: float = Field(default=24 * 60.0, gt=0,
                                           description="a bearer token unused this long "
                                                       "ends, min")
    trusted_proxies: list[str] = Field(
        default_factory=list, description="addresses/networks of reverse proxies whose "
        "X-Forwarded-For is believed (none: the socket's address is the client)")
    max_json_body_bytes: int = Field(default=64 * 1024, ge=1024,
                                     description="largest JSON/form request body, bytes")
    max_upload_body_bytes: int = Field(default=2 * 1024**3 + 1024**2, ge=1024,
                                       description="largest body of an upload route, bytes "
                                                   "(a 2 GB recording plus its form)")
    import_max_bytes: int = Field(default=2 * 1024**3, ge=1,
                                  description="largest recording file an import accepts, bytes")
    # device and data-health alerts (movereg.pipeline.alerts)
    alert_battery_pct: int = Field(default=15, ge=0, le=100, description="battery low at or "
                                   "below, %")
    alert_disconnected_s: float = Field(default=30.0, gt=0, description="no data for longer "
                                        "than this, s")
    alert_not_worn_min: float = Field(default=10.0, gt=0, description="still (off the wrist) "
                                      "during a session for longer than this, min")
    alert_stuck_s: float = Field(default=10.0, gt=0, description="flat or clipped signal for "
                                 "this long, s")
    alert_storage_free_pct: float = Field(default=5.0, ge=0, le=100, description="free disk "
                                          "space at or below this, %")
    # bands that record on their own (#23: movereg.pipeline.band_sync)
    band_sync_interval_min: float = Field(default=5.0, ge=0, description="background scan "
                                          "for bands holding recordings, every N min (0 = off)")
    band_sync_retry_min: float = Field(default=2.0, gt=0, description="a busy band is tried "
                                       "again after this long, min")
    band_memory_alert_pct: float = Field(default=10.0, ge=0, le=100, description="band "
                                         "memory nearly full at or below this free share, %")

    @property
    def db_path(self) -> Path:
        """The SQLite database file under :attr:`data_dir`."""
        return self.data_dir / "movereg.sqlite3"
