"""The one JIT policy for every Numba kernel in movereg.

``cache=True`` (compiled code is cached next to the module), ``nogil=True`` (kernels can run
in worker threads), no ``fastmath=True`` (it silently breaks NaN handling). If a kernel ever
needs fastmath, use only the NaN-safe set ``{"nsz", "arcp", "contract", "afn", "reassoc"}``.
Kernels read no mutable globals; a kernel's helpers live in its own file.

:func:`jit_fma` adds exactly one of those flags, ``contract`` (a multiply and an add may
fuse into one FMA, rounded once): results stay deterministic for any chunking (the same
code runs on every sample) but differ from separate rounding in the last bits. The
feature engine and the counts filters use it; the counts' 1-mg rounding does not (a
fused ``x·1000 + 1.5·2**52`` would round the exact product, not the product ActiLife
rounds). Fusion only happens between instructions that both allow it, so a helper
compiled with :func:`jit` keeps its own arithmetic when inlined into a caller.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any, TypeVar

from numba import njit

__all__ = ["JIT_FMA_OPTIONS", "JIT_OPTIONS", "jit", "jit_fma", "jit_fma_inline", "jit_inline",
           "source_stamp"]

F = TypeVar("F", bound=Callable[..., Any])

#: Options applied to every kernel.
JIT_OPTIONS: dict[str, Any] = {"cache": True, "nogil": True, "error_model": "numpy"}
#: The same, and multiply-adds may fuse (``contract``: NaN-safe).
JIT_FMA_OPTIONS: dict[str, Any] = {**JIT_OPTIONS, "fastmath": {"contract"}}


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


def jit_fma(func: F) -> F:
    """Like :func:`jit`, with multiply-adds fused (``fastmath={"contract"}``)."""
    compiled: F = njit(**JIT_FMA_OPTIONS)(func)
    return compiled


def jit_fma_inline(func: F) -> F:
    """Like :func:`jit_inline`, with multiply-adds fused (``fastmath={"contract"}``)."""
    compiled: F = njit(inline="always", **JIT_FMA_OPTIONS)(func)
    return compiled



def source_stamp(*modules: ModuleType) -> int:
    """A 60-bit digest of the modules' source files.

    For a kernel that calls kernels of other files: captured in its closure, the stamp is
    part of Numba's cache key, so editing any of those files recompiles the caller
    (Numba's cache checks only the caller's own file). A module without a readable
    source file contributes its name.
    """
    h = hashlib.sha256()
    for module in modules:
        try:
            h.update(Path(str(module.__file__)).read_bytes())
        except (OSError, TypeError, AttributeError):
            h.update(module.__name__.encode())
    return int(h.hexdigest()[:15], 16)
