"""Run every ``benchmarks/bench_*.py`` module's ``main()``.

Usage: ``python -m benchmarks`` (all) or ``python -m benchmarks counts features`` (only
``bench_counts`` and ``bench_features``). Each benchmark prints a table and writes
``benchmarks/results/<name>.json``.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path


def _names(argv: list[str]) -> list[str]:
    here = Path(__file__).resolve().parent
    found = sorted(p.stem for p in here.glob("bench_*.py"))
    if not argv:
        return found
    wanted = {a if a.startswith("bench_") else f"bench_{a}" for a in argv}
    unknown = wanted - set(found)
    if unknown:
        raise SystemExit(f"unknown benchmark(s): {', '.join(sorted(unknown))}; "
                         f"available: {', '.join(found)}")
    return [n for n in found if n in wanted]


def main(argv: list[str] | None = None) -> int:
    for name in _names(sys.argv[1:] if argv is None else argv):
        print(f"== {name} ==", flush=True)
        module = importlib.import_module(f"benchmarks.{name}")
        module.main()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
