"""The ``painterly`` command line: a thin layer that parses options and calls painterly.api.

Every user error is a PainterlyError, printed as one ``error: …`` line with exit code 2 and no traceback.
One module per group of commands; importing this package registers them all on ``app``.
"""

from __future__ import annotations

import sys

import typer

from ..errors import PainterlyError
# each module registers its commands on import, in the order `painterly --help` lists them
from . import stylize, weights, media, train, pix2pix  # noqa: F401, I001
from .common import app

__all__ = ["app", "main"]


TORCH_COMMANDS = ("train", "translate", "evaluate", "export")
"""Subcommands that need torch whatever their options (stylize/video need it only for torch methods)."""


def _check_torch(argv: list[str]) -> None:
    """Missing torch is the first thing a torch command reports: before options, files or weights."""
    words = [a for a in argv if not a.startswith("-")]
    if words and words[0] in TORCH_COMMANDS and not {"-h", "--help"} & set(argv):
        from ..methods import require_torch

        require_torch(f"painterly {' '.join(words[:2]) if words[0] in ('train', 'export') else words[0]}")


def main() -> None:
    from ..checks import out_of_memory, quiet_warnings, sigterm_as_interrupt

    sigterm_as_interrupt()
    quiet_warnings()
    try:
        _check_torch(sys.argv[1:])
        app()
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
