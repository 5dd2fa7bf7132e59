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
    flush_interval_s: float = Field(default=0.5, gt=0,
                                    description="storage batch, s (a crash loses at most "
                                                "about this much, plus one sample block)")
    session_idle_logout_min: float = Field(default=15.0, gt=0)
    secure_cookies: bool = False
    demo: bool = False
    raw_retention_days: int = Field(default=90, ge=1)
    sim_bands: int = Field(default=0, ge=0, le=64,
                           description="simulated bands the bands page offers (sim:1..N; "
                                       "demo and tests)")

    @property
    def db_path(self) -> Path:
        """The SQLite database file under :attr:`data_dir`."""
        return self.data_dir / "movereg.sqlite3"
