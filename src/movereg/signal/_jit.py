"""The one JIT policy for every Numba kernel in movereg.

``cache=True`` (compiled code is cached next to the module), ``nogil=True`` (kernels can run
in worker threads), no ``fastmath=True`` (it silently breaks NaN handling). If a kernel ever
needs fastmath, use only the NaN-safe set ``{"nsz", "arcp", "contract", "afn", "reassoc"}``.
Kernels read no mutable globals; a kernel's helpers live in its own file.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from numba import njit

__all__ = ["JIT_OPTIONS", "jit", "jit_inline"]

F = TypeVar("F", bound=Callable[..., Any])

#: Options applied to every kernel.
JIT_OPTIONS: dict[str, Any] = {"cache": True, "nogil": True, "error_model": "numpy"}


def jit(func: F) -> F:
    """Compile ``func`` with movereg's JIT policy (``@njit(cache=True, nogil=True)``)."""
    compiled: F = njit(**JIT_OPTIONS)(func)
    return compiled


def jit_inline(func: F) -> F:
    """Like :func:`jit`, inlined into its callers at the Numba IR level.

    For small kernel helpers called per bin or per sample: an ordinary call passes every
    array argument with reference-count updates, which costs more than the helper's work.
    """
    compiled: F = njit(inline="always", **JIT_OPTIONS)(func)
    return compiled
