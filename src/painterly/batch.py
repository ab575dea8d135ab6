"""Resumable, shardable folder jobs: the part of ``painterly stylize DIR -o OUT`` (and ``translate``) that does
not depend on the method.

- ``shard(items, rank, world)``: each torchrun rank's share of a job list (the same sorted list on every rank,
  so no communication is needed to agree on who does what).
- ``options_hash(settings)``: what makes two outputs interchangeable; a different hash means redo.
- ``Manifest``: ``OUT/manifest.jsonl``, one JSON line per output (input, style, options hash, seconds, error).
  Under torchrun each rank appends to its own ``manifest.rank{R}.jsonl`` (no two writers share a file) and
  rank 0 merges them into ``manifest.jsonl`` after a barrier.
- ``Dist``: rank / world from torchrun's environment; torch.distributed (gloo) is imported only when
  WORLD_SIZE > 1, so the light install (no torch) runs single-process batches unchanged.
- ``run_jobs(...)``: the loop: shard, skip what is done, run the rest, record each, merge.

A job is done when its output file exists (outputs are written temp + rename, so existence means complete)
and the manifest's latest line for it says ``ok`` with the same options hash.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from .errors import PainterlyError, WeightsMissingError
from . import files
from .files import atomic_path

T = TypeVar("T")

MANIFEST = "manifest.jsonl"

# Options that change how a job runs but not what it writes: resuming on another machine (cuda vs cpu),
# quieter, or with a larger pixel limit must not redo finished work.
RUN_ONLY_OPTIONS = frozenset({"device", "progress", "callback", "notice", "allow_large", "save_path", "quiet"})

# Exit status of a batch command (documented in the README): 0 all ok, 1 some inputs failed (listed in the
# manifest), 2 usage error (PainterlyError), 130 interrupted.
EXIT_OK, EXIT_SOME_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def shard(items: Sequence[T], rank: int, world: int) -> list[T]:
    """Rank ``rank``'s share of ``items``: every ``world``-th item from ``rank`` on. Strided rather than
    contiguous so a folder sorted by name (film frames, camera numbering) spreads its costly parts evenly.
    ``items`` must be in the same order on every rank (sort them)."""
    if world < 1 or not 0 <= rank < world:
        raise ValueError(f"rank {rank} outside world size {world}")
    return list(items[rank::world])


def file_digest(path: str | Path) -> str:
    """sha256 of a file's bytes (style images: editing a style in place must redo its outputs)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def options_hash(settings: Mapping[str, Any]) -> str:
    """A short stable hash of the settings that decide an output's pixels (method, options, style digests).
    Keys in RUN_ONLY_OPTIONS are ignored; values are compared by their JSON form."""
    kept = {k: v for k, v in settings.items() if k not in RUN_ONLY_OPTIONS and v is not None}
    text = json.dumps(kept, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


# ----------------------------------------------------------------------------------------------------
# torchrun
# ----------------------------------------------------------------------------------------------------

@dataclass
class Dist:
    """This process's place in a torchrun job (rank 0 of 1 for a plain run)."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0
    local_world: int = 1
    _group: bool = field(default=False, repr=False)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Dist:
        e = os.environ if env is None else env
        world = int(e.get("WORLD_SIZE", "1"))
        if world <= 1:
            return cls()
        return cls(int(e["RANK"]), world, int(e.get("LOCAL_RANK", "0")), int(e.get("LOCAL_WORLD_SIZE", "1")))

    @property
    def distributed(self) -> bool:
        return self.world > 1

    def pin_gpu(self, device: str, env: dict[str, str] | None = None) -> None:
        """One GPU per local rank, for every library in the process (torch and onnxruntime alike): narrow
        CUDA_VISIBLE_DEVICES to this rank's GPU before anything initialises CUDA, so ``auto``/``cuda`` then
        mean that GPU. An explicit ``cuda:N`` is left alone, as is a single pinned GPU."""
        e = os.environ if env is None else env
        if self.local_world <= 1 or device not in ("auto", "cuda"):
            return
        visible = [d for d in e.get("CUDA_VISIBLE_DEVICES", "").split(",") if d.strip()]
        if "CUDA_VISIBLE_DEVICES" not in e:
            e["CUDA_VISIBLE_DEVICES"] = str(self.local_rank)
        elif len(visible) > 1:
            # more ranks than listed GPUs: ranks share them round-robin
            e["CUDA_VISIBLE_DEVICES"] = visible[self.local_rank % len(visible)].strip()

    def init(self) -> None:
        """Join the process group (gloo: the only traffic is one barrier and the manifest records, and gloo
        works on CPU-only and GPU machines alike). The timeout is long because ranks finish their shares at
        different times and the barrier must wait for the slowest, however long its share takes."""
        if not self.distributed or self._group:
            return
        from .nn import distributed

        distributed.join(float(os.environ.get("PAINTERLY_BARRIER_HOURS", "72")))
        self._group = True

    def gather(self, obj: Any) -> list[Any] | None:
        """Every rank's ``obj`` on rank 0 (None elsewhere); also a barrier. Plain run: ``[obj]``."""
        if not self.distributed:
            return [obj]
        self.init()
        from .nn import distributed

        return distributed.gather(obj, self.rank, self.world)

    def broadcast(self, obj: Any) -> Any:
        """Rank 0's ``obj`` on every rank (also a barrier: nobody exits before rank 0 has merged)."""
        if not self.distributed:
            return obj
        from .nn import distributed

        return distributed.broadcast(obj)

    def close(self) -> None:
        if self._group:
            from .nn import distributed

            distributed.leave()
            self._group = False


# ----------------------------------------------------------------------------------------------------
# manifest
# ----------------------------------------------------------------------------------------------------

def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return rows
    for line in text.splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue  # the torn last line of a killed writer: that output is simply redone
        if isinstance(row, dict) and "output" in row:
            rows.append(row)
    return rows


class Manifest:
    """The job's record in ``outdir``: the latest line per output wins (a failure later redone says ok)."""

    def __init__(self, outdir: Path, dist: Dist | None = None) -> None:
        self.outdir = outdir
        self.dist = dist or Dist()
        self._file: Any = None

    @property
    def path(self) -> Path:
        return self.outdir / MANIFEST

    @property
    def own_path(self) -> Path:
        """Where this process appends: its own part under torchrun, so ranks never interleave lines."""
        return self.outdir / (f"manifest.rank{self.dist.rank}.jsonl" if self.dist.distributed else MANIFEST)

    def parts(self) -> list[Path]:
        """Part files on disk (also those a killed torchrun run left, whatever its world size)."""
        return sorted(self.outdir.glob("manifest.rank*.jsonl"),
                      key=lambda p: int(p.stem.removeprefix("manifest.rank") or 0)
                      if p.stem.removeprefix("manifest.rank").isdigit() else -1)

    def load(self) -> dict[str, dict[str, Any]]:
        latest: dict[str, dict[str, Any]] = {}
        for p in [self.path, *self.parts()]:
            for row in _read_jsonl(p):
                latest.pop(row["output"], None)  # re-insert so the order is the order of the latest lines
                latest[row["output"]] = row
        return latest

    def key(self, output: Path) -> str:
        with contextlib.suppress(ValueError):
            return output.relative_to(self.outdir).as_posix()
        return output.as_posix()

    def is_done(self, records: Mapping[str, Mapping[str, Any]], output: Path, ohash: str) -> bool:
        rec = records.get(self.key(output))
        return (rec is not None and rec.get("status") == "ok" and rec.get("options_hash") == ohash
                and output.is_file())

    def append(self, row: Mapping[str, Any]) -> None:
        """One line, flushed and fsynced, so after a kill -9 every line before it is on disk."""
        if self._file is None:
            self.outdir.mkdir(parents=True, exist_ok=True)
            self._file = open(self.own_path, "a", encoding="utf-8")  # noqa: SIM115 (kept open for the job)
        self._file.write(json.dumps(row, default=str) + "\n")
        self._file.flush()
        os.fsync(self._file.fileno())

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def merge(self, extra: Iterable[dict[str, Any]] = ()) -> dict[str, dict[str, Any]]:
        """Rank 0, after every rank is done: manifest.jsonl := latest line per output from the old manifest,
        every part on disk and ``extra`` (the rows gathered from ranks whose disk this is not); parts are
        deleted once the merged file is in place (atomic rename, so a kill here loses nothing)."""
        self.close()
        parts = self.parts()
        latest = self.load()
        for row in extra:
            latest.pop(row["output"], None)
            latest[row["output"]] = row
        self.outdir.mkdir(parents=True, exist_ok=True)
        with atomic_path(self.path) as tmp:
            with open(tmp, "w", encoding="utf-8") as f:
                for row in latest.values():
                    f.write(json.dumps(row, default=str) + "\n")
                f.flush()
                os.fsync(f.fileno())
        for p in parts:
            with contextlib.suppress(FileNotFoundError):
                p.unlink()
        return latest


# ----------------------------------------------------------------------------------------------------
# the loop
# ----------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Job:
    """One output: where it goes and what the manifest should say about it (input, style, …)."""

    output: Path
    fields: Mapping[str, Any]
    tag: Any = None  # the caller's own handle (e.g. grid cell indices); not recorded


@dataclass
class Outcome:
    """What one job's work function returns."""

    seconds: float
    interrupted: bool = False
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class Summary:
    done: int = 0           # run and written by this process
    skipped: int = 0        # already complete (same options hash)
    failed: int = 0         # failed inputs, this process
    failed_total: int = 0   # failed inputs, all ranks (known on every rank after the final barrier)
    interrupted: bool = False
    errors: list[tuple[Job, str]] = field(default_factory=list)
    rank: int = 0

    @property
    def exit_code(self) -> int:
        """0 ok, 1 some inputs failed, 130 interrupted. Only rank 0 reports failures: torchrun stops every
        other worker as soon as one exits non-zero, so a rank exiting 1 first could cut rank 0 short."""
        if self.interrupted:
            return EXIT_INTERRUPTED
        return EXIT_SOME_FAILED if self.failed_total and self.rank == 0 else EXIT_OK


class StopJob(Exception):
    """Raised by a work function for an error that is not the input's fault although it surfaced while
    running one (a blend's style that cannot load): run_jobs re-raises the wrapped error and stops."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(str(error))
        self.error = error


# Errors that belong to one input (a corrupt file, a too-large image): recorded and skipped. Anything
# else (missing weights, a bad option, a bug) stops the job, since it would fail every input the same way.
def is_input_error(exc: BaseException) -> bool:
    return isinstance(exc, (PainterlyError, MemoryError)) and not isinstance(exc, WeightsMissingError)


def _remove_stale_temps(output: Path) -> None:
    """Temporaries a killed writer left for this output (files.atomic_path's ``.<stem>.<pid>.*.part<suffix>``):
    within a job only this rank writes this output, so a file whose writer is not alive is debris at once
    (no age guard, unlike files.clean_stale_parts for a whole folder); a live writer's file (another run
    writing the same name right now) is left alone."""
    for p in output.parent.glob(f".{output.stem}.*.part{output.suffix}"):
        m = files.PART_NAME.match(p.name)
        pid = m.group("pid") if m else None
        if pid is not None and int(pid) != os.getpid() and files.pid_alive(int(pid)):
            continue
        with contextlib.suppress(FileNotFoundError):
            p.unlink()


def run_jobs(jobs: Sequence[Job], work: Callable[[Job], Outcome], ohash: str | Callable[[Job], str],
             outdir: Path | None, *, dist: Dist | None = None, overwrite: bool = False,
             order: Callable[[Job], Any] | None = None,
             on_skip: Callable[[Job], None] | None = None,
             on_error: Callable[[Job, str], None] | None = None) -> Summary:
    """Run this rank's share of ``jobs`` (in the same order on every rank: sort them), skipping complete
    ones unless ``overwrite``; ``outdir`` None = a single output file: no manifest, always written.

    ``ohash``: one options hash for all, or a function of the job (a grid hashes each style's column on
    its own). ``order``: a sort key for running the share (e.g. by style, so each style is prepared once);
    the split itself always follows ``jobs``' order.
    """
    dist = dist or Dist()
    mine = shard(jobs, dist.rank, dist.world)
    s = Summary(rank=dist.rank)
    if order is not None:
        mine.sort(key=order)  # stable: keeps the sorted order within a group
    hash_of = ohash if callable(ohash) else (lambda _job: ohash)
    manifest = Manifest(outdir, dist) if outdir is not None else None
    records = manifest.load() if manifest is not None and not overwrite else {}
    try:
        for job in mine:
            h = hash_of(job)
            if manifest is not None and not overwrite and manifest.is_done(records, job.output, h):
                s.skipped += 1
                if on_skip is not None:
                    on_skip(job)
                continue
            _remove_stale_temps(job.output)
            row: dict[str, Any] = {"output": manifest.key(job.output) if manifest else str(job.output),
                                   **job.fields, "options_hash": h}
            if dist.distributed:
                row["rank"] = dist.rank
            try:
                out = work(job)
            except StopJob as stop:
                raise stop.error from None
            except Exception as exc:  # noqa: BLE001 (sorted by is_input_error: the rest is re-raised)
                if manifest is None or not is_input_error(exc):
                    raise  # a single output: its input's error is the command's error (exit 2)
                s.failed += 1
                s.errors.append((job, str(exc)))
                if manifest is not None:
                    manifest.append({**row, "status": "error", "seconds": None, "error": str(exc)})
                if on_error is not None:
                    on_error(job, str(exc))
                continue
            s.done += 1
            if manifest is not None:
                # an interrupted result (gatys' best-so-far on Ctrl-C) is written but not done
                manifest.append({**row, **out.extra, "status": "interrupted" if out.interrupted else "ok",
                                 "seconds": round(out.seconds, 3)})
            if out.interrupted:
                s.interrupted = True
                break
    finally:
        if manifest is not None:
            manifest.close()
    s.failed_total = s.failed
    if manifest is not None:
        finish(manifest, s)
    return s


def finish(manifest: Manifest, s: Summary) -> None:
    """Barrier, rank 0 merges the parts (and the rows of ranks on other machines), everyone learns the
    total number of failures so every rank exits with the same code."""
    dist = manifest.dist
    mine = _read_jsonl(manifest.own_path) if dist.distributed else []
    gathered = dist.gather((mine, s.failed))
    total = s.failed
    if dist.rank == 0:
        rows = [row for rank_rows, _ in (gathered or []) for row in rank_rows]
        total = sum(n for _, n in (gathered or []))
        manifest.merge(rows)
    s.failed_total = int(dist.broadcast(total))
    dist.close()
