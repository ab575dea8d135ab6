"""The 26 built-in styles of ``fast`` by name and index: no numpy, so ``painterly styles`` starts at once."""

from __future__ import annotations

from ..errors import PainterlyError

N_BUILTIN = 26


def builtin_styles() -> list[str]:
    """Names of the built-in styles; the index is the position. The source model came without names,
    so they are numbered like the TensorFlow Android demo's ``style0.jpg`` … ``style25.jpg`` assets."""
    return [f"style{i}" for i in range(N_BUILTIN)]


def builtin_index(text: str) -> int | None:
    """``"7"`` or ``"style7"`` → 7; anything else → None. Out-of-range numbers are an error."""
    t = text.strip().lower()
    digits = t[5:] if t.startswith("style") else t
    if not digits.isdigit():
        return None
    i = int(digits)
    if not 0 <= i < N_BUILTIN:
        raise PainterlyError(f"built-in style {text!r} does not exist; use 0–{N_BUILTIN - 1} "
                             f"(style0 … style{N_BUILTIN - 1}).")
    return i
