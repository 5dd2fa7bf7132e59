"""The sync API tests reuse the dashboard tests' app + users fixture builder."""

from __future__ import annotations

import sys
from pathlib import Path

_dir = str(Path(__file__).resolve().parents[1] / "test_dashboard")
if _dir not in sys.path:
    sys.path.append(_dir)
