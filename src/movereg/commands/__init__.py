"""Sub-command implementations for :mod:`movereg.cli` (one module per command)."""

__all__: list[str] = []
