"""The torch layer's building blocks (VGG-19, decoder, losses, checkpoint loading, devices).

Importing the package imports vgg and blocks, which register the published checkpoint layouts with
``nn.weights`` (and that hands the hub its checker), so any ``painterly.nn.*`` import can check files.
"""

from __future__ import annotations

from . import blocks, vgg, weights

__all__ = ["blocks", "vgg", "weights"]
