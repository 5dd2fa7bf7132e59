"""The JIT policy's cache key for kernels that call kernels of other files."""

from __future__ import annotations

import types
from pathlib import Path

from movereg.signal._jit import source_stamp
from movereg.signal._kernels import counts, emit, engine


def test_source_stamp_follows_the_file_contents(tmp_path: Path) -> None:
    src = tmp_path / "dep.py"
    mod = types.ModuleType("dep")
    mod.__file__ = str(src)
    src.write_text("x = 1\n")
    first = source_stamp(mod)
    assert source_stamp(mod) == first and 0 <= first < 2**60
    src.write_text("x = 2\n")
    assert source_stamp(mod) != first
    ghost = types.ModuleType("ghost")                  # no source file: its name counts
    assert source_stamp(ghost) == source_stamp(types.ModuleType("ghost"))


def test_fused_entry_is_keyed_on_the_sources_it_calls() -> None:
    """feed() calls the counts and emission kernels of other files; Numba's cache key
    includes the closure's contents, so their sources' stamp must be there."""
    closure = getattr(engine.feed, "py_func", engine.feed).__closure__   # NUMBA_DISABLE_JIT
    assert closure is not None
    assert source_stamp(counts, emit) in [cell.cell_contents for cell in closure]
