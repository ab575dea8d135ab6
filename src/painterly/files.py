"""Atomic file output: write to a temporary file beside the target, then rename.

A crash, Ctrl-C or an exception while writing never leaves a half-written file under the final name.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path


def _umask() -> int:
    """The process umask (reading it means setting it; done once, at first use, not per file, so
    threads of the web server never see a temporary umask of 0)."""
    global _UMASK
    if _UMASK is None:
        _UMASK = os.umask(0o022)
        os.umask(_UMASK)
    return _UMASK


_UMASK: int | None = None


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike[str], suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path in the target's folder; on success rename it over ``target``.

    The temporary name ends in ``.part<suffix>`` (default: the target's own suffix) so libraries that
    pick a format by extension (video containers) still work.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    clean_stale_parts(target.parent)
    fd, tmp = tempfile.mkstemp(
        prefix=f".{target.stem}.{os.getpid()}.", suffix=".part" + (target.suffix if suffix is None else suffix),
        dir=target.parent,
    )
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        # mkstemp makes the file 0600; give the result the permissions a plain open() would (0666 & ~umask)
        with contextlib.suppress(FileNotFoundError):
            os.chmod(tmp_path, 0o666 & ~_umask())
        os.replace(tmp_path, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()


# .{stem}.{pid}.{8 random}.part{suffix} (ours since the pid was added) and .{stem}.{8 random}.part{suffix}
# (older versions); mkstemp's random part is 8 characters of [a-z0-9_]
PART_NAME = re.compile(r"^\..+?\.(?:(?P<pid>\d+)\.)?[a-z0-9_]{8}\.part(?:\.[A-Za-z0-9]+)?$")
STALE_SECONDS = 60.0
"""A part file is stale when its writer is dead and it has not changed for this long (the age guard
protects a run on another machine sharing the folder, whose pid means nothing here)."""
LEGACY_STALE_SECONDS = 3600.0
"""Part files without a pid (older versions) are stale only after an hour without change."""
_cleaned: set[Path] = set()


def pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # exists, owned by someone else
    return True


def clean_stale_parts(folder: str | os.PathLike[str]) -> list[Path]:
    """Delete the temporary files a killed run of ours left in ``folder`` (SIGKILL, power loss); never
    a file of another program, a live writer's file, or a recent one. Once per folder per process."""
    folder = Path(folder)
    key = folder.resolve()
    if key in _cleaned:
        return []
    _cleaned.add(key)
    removed: list[Path] = []
    now = time.time()
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for e in entries:
        m = PART_NAME.match(e.name)
        if m is None:
            continue
        try:
            if not e.is_file(follow_symlinks=False):
                continue
            age = now - e.stat(follow_symlinks=False).st_mtime
        except OSError:
            continue
        pid = m.group("pid")
        if pid is None:
            stale = age > LEGACY_STALE_SECONDS
        else:
            stale = age > STALE_SECONDS and int(pid) != os.getpid() and not pid_alive(int(pid))
        if stale:
            with contextlib.suppress(OSError):
                os.unlink(e.path)
                removed.append(Path(e.path))
    return removed


def atomic_write_bytes(target: str | os.PathLike[str], data: bytes) -> None:
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)
