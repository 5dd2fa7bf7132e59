"""movereg.pipeline"""

__all__: list[str] = []
