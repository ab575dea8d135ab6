"""painterly: neural style transfer (Gatys, AdaIN, SANet, a fast offline default) and pix2pix.

>>> import painterly
>>> img = painterly.stylize("examples/chelsea.jpg", "style7", size=256)
>>> img = painterly.stylize("photo.jpg", "starry.jpg", method="gatys", options=painterly.GatysConfig(steps=300))
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .lazy import torch_available

__version__ = "0.1.0"

# Everything is loaded on first use (module __getattr__), so `import painterly` and `painterly --help`
# stay fast and never import torch; each method's options class is in the module that defines the method.
_LAZY: dict[str, str] = {
    "stylize": "painterly.api:stylize",
    "stylize_report": "painterly.api:stylize_report",
    "pipeline": "painterly.api:pipeline",
    "load_image": "painterly.image:load_image",
    "Picture": "painterly.image:Picture",
    "Pipeline": "painterly.methods.base:Pipeline",
    "Result": "painterly.methods.base:Result",
    "PainterlyError": "painterly.errors:PainterlyError",
    "FastConfig": "painterly.methods.fast:FastConfig",
    "GatysConfig": "painterly.methods.gatys:GatysConfig",        # imports torch when first touched
    "AdaINConfig": "painterly.methods.adain:AdaINConfig",        # torch
    "SANetConfig": "painterly.methods.sanet:SANetConfig",        # torch
}

_NEEDS_TORCH = frozenset({"GatysConfig", "AdaINConfig", "SANetConfig"})


# `from painterly import *` must work without torch, so the torch methods' options are listed only with it
__all__ = [n for n in _LAZY if n not in _NEEDS_TORCH or torch_available()] + ["__version__"]

if TYPE_CHECKING:  # editors and type checkers see the real objects (and complete the options' fields)
    from .api import pipeline, stylize, stylize_report
    from .errors import PainterlyError
    from .image import Picture, load_image
    from .methods.adain import AdaINConfig
    from .methods.base import Pipeline, Result
    from .methods.fast import FastConfig
    from .methods.gatys import GatysConfig
    from .methods.sanet import SANetConfig


def __getattr__(name: str) -> Any:
    spec = _LAZY.get(name)
    if spec is None:
        raise AttributeError(f"module 'painterly' has no attribute {name!r}")
    if name in _NEEDS_TORCH and not torch_available():
        raise AttributeError(f"painterly.{name} needs PyTorch, which is not installed: "
                             'pip install "painterly[torch]"')
    import importlib

    module, attr = spec.split(":")
    value = getattr(importlib.import_module(module), attr)
    globals()[name] = value   # later look-ups skip __getattr__
    return value


def __dir__() -> list[str]:
    # the public API (also the lazy names not loaded yet), plus the module's own dunders
    return sorted({*_LAZY, "__version__", *(n for n in globals() if n.startswith("__"))})
