"""Stylisation methods, imported lazily (a method's heavy imports load only when it is used)."""

from __future__ import annotations

import importlib
from typing import Any

from ..errors import PainterlyError
from .base import Common, Method

# name -> "module:class"; the order is the order shown in help texts and the web UI
METHODS: dict[str, str] = {
    "fast": "painterly.methods.fast:FastMethod",
    "gatys": "painterly.methods.gatys:GatysMethod",
    "adain": "painterly.methods.adain:AdaINMethod",
    "sanet": "painterly.methods.sanet:SANetMethod",
}


def method_class(name: str) -> type[Method]:
    spec = METHODS.get(name)
    if spec is None:
        raise PainterlyError(f"unknown method {name!r}; use one of {', '.join(METHODS)}.")
    module, cls = spec.split(":")
    return getattr(importlib.import_module(module), cls)


def create(name: str, common: Common, **options: Any) -> Method:
    return method_class(name)(common, **options)
