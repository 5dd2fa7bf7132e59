"""The JIT policy's cache key: every kernel is keyed on the digest of all kernel sources."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from numba.core import config as numba_config

from movereg.signal import _jit
from movereg.signal._jit import kernels_digest, sources_digest
from movereg.signal._kernels import counts, emit, engine, epoch, feed, rhythm

KERNELS_DIR = Path(_jit.__file__).resolve().parent / "_kernels"
NO_JIT = bool(getattr(numba_config, "DISABLE_JIT", 0))


def test_sources_digest_follows_names_and_contents(tmp_path: Path) -> None:
    a = tmp_path / "a.py"
    b = tmp_path / "b.py"
    a.write_text("X = 1\n")
    b.write_text("Y = 2\n")
    first = sources_digest([a, b])
    assert sources_digest([b, a]) == first              # order of the listing is irrelevant
    b.write_text("Y = 3\n")
    assert sources_digest([a, b]) != first              # any file's edit changes it
    b.write_text("Y = 2\n")
    assert sources_digest([a, b]) == first
    c = tmp_path / "c.py"
    c.write_text("Y = 2\n")
    assert sources_digest([a, c]) != first              # so does a renamed file


def test_kernels_digest_covers_every_kernel_file_and_the_policy() -> None:
    files = [*KERNELS_DIR.glob("*.py"), Path(_jit.__file__).resolve()]
    assert {p.name for p in files} >= {"engine.py", "epoch.py", "rhythm.py", "feed.py",
                                       "layout.py", "views.py", "counts.py", "emit.py",
                                       "_jit.py"}
    assert kernels_digest() == sources_digest(files)


def _decorated_kernels() -> list[str]:
    """Names of the functions under a movereg JIT decorator in the kernel files."""
    names = []
    for path in KERNELS_DIR.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef) and any(
                    isinstance(d, ast.Name) and d.id.startswith("jit") for d in node.decorator_list):
                names.append(f"{path.stem}.{node.name}")
    return names


@pytest.mark.skipif(NO_JIT, reason="NUMBA_DISABLE_JIT: nothing is compiled or cached")
def test_every_kernel_is_keyed_on_the_kernels_digest() -> None:
    modules = {m.__name__.rsplit(".", 1)[1]: m for m in (counts, emit, engine, epoch, feed,
                                                           rhythm)}
    names = _decorated_kernels()
    assert len(names) >= 15
    for qualified in names:
        mod, name = qualified.split(".")
        dispatcher = getattr(modules[mod], name)
        cache = dispatcher._cache
        assert isinstance(cache, _jit._KernelCache), qualified
        key = cache._index_key(dispatcher.signatures[0] if dispatcher.signatures else (),
                               dispatcher.targetctx.codegen())
        assert key[-1] == kernels_digest(), qualified
