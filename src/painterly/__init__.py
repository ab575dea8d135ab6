"""painterly: neural style transfer (Gatys, AdaIN, SANet, a fast offline default) and pix2pix."""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["stylize", "stylize_report", "pipeline", "__version__"]


def __getattr__(name: str) -> Any:
    # keep `import painterly` (and `painterly --help`) fast: torch loads only when the API is used
    if name in ("stylize", "stylize_report", "pipeline"):
        from . import api

        return getattr(api, name)
    raise AttributeError(name)
