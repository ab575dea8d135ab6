"""Atomic file output: write to a temporary file beside the target, then rename.

A crash, Ctrl-C or an exception while writing never leaves a half-written file under the final name.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike[str], suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path in the target's folder; on success rename it over ``target``.

    The temporary name ends in ``.part<suffix>`` (default: the target's own suffix) so libraries that
    pick a format by extension (video containers) still work.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(
        prefix=f".{target.stem}.", suffix=".part" + (target.suffix if suffix is None else suffix),
        dir=target.parent,
    )
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()


def atomic_write_bytes(target: str | os.PathLike[str], data: bytes) -> None:
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)


def atomic_torch_save(obj: object, target: str | os.PathLike[str]) -> None:
    """``torch.save`` through a temporary file (checkpoints must never be half-written)."""
    import torch

    with atomic_path(target) as tmp:
        torch.save(obj, tmp)
