"""Speed and scale benchmarks (``python -m benchmarks [name ...]``); results in ``results/``."""
