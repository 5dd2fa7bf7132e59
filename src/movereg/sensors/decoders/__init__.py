"""movereg.sensors.decoders"""

__all__: list[str] = []
