"""The ``painterly`` command line: a thin layer that parses options and calls painterly.api.

Every user error is a PainterlyError, printed as one ``error: …`` line with exit code 2 and no traceback.
One module per group of commands, each registering its commands on ``app`` when imported. ``main`` imports
only the module of the command being run: typer builds every registered command's options from its
signature at start-up, and with all of them `painterly stylize` started ~0.07 s later (with the
sheet-only font import, measured together). ``painterly.cli.app`` has them all.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import typer

from ..errors import PainterlyError

__all__ = ["app", "main"]

MODULES = ("stylize", "weights", "media", "train", "pix2pix")
"""In the order `painterly --help` lists their commands."""
COMMAND_MODULE = {"stylize": "stylize", "styles": "weights", "weights": "weights", "video": "media",
                  "serve": "media", "export": "media", "train": "train", "translate": "pix2pix",
                  "evaluate": "pix2pix"}


def _words(argv: list[str]) -> list[str]:
    """The command (and subcommand) words of ``argv``: the root takes no option values."""
    return [a for a in argv if not a.startswith("-")]


def register(argv: list[str] | None = None) -> typer.Typer:
    """Import the command module ``argv`` runs (all of them for anything else: help, typos) -> the app."""
    words = _words(argv or [])
    names = (COMMAND_MODULE[words[0]],) if words and words[0] in COMMAND_MODULE else MODULES
    for name in names:
        importlib.import_module(f"{__name__}.{name}")
    from .common import app as root

    return root


def __getattr__(name: str) -> Any:
    if name == "app":
        return register()
    raise AttributeError(name)


TORCH_COMMANDS = ("train", "translate", "evaluate", "export")
"""Subcommands that need torch whatever their options (stylize/video need it only for torch methods)."""


def _check_torch(argv: list[str]) -> None:
    """Missing torch is the first thing a torch command reports: before options, files or weights."""
    words = _words(argv)
    if words and words[0] in TORCH_COMMANDS and not {"-h", "--help"} & set(argv):
        from ..methods import require_torch

        require_torch(f"painterly {' '.join(words[:2]) if words[0] in ('train', 'export') else words[0]}")


def main() -> None:
    from ..checks import out_of_memory, quiet_warnings, sigterm_as_interrupt

    sigterm_as_interrupt()
    quiet_warnings()
    try:
        _check_torch(sys.argv[1:])
        register(sys.argv[1:])()
    except PainterlyError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        sys.exit(130)
    except (MemoryError, RuntimeError) as exc:
        msg = out_of_memory(exc)
        if msg is None:
            raise
        typer.echo(f"error: {msg}", err=True)
        sys.exit(2)
