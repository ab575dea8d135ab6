"""Lazy re-exports for a package (PEP 562): a name loads its submodule on first use, so a package whose
torch-free parts the CLI reads (config dataclasses) does not load torch on import; and whether torch is
there at all, asked without importing it."""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable, Mapping
from typing import Any


def exports(package: str, names: Mapping[str, str], namespace: dict[str, Any]
            ) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for ``package``, where ``names`` maps each exported name to its
    submodule; a loaded name is cached in ``namespace`` (the package's globals) so later look-ups skip
    ``__getattr__``."""

    def getattr_(name: str) -> Any:
        module = names.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{module}"), name)
        namespace[name] = value
        return value

    def dir_() -> list[str]:
        return sorted({*namespace, *names})

    return getattr_, dir_


def torch_available() -> bool:
    """torch is installed (found, not imported: importing it costs seconds)."""
    return importlib.util.find_spec("torch") is not None
