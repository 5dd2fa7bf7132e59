"""movereg.dashboard"""

__all__: list[str] = []
