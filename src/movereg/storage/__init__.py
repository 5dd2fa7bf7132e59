"""movereg.storage"""

__all__: list[str] = []
