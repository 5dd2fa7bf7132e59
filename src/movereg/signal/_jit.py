"""The one JIT policy for every Numba kernel in movereg.

``cache=True`` (compiled code is cached next to the module), ``nogil=True`` (kernels can run
in worker threads), no ``fastmath=True`` (it silently breaks NaN handling). If a kernel ever
needs fastmath, use only the NaN-safe set ``{"nsz", "arcp", "contract", "afn", "reassoc"}``.
Kernels read no mutable globals.

:func:`jit_fma` adds exactly one of those flags, ``contract`` (a multiply and an add may
fuse into one FMA, rounded once): results stay deterministic for any chunking (the same
code runs on every sample) but differ from separate rounding in the last bits. The
feature engine and the counts filters use it; the counts' 1-mg rounding does not (a
fused ``x·1000 + 1.5·2**52`` would round the exact product, not the product ActiLife
rounds). Fusion only happens between instructions that both allow it, so a helper
compiled with :func:`jit` keeps its own arithmetic when inlined into a caller.

Cache key: Numba keys a cached kernel on its own source file and bytecode only, so an edit
to another file it depends on (a helper kernel, a layout constant) would leave it stale.
Every kernel compiled here is therefore also keyed on the digest of all kernel sources
(:func:`kernels_digest`: the ``_kernels`` package and this file): editing any of them
recompiles every kernel, and kernels can live in small modules of one job each.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

from numba import njit
from numba.core.caching import FunctionCache

__all__ = ["JIT_FMA_OPTIONS", "JIT_OPTIONS", "jit", "jit_fma", "jit_fma_inline", "jit_inline",
           "kernels_digest", "sources_digest"]

F = TypeVar("F", bound=Callable[..., Any])

#: Options applied to every kernel.
JIT_OPTIONS: dict[str, Any] = {"cache": True, "nogil": True, "error_model": "numpy"}
#: The same, and multiply-adds may fuse (``contract``: NaN-safe).
JIT_FMA_OPTIONS: dict[str, Any] = {**JIT_OPTIONS, "fastmath": {"contract"}}


def jit(func: F) -> F:
    """Compile ``func`` with movereg's JIT policy (``@njit(cache=True, nogil=True)``)."""
    return _keyed(njit(**JIT_OPTIONS)(func))


def jit_inline(func: F) -> F:
    """Like :func:`jit`, inlined into its callers at the Numba IR level.

    For small kernel helpers called per bin or per sample: an ordinary call passes every
    array argument with reference-count updates, which costs more than the helper's work.
    """
    return _keyed(njit(inline="always", **JIT_OPTIONS)(func))


def jit_fma(func: F) -> F:
    """Like :func:`jit`, with multiply-adds fused (``fastmath={"contract"}``)."""
    return _keyed(njit(**JIT_FMA_OPTIONS)(func))


def jit_fma_inline(func: F) -> F:
    """Like :func:`jit_inline`, with multiply-adds fused (``fastmath={"contract"}``)."""
    return _keyed(njit(inline="always", **JIT_FMA_OPTIONS)(func))


_KERNELS_DIR = Path(__file__).resolve().parent / "_kernels"


def sources_digest(paths: Iterable[Path]) -> str:
    """SHA-256 over the names and contents of ``paths`` (in sorted order)."""
    h = hashlib.sha256()
    for path in sorted(paths):
        h.update(path.name.encode())
        h.update(b"\0")
        h.update(path.read_bytes())
    return h.hexdigest()


@functools.cache
def kernels_digest() -> str:
    """Digest of every kernel source: the ``_kernels`` package and this policy file."""
    return sources_digest([*_KERNELS_DIR.glob("*.py"), Path(__file__).resolve()])


class _KernelCache(FunctionCache):
    """Numba's per-function cache, keyed also on :func:`kernels_digest`."""

    def _index_key(self, sig: Any, codegen: Any) -> tuple[Any, ...]:
        return (*super()._index_key(sig, codegen), kernels_digest())


def _keyed(dispatcher: F) -> F:
    """Give a caching dispatcher the digest-keyed cache (under ``NUMBA_DISABLE_JIT``
    ``njit`` returns the plain function, which has nothing to cache)."""
    py_func = getattr(dispatcher, "py_func", None)
    if py_func is not None:
        dispatcher._cache = _KernelCache(py_func)  # type: ignore[attr-defined]
    return dispatcher
