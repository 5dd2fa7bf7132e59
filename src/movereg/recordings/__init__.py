"""movereg.recordings"""

__all__: list[str] = []
