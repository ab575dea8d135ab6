"""Checks done before any work (light core: no torch): outputs that would overwrite an input, output
locations that cannot be written, and one-line wording for running out of memory.

Every function raises PainterlyError with one complete sentence, so the CLI prints one line and exits 2
before a single pixel is computed.
"""

from __future__ import annotations

import contextlib
import os
import signal
import tempfile
from collections.abc import Iterable
from pathlib import Path
from types import FrameType

from .errors import PainterlyError

PathLike = str | os.PathLike[str]


def _key(p: PathLike) -> Path:
    """The file a path names (symlinks and ``..`` resolved, also when it does not exist yet)."""
    return Path(os.path.abspath(p)).resolve()


def _same_file(a: Path, b: Path) -> bool:
    if _key(a) == _key(b):
        return True
    with contextlib.suppress(OSError):
        return a.exists() and b.exists() and os.path.samefile(a, b)  # hard links, case-insensitive disks
    return False


def refuse_overwrite(outputs: Iterable[PathLike | None], inputs: Iterable[tuple[str, PathLike | None]]) -> None:
    """An error if any output names the same file as an input (``(what, path)`` pairs: content, style,
    mask, checkpoint …). Inputs that are not files (built-in style names, None) are ignored."""
    files = [(what, Path(p)) for what, p in inputs if p is not None and Path(p).is_file()]
    for out in outputs:
        if out is None:
            continue
        o = Path(out)
        for what, p in files:
            if _same_file(o, p):
                raise PainterlyError(f"the output {o} is the {what} {p}; it would be overwritten — "
                                     "choose another -o.")


def check_writable(target: PathLike, what: str = "output") -> None:
    """An error now, not after the work, if ``target`` (a file to create or replace) cannot be written:
    it is a folder, a parent is a file, or the folder refuses new files (read-only, /proc, no rights)."""
    t = Path(target)
    if t.is_dir():
        raise PainterlyError(f"{what} {t} is a folder; give a file name (e.g. {t / 'result.png'}).")
    parent = t.parent
    while not parent.exists():
        if parent == parent.parent:
            break
        parent = parent.parent
    if parent.exists() and not parent.is_dir():
        raise PainterlyError(f"cannot write {what} {t}: {parent} is a file, not a folder.")
    try:
        fd, probe = tempfile.mkstemp(prefix=".painterly-probe.", dir=parent)
    except OSError as exc:
        raise PainterlyError(f"cannot write {what} {t}: the folder {parent} does not accept new files "
                             f"({exc.strerror or type(exc).__name__}).") from None
    os.close(fd)
    with contextlib.suppress(OSError):
        os.unlink(probe)


def check_writable_folder(folder: PathLike, what: str = "output folder") -> None:
    """Like check_writable for a folder that will receive several files."""
    f = Path(folder)
    if f.exists() and not f.is_dir():
        raise PainterlyError(f"{what} {f} is a file, not a folder.")
    check_writable(f / "x.png", what)


def check_outputs(outputs: Iterable[PathLike | None], inputs: Iterable[tuple[str, PathLike | None]],
                  folder: PathLike | None = None) -> None:
    """Everything about a job's outputs that can be checked before the work: none is an input, and each
    can be written (``folder``: the outputs go into this folder, checked once)."""
    outs = [o for o in outputs if o is not None]
    refuse_overwrite(outs, inputs)
    if folder is not None:
        check_writable_folder(folder)
    for o in outs:
        if folder is None or Path(o).parent != Path(folder):
            check_writable(o)


def out_of_memory(exc: BaseException) -> str | None:
    """The one-line message for an allocation failure (MemoryError, torch's CPU/CUDA out-of-memory
    RuntimeError, onnxruntime's bad allocation), or None when ``exc`` is something else."""
    text = str(exc)
    if isinstance(exc, MemoryError) or type(exc).__name__ == "OutOfMemoryError" or any(
            m in text for m in ("can't allocate memory", "CUDA out of memory", "out of memory",
                                "bad allocation", "std::bad_alloc", "Failed to allocate memory")):
        return ("out of memory: the image is too large for this machine; use a smaller --size / "
                "--style-size (or --tile for --method fast), or a device with more memory.")
    return None


def sigterm_as_interrupt() -> None:
    """SIGTERM (kill, systemd, docker stop) behaves like Ctrl-C: methods that can stop early write
    their best result so far and the CLI exits 130."""
    def handler(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    with contextlib.suppress(ValueError, OSError, AttributeError):  # not in the main thread / no SIGTERM
        signal.signal(signal.SIGTERM, handler)


def quiet_warnings() -> None:
    """Library warnings that say nothing to a user of the CLI (they printed before the one error line)."""
    import warnings

    warnings.filterwarnings("ignore", message=".*NumPy array is not writable.*")
    warnings.filterwarnings("ignore", category=UserWarning, module=r"torch(\..*)?$")
    warnings.filterwarnings("ignore", category=FutureWarning, module=r"torch(\..*)?$")
