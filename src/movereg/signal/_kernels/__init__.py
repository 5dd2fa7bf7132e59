"""Private Numba kernels (no validation, no globals). Wrappers live in movereg.signal."""

__all__: list[str] = []
