"""Stylisation methods, imported lazily (a method's heavy imports load only when it is used)."""

from __future__ import annotations

import dataclasses
import importlib
from typing import TYPE_CHECKING, Any

from ..errors import PainterlyError
from ..lazy import torch_available

if TYPE_CHECKING:  # importing the package stays cheap (numpy, PIL load with .base): the CLI's start-up
    from .base import Common, Method

# name -> "module:class"; the order is the order shown in help texts and the web UI
METHODS: dict[str, str] = {
    "fast": "painterly.methods.fast:FastMethod",
    "gatys": "painterly.methods.gatys:GatysMethod",
    "adain": "painterly.methods.adain:AdaINMethod",
    "sanet": "painterly.methods.sanet:SANetMethod",
}
LIGHT = frozenset({"fast"})
"""Methods of the light core (onnxruntime + numpy); every other one needs torch."""

TORCH_HINT = 'pip install "painterly[torch]"'


def require_torch(what: str) -> None:
    """One-line error, before any other work, when ``what`` needs torch and it is not installed."""
    if not torch_available():
        raise PainterlyError(f"{what} needs PyTorch, which is not installed: {TORCH_HINT} "
                             "(or first install the torch build you want, CPU or CUDA, from pytorch.org).")


def method_class(name: str) -> type[Method]:
    spec = METHODS.get(name)
    if spec is None:
        raise PainterlyError(f"unknown method {name!r}; use one of {', '.join(METHODS)}.")
    if name not in LIGHT:
        require_torch(f"--method {name}")
    module, cls = spec.split(":")
    return getattr(importlib.import_module(module), cls)


def create(name: str, common: Common, **options: Any) -> Method:
    return method_class(name)(common, **options)


def make_method(method: str = "fast", **options: Any) -> Method:
    """Split options into the common ones (size, seed, device, …) and the method's own, then build it."""
    from .base import Common

    cls = method_class(method)  # unknown method / missing torch first, before options are checked
    fields = {f.name for f in dataclasses.fields(Common)}
    common = Common(**{k: v for k, v in options.items() if k in fields})
    own = {k: v for k, v in options.items() if k not in fields}
    return cls(common, **own)
