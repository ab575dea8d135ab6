"""Device selection and seeding shared by every method."""

from __future__ import annotations

import random

import numpy as np
import torch

from ..errors import PainterlyError

DEVICES = ("auto", "cpu", "cuda", "mps")


def pick(name: str = "auto") -> torch.device:
    """``auto`` → cuda, then mps, then cpu; an explicit device that is not available is an error."""
    base = name.split(":")[0]
    if base not in DEVICES:
        raise PainterlyError(f"unknown device {name!r}; use one of {', '.join(DEVICES)} (or cuda:N).")
    has_mps = bool(getattr(torch.backends, "mps", None)) and torch.backends.mps.is_available()
    if base == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        return torch.device("mps" if has_mps else "cpu")
    if base == "cuda" and not torch.cuda.is_available():
        raise PainterlyError("device cuda was requested but this torch build sees no CUDA GPU; use --device cpu.")
    if base == "mps" and not has_mps:
        raise PainterlyError("device mps was requested but Apple's MPS backend is not available; use --device cpu.")
    return torch.device(name)


def seed_everything(seed: int | None) -> torch.Generator | None:
    """Seed Python, NumPy and torch; return a CPU generator for code that wants its own stream."""
    if seed is None:
        return None
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    g = torch.Generator()
    g.manual_seed(seed)
    return g
