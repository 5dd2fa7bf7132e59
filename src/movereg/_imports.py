"""One lock for first imports of the scientific stack (Numba, SciPy) from threads.

The server imports them after its first page, in background threads (the kernel warm-up,
the demo's simulated bands). Two threads importing the same packages for the first time
at once can fail in CPython 3.11 (``KeyError: 'scipy'`` from importlib when one sees the
other's half-initialised package), so such imports take this lock.
"""

from __future__ import annotations

import importlib
import threading
from types import ModuleType

__all__ = ["HEAVY_IMPORTS", "import_heavy"]

HEAVY_IMPORTS = threading.Lock()


def import_heavy(*names: str) -> list[ModuleType]:
    """Import ``names`` one thread at a time (see the module docstring)."""
    with HEAVY_IMPORTS:
        return [importlib.import_module(n) for n in names]
