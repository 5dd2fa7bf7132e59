"""movereg.signal"""

__all__: list[str] = []
