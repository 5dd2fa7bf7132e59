"""movereg.pipeline: the hub that runs each band's stream into storage and live clients."""

from movereg.pipeline.broadcast import Broadcaster, Subscription
from movereg.pipeline.hub import Band, BandFactory, Hub

__all__ = ["Band", "BandFactory", "Broadcaster", "Hub", "Subscription"]
