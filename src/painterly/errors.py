"""One exception type for everything a user can get wrong.

The CLI prints ``error: <message>`` for it (one line, no traceback) and exits with code 2, so messages
must be complete sentences that say what was wrong and, where possible, what to do instead.
"""

from __future__ import annotations


class PainterlyError(Exception):
    """Bad input, a missing or foreign checkpoint, an impossible setting: the user can fix it."""

    exit_code = 2

    def __str__(self) -> str:
        # keep it on one line whatever the caller formatted
        return " ".join(super().__str__().split())


class WeightsMissingError(PainterlyError):
    """A checkpoint the method needs is not in the cache and no --weights file was given."""
