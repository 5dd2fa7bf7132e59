"""The JIT policy's cache key: every kernel is keyed on the digest of all kernel sources."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from numba.core import config as numba_config

from movereg.signal import _jit
from movereg.signal._jit import kernels_digest, sources_digest
from movereg.signal._kernels import counts, emit, engine, epoch, feed, rhythm, state

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
                                                           rhythm, state)}
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



def _fastmath_lines(text: str) -> list[int]:
    """Lines that name ``fastmath`` in code: a keyword argument, a name or a string."""
    lines = []
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.keyword) and node.arg == "fastmath":
            lines.append(node.value.lineno)
        elif (isinstance(node, ast.Constant) and node.value == "fastmath") or (
                isinstance(node, ast.Name) and node.id == "fastmath"):
            lines.append(node.lineno)
    return lines


def test_fastmath_only_in_the_jit_policy() -> None:
    """``fastmath`` (it silently breaks NaN handling) is set in ``signal/_jit.py`` only:
    every kernel goes through that policy, so no other source may name it in code."""
    policy = Path(_jit.__file__).resolve()
    src = policy.parents[1]                                  # src/movereg
    offenders = [f"{path.relative_to(src)}:{line}"
                 for path in sorted(src.rglob("*.py")) if path.resolve() != policy
                 for line in _fastmath_lines(path.read_text(encoding="utf-8"))]
    assert offenders == [], f"fastmath outside signal/_jit.py: {offenders}"
    assert _fastmath_lines(policy.read_text(encoding="utf-8"))    # the policy does name it
    # and only with the NaN-safe flags
    assert _jit.JIT_FMA_OPTIONS["fastmath"] <= {"nsz", "arcp", "contract", "afn", "reassoc"}
    assert "fastmath" not in _jit.JIT_OPTIONS


def test_the_fastmath_guard_sees_every_spelling() -> None:
    assert _fastmath_lines("@njit(fastmath=True)\ndef f(x):\n    return x\n") == [1]
    assert _fastmath_lines("opts = {'fastmath': {'nnan'}}\n") == [1]
    assert _fastmath_lines("njit(**dict(cache=True))\n# fastmath in a comment\n") == []
