"""Loop settings and the one way a run folder's saved settings are merged with command-line options.

Plain dataclasses, no torch at import: the CLI reads the defaults here when it builds its options.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from ..errors import PainterlyError

C = TypeVar("C")

# Loop settings a resumed run must keep: the sample stream (and so exactness) depends on them.
FIXED_ON_RESUME = ("batch_size", "seed")


@dataclass
class TrainConfig:
    """Loop settings (the method's own settings live in ``Task.config()``)."""

    out: str = "runs/run"
    iterations: int = 0            # total optimisation steps; or, when 0:
    epochs: int = 0                # total epochs, each ``len(dataset) // (batch_size·world)`` steps
    batch_size: int = 1            # per process
    workers: int = 0               # DataLoader worker processes
    seed: int = 0
    checkpoint_every: int = 0      # iterations between checkpoints (0: off)
    checkpoint_every_epochs: int = 1  # epochs between checkpoints (0: off; epoch runs only)
    sample_every: int = 0          # iterations between sample images (0: only at epoch ends)
    log_every: int = 10            # iterations per row of losses.csv
    device: str = "auto"
    progress: bool = True
    tensorboard: bool = False      # also log to RUN/tb if tensorboard is installed
    threads: int = 0               # torch.set_num_threads (0: leave torch's default)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], **overrides: Any) -> TrainConfig:
        """Rebuild from a checkpoint's ``train_config`` (what ``--resume`` does), with overrides."""
        return _build(cls, d, overrides)

    def validate(self) -> None:
        if self.iterations < 0 or self.epochs < 0:
            raise PainterlyError("iterations and epochs must not be negative.")
        if self.batch_size < 1:
            raise PainterlyError("batch size must be at least 1.")
        for name in ("checkpoint_every", "checkpoint_every_epochs", "sample_every", "workers", "threads"):
            if getattr(self, name) < 0:
                raise PainterlyError(f"{name.replace('_', '-')} must not be negative.")
        if self.log_every < 1:
            raise PainterlyError("log-every must be at least 1.")


def field_names(cls: type[Any]) -> set[str]:
    return {f.name for f in dataclasses.fields(cls)}


def _build(cls: type[C], saved: Mapping[str, Any], overrides: Mapping[str, Any]) -> C:
    """``cls`` from saved settings (unknown keys — written by another version — dropped) plus overrides."""
    known = field_names(cls)
    return cls(**{**{k: v for k, v in saved.items() if k in known}, **overrides})


# option name -> (saved field, transform): command-line flags whose saved form is named or valued differently
_SAVED_AS: dict[str, tuple[str, Any]] = {
    "no_dropout": ("dropout", lambda v: not v),
    "no_flip": ("flip", lambda v: not v),
    "n_layers_D": ("n_layers", lambda v: v),
}


def _saved_value(saved: Mapping[str, Any], key: str) -> tuple[bool, Any]:
    """(found, value) of a given option in a run's saved method settings, looking one level into nested
    settings (pix2pix keeps its generator/discriminator options as dicts)."""
    name, conv = _SAVED_AS.get(key, (key, lambda v: v))
    for scope in (saved, *(v for v in saved.values() if isinstance(v, Mapping))):
        if name in scope:
            return True, (name, conv, scope[name])
    return False, None


def run_folder(run: str | Path) -> Path:
    """``--resume`` takes the run folder or its checkpoint file."""
    p = Path(run)
    return p.parent if p.is_file() else p


def resume_configs(run: str | Path, task: str, task_cls: type[C], loop_given: Mapping[str, Any],
                   task_given: Mapping[str, Any] | None = None, movable: Collection[str] = (),
                   extendable: Collection[str] = ()) -> tuple[C, TrainConfig]:
    """(method config, loop config) to continue the run in folder ``run``: what its checkpoint saved,
    merged with the options the user gave on the command line (``loop_given``: TrainConfig fields;
    ``task_given``: method settings, by ``task_cls`` field or option name; None = not given). The same
    rules for every trainable method:

    - the run must be a ``task`` run;
    - loop settings (iterations, checkpoint/sample/log intervals, workers, threads, device, tensorboard,
      progress) take the given values — except ``batch_size`` and ``seed``, which must not change
      (exact resume depends on them);
    - method settings named in ``movable`` (data folders: the same data in a new place) take the given
      values, and those in ``extendable`` (epochs: train longer) too, with a note on stderr;
    - any other given method setting must equal the run's: a different one is an error naming it (the
      run's recipe and architecture are fixed);
    - ``run`` may be the folder or its checkpoint file; ``out`` is always the folder.
    """
    from .loop import read_checkpoint  # torch: only when actually resuming

    loop_given = {k: v for k, v in loop_given.items() if v is not None}
    task_given = {k: v for k, v in (task_given or {}).items() if v is not None}
    # non-movable task keys are only reported (by option name), so they need not be fields
    unknown = (set(loop_given) - field_names(TrainConfig)) | (set(movable) - field_names(task_cls))
    if unknown:  # a programming error in the caller, not a user error
        raise TypeError(f"resume_configs: unknown settings {sorted(unknown)}")
    run = run_folder(run)
    ck = read_checkpoint(run)
    if ck.get("task") != task:
        raise PainterlyError(f"{run} is a {ck.get('task')!r} run, not {task}; use painterly train "
                             f"{ck.get('task')} --resume {run}.")
    saved_loop = ck["train_config"]
    for name in FIXED_ON_RESUME:
        if name in loop_given and name in saved_loop and loop_given[name] != saved_loop[name]:
            raise PainterlyError(f"--{name.replace('_', '-')} cannot change on --resume (the run uses "
                                 f"{saved_loop[name]}).")
    loop = _build(TrainConfig, saved_loop, {**loop_given, "out": str(run)})
    saved_task = ck["task_config"]
    conflicts = []
    for k, v in sorted(task_given.items()):
        if k in movable or k in extendable:
            continue
        found, hit = _saved_value(saved_task, k)
        if not found:
            conflicts.append(f"--{k.replace('_', '-')} (not a setting that can be given on --resume)")
            continue
        _, conv, old = hit
        if conv(v) != old:
            conflicts.append(f"--{k.replace('_', '-')} {v} (the run has {old})")
    if conflicts:
        raise PainterlyError(f"{run} was trained with other settings; a resumed run keeps them, so drop "
                             + "; ".join(conflicts) + ".")
    from ..hub import warn

    for k in sorted(set(task_given) & set(extendable)):
        if task_given[k] != saved_task.get(k):
            warn(f"resume: --{k.replace('_', '-')} {saved_task.get(k)} -> {task_given[k]}.")
    for k in sorted(set(loop_given) & {"iterations", "epochs"}):
        if loop_given[k] != saved_loop.get(k):
            warn(f"resume: --{k} {saved_loop.get(k)} -> {loop_given[k]}.")
    keep = set(movable) | set(extendable)
    cfg = _build(task_cls, saved_task, {k: v for k, v in task_given.items() if k in keep})
    return cfg, loop
