"""The training loop every trainable method shares (pix2pix, AdaIN, SANet). It knows no method.

A method supplies a :class:`Task`; :class:`Trainer` does the rest:

- iterations (or epochs × steps per epoch) over an endless, resumable :class:`InfiniteSampler` stream;
- a checkpoint every N iterations and/or N epochs, written atomically to ``RUN/checkpoint.pt`` with the
  models, optimisers, schedulers, iteration, RNG states (torch, numpy, python), the sampler position and
  both configs; ``resume=True`` continues exactly (bit-identical weights on CPU with a fixed seed); a
  killed run loses at most one interval, Ctrl-C saves before exiting;
- tqdm progress, ``RUN/losses.csv`` (mean of each loss over ``log_every`` steps), ``RUN/metrics.csv``
  (what ``Task.end_epoch`` returns), optional TensorBoard (``RUN/tb``) when it is installed;
- sample images ``RUN/samples/*.png`` every N iterations and at epoch ends;
- DistributedDataParallel under ``torchrun`` (gloo on CPU, nccl on GPU); only rank 0 writes files.

Writing a task::

    class MyTask(Task):
        name = "mymethod"
        def setup(self, ctx):            # build models/optimisers on ctx.device; wrap trained ones:
            self.net = ctx.ddp(MyNet().to(ctx.device))
            self.opt = torch.optim.Adam(self.net.parameters())
        def models(self):      return {"net": unwrap(self.net)}
        def optimizers(self):  return {"opt": self.opt}
        def step(self, batch, it):       # one optimisation step; returns floats to log
            ...; return {"loss": loss.item()}
        def config(self):      return {...}   # JSON-able; rebuilds the task on resume

Resuming: ``cfg, loop = resume_configs(run, task_name, MyConfig, given_options)`` (train/config.py: the
saved settings merged with the command line, the same rules for every method), rebuild the task from
``cfg``, then ``Trainer(task, data, loop, resume=True).run()``.
Exactness needs the same thread count (it is stored in the config) and datasets that draw augmentation
from the sampler's seed (see train/data.py). Under torchrun each rank restarts from rank 0's RNG state.

Run layout: ``RUN/checkpoint.pt``, ``RUN/config.json``, ``RUN/losses.csv``, ``RUN/metrics.csv``,
``RUN/samples/``, plus whatever ``Task.export`` writes (e.g. ``RUN/generator.pt``).
"""

from __future__ import annotations

import csv
import dataclasses
import json
import os
import random
import signal
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch import nn
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm

from ..errors import PainterlyError
from ..files import atomic_path
from ..nn.weights import atomic_torch_save
from .config import TrainConfig, resume_configs  # noqa: F401 - resume_configs: part of the loop's API
from .data import InfiniteSampler

CHECKPOINT = "checkpoint.pt"
FORMAT = "painterly-train"


@dataclass
class TrainContext:
    """What a task needs to know about where it runs."""

    device: torch.device
    rank: int = 0
    world_size: int = 1
    seed: int = 0
    out: Path = Path(".")

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    def ddp(self, module: nn.Module) -> nn.Module:
        """Wrap a trained module in DistributedDataParallel when running under torchrun (else as is)."""
        if not self.distributed:
            return module
        from torch.nn.parallel import DistributedDataParallel as DDP

        ids = [self.device.index] if self.device.type == "cuda" else None
        return DDP(module, device_ids=ids)


def unwrap(module: nn.Module) -> nn.Module:
    """The plain module inside a DDP wrapper (what checkpoints store)."""
    return module.module if hasattr(module, "module") and isinstance(module, nn.parallel.DistributedDataParallel) \
        else module


class Task(ABC):
    """A trainable method. Subclasses build their models in ``setup`` and optimise in ``step``."""

    name: str = "task"

    @abstractmethod
    def setup(self, ctx: TrainContext) -> None:
        """Build models, optimisers and schedulers on ``ctx.device`` (wrap trained nets with ctx.ddp)."""

    @abstractmethod
    def models(self) -> dict[str, nn.Module]:
        """Unwrapped modules to checkpoint, by name."""

    @abstractmethod
    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        ...

    def schedulers(self) -> dict[str, Any]:
        """LR schedulers (anything with state_dict/load_state_dict) to checkpoint."""
        return {}

    @abstractmethod
    def step(self, batch: Any, it: int) -> dict[str, float]:
        """One optimisation step on ``batch`` (iteration ``it``, 0-based); returns scalars to log."""

    def sample(self, it: int) -> Image.Image | None:
        """An image showing progress (rank 0 only), or None."""
        return None

    def end_epoch(self, epoch: int) -> dict[str, float]:
        """Called on every rank after epoch ``epoch`` (1-based): step per-epoch schedulers, and on rank 0
        validate. Returns metrics for metrics.csv."""
        return {}

    def config(self) -> dict[str, Any]:
        """JSON-able settings that rebuild this task (stored in the checkpoint and config.json)."""
        return {}

    def export(self, out: Path) -> list[Path]:
        """Write final artefacts (e.g. a generator checkpoint) to ``out`` (rank 0 only)."""
        return []


@dataclass
class TrainResult:
    out: Path
    iterations: int
    epochs: float
    seconds: float
    last_losses: dict[str, float] = field(default_factory=dict)
    last_metrics: dict[str, float] = field(default_factory=dict)
    exported: list[Path] = field(default_factory=list)
    interrupted: bool = False


# ----------------------------------------------------------------------------------------------------
# RNG state (stored as plain tensors/ints so weights_only loading accepts it)
# ----------------------------------------------------------------------------------------------------

def rng_state() -> dict[str, Any]:
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    py = random.getstate()
    return {
        "torch": torch.get_rng_state(),
        "numpy": {"kind": kind, "keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
                  "has_gauss": int(has_gauss), "gauss": float(gauss)},
        "python": {"version": py[0], "state": list(py[1]), "gauss": py[2]},
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }


def set_rng_state(s: Mapping[str, Any]) -> None:
    torch.set_rng_state(s["torch"])
    n = s["numpy"]
    np.random.set_state((n["kind"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["gauss"]))
    p = s["python"]
    random.setstate((p["version"], tuple(p["state"]), p["gauss"]))
    if s.get("cuda") and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(s["cuda"])


# ----------------------------------------------------------------------------------------------------
# distributed
# ----------------------------------------------------------------------------------------------------

def init_distributed(device: str) -> tuple[int, int, torch.device]:
    """(rank, world size, device) — from torchrun's environment, or (0, 1, device) for a plain run."""
    from ..nn.device import pick

    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return 0, 1, pick(device)
    import torch.distributed as dist

    rank, local = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    use_cuda = torch.cuda.is_available() and device in ("auto", "cuda")
    if not dist.is_initialized():
        dist.init_process_group("nccl" if use_cuda else "gloo")
    if use_cuda:
        torch.cuda.set_device(local)
        return rank, world, torch.device("cuda", local)
    return rank, world, torch.device("cpu")


def _barrier(ctx: TrainContext) -> None:
    if ctx.distributed:
        import torch.distributed as dist

        dist.barrier()


# ----------------------------------------------------------------------------------------------------
# logs
# ----------------------------------------------------------------------------------------------------

class CsvLog:
    """Append-only CSV whose columns come from the first row; on resume, rows past the checkpoint's
    iteration (written after it, then lost with the crash) are dropped so the log matches the weights."""

    def __init__(self, path: Path, resume_at: int | None) -> None:
        self.path = path
        self.fields: list[str] | None = None
        if resume_at is not None and path.exists():
            with open(path, newline="") as f:
                rows = list(csv.DictReader(f))
            if rows:
                self.fields = list(rows[0].keys())
                keep = [r for r in rows if int(float(r["iteration"])) <= resume_at]
                with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
                    w = csv.DictWriter(f, self.fields)
                    w.writeheader()
                    w.writerows(keep)
        elif path.exists():
            path.unlink()

    def write(self, row: Mapping[str, Any]) -> None:
        new = self.fields is None
        if new:
            self.fields = list(row.keys())
        with open(self.path, "a", newline="") as f:
            w = csv.DictWriter(f, self.fields, extrasaction="ignore")
            if new:
                w.writeheader()
            w.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()})


def _tensorboard(out: Path) -> Any:
    try:
        from torch.utils.tensorboard import SummaryWriter
    except Exception:  # noqa: BLE001 - not installed (or broken): the CSV is the log
        return None
    return SummaryWriter(str(out / "tb"))


# ----------------------------------------------------------------------------------------------------
# trainer
# ----------------------------------------------------------------------------------------------------

def _jsonable(d: Mapping[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(d, default=str))


def read_checkpoint(run: str | Path) -> dict[str, Any]:
    """The checkpoint of a run folder (or a checkpoint file), checked to be ours."""
    from ..nn.weights import load_checkpoint

    p = Path(run)
    if p.is_dir():
        p = p / CHECKPOINT
        if not p.exists():
            raise PainterlyError(f"cannot resume: {p.parent} has no {CHECKPOINT} (no checkpoint written yet?).")
    ck = load_checkpoint(p, "training checkpoint")
    if not isinstance(ck, dict) or ck.get("format") != FORMAT:
        raise PainterlyError(f"{p} is not a painterly training checkpoint.")
    return ck


class Trainer:
    """Runs a Task over a dataset. See the module docstring for what it writes."""

    def __init__(self, task: Task, dataset: Dataset[Any], cfg: TrainConfig, resume: bool = False) -> None:
        cfg.validate()
        self.task, self.dataset, self.cfg, self.resume = task, dataset, cfg, resume
        self.out = Path(cfg.out)
        self._sums: dict[str, float] = {}
        self._n_sum = 0

    # -- helpers -----------------------------------------------------------------------------------
    def _steps_per_epoch(self, world: int) -> int:
        n = len(self.dataset)  # type: ignore[arg-type]
        if n == 0:
            raise PainterlyError("the training set is empty.")
        return max(1, -(-n // world) // self.cfg.batch_size)

    def _loader(self, ctx: TrainContext, start: int) -> Iterator[Any]:
        sampler = InfiniteSampler(len(self.dataset), self.cfg.seed, ctx.rank, ctx.world_size,  # type: ignore[arg-type]
                                  start=start * self.cfg.batch_size)
        # own generator: creating a loader iterator otherwise draws from the global torch RNG, which a
        # resumed run (new iterator mid-stream) would then see shifted (dropout noise would differ)
        loader = DataLoader(self.dataset, batch_size=self.cfg.batch_size, sampler=sampler,
                            num_workers=self.cfg.workers, pin_memory=ctx.device.type == "cuda",
                            persistent_workers=self.cfg.workers > 0,
                            generator=torch.Generator().manual_seed(self.cfg.seed))
        return iter(loader)

    def _save(self, ctx: TrainContext, it: int, epoch: int) -> None:
        if not ctx.is_main:
            return
        t = self.task
        ck = {
            "format": FORMAT, "version": 1, "task": t.name, "iteration": it, "epoch": epoch,
            "models": {k: unwrap(m).state_dict() for k, m in t.models().items()},
            "optimizers": {k: o.state_dict() for k, o in t.optimizers().items()},
            "schedulers": {k: s.state_dict() for k, s in t.schedulers().items()},
            "rng": rng_state(),
            "sampler": {"position": it * self.cfg.batch_size, "seed": self.cfg.seed},
            "train_config": _jsonable(dataclasses.asdict(self.cfg)),
            "task_config": _jsonable(t.config()),
            "world_size": ctx.world_size,
            # the sample order depends on the set's size: a resumed run must see the same one
            "dataset_len": len(self.dataset),  # type: ignore[arg-type]
            # the partial loss averages of the current log interval, so a resumed log is identical
            "log": {"sums": dict(self._sums), "n": self._n_sum},
        }
        atomic_torch_save(ck, self.out / CHECKPOINT)

    def _load(self, ck: Mapping[str, Any]) -> None:
        t = self.task
        if ck.get("task") != t.name:
            raise PainterlyError(f"cannot resume: the run is a {ck.get('task')!r} run, not {t.name!r}.")
        try:
            for k, m in t.models().items():
                unwrap(m).load_state_dict(ck["models"][k])
            for k, o in t.optimizers().items():
                o.load_state_dict(ck["optimizers"][k])
            for k, s in t.schedulers().items():
                s.load_state_dict(ck["schedulers"][k])
        except (KeyError, RuntimeError, ValueError) as exc:
            first = str(exc).strip().splitlines()[0][:200]
            raise PainterlyError(f"cannot resume: the checkpoint does not fit this task's models ({first}).") \
                from None
        set_rng_state(ck["rng"])
        log = ck.get("log") or {}
        self._sums, self._n_sum = dict(log.get("sums", {})), int(log.get("n", 0))

    # -- the loop ----------------------------------------------------------------------------------
    def run(self) -> TrainResult:
        cfg = self.cfg
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        rank, world, device = init_distributed(cfg.device)
        ctx = TrainContext(device=device, rank=rank, world_size=world, seed=cfg.seed, out=self.out)
        # seed before setup so weight init is reproducible; each rank gets its own dropout stream
        torch.manual_seed(cfg.seed + rank)
        np.random.seed((cfg.seed + rank) % 2 ** 32)
        random.seed(cfg.seed + rank)
        self.task.setup(ctx)

        spe = self._steps_per_epoch(world)
        total = cfg.iterations or cfg.epochs * spe
        epoch_mode = cfg.iterations == 0
        start = 0
        ck = None
        if self.resume:
            ck = read_checkpoint(self.out)
            n_saved, n_now = ck.get("dataset_len"), len(self.dataset)  # type: ignore[arg-type]
            if n_saved is not None and n_saved != n_now:
                raise PainterlyError(f"cannot resume {self.out}: it was trained on {n_saved} item(s) and the "
                                     f"data given now has {n_now}; resume with the same training set.")
            self._load(ck)
            start = int(ck["iteration"])
            if start >= total:
                from ..hub import warn

                warn(f"{self.out} has already done its {total} iteration(s); nothing to train "
                     "(give more --epochs / --iterations to extend it).")
        if ctx.is_main:
            self.out.mkdir(parents=True, exist_ok=True)
            with atomic_path(self.out / "config.json") as tmp:
                tmp.write_text(json.dumps({"train": _jsonable(dataclasses.asdict(cfg)), "task": self.task.name,
                                           "task_config": _jsonable(self.task.config())}, indent=2))
        losses_log = CsvLog(self.out / "losses.csv", start if self.resume else None) if ctx.is_main else None
        metrics_log = CsvLog(self.out / "metrics.csv", start if self.resume else None) if ctx.is_main else None
        tb = _tensorboard(self.out) if (cfg.tensorboard and ctx.is_main) else None

        t0 = time.time()
        result = TrainResult(self.out, start, start / spe, 0.0)
        it = start
        bar = tqdm(total=total, initial=start, desc=f"train {self.task.name}", unit="it", dynamic_ncols=True,
                   disable=not (cfg.progress and ctx.is_main))
        data = self._loader(ctx, start) if total > start else iter(())
        stop = _StopFlag()
        try:
            while it < total and not stop.requested:
                batch = next(data)
                losses = self.task.step(_to_device(batch, device), it)
                it += 1
                for k, v in losses.items():
                    self._sums[k] = self._sums.get(k, 0.0) + float(v)
                self._n_sum += 1
                bar.update(1)
                if it % cfg.log_every == 0 or it == total:
                    means = {k: v / self._n_sum for k, v in self._sums.items()}
                    result.last_losses = means
                    bar.set_postfix({k: f"{v:.3g}" for k, v in means.items()}, refresh=False)
                    if losses_log is not None:
                        losses_log.write({"iteration": it, "epoch": round(it / spe, 4), **means})
                    if tb is not None:
                        for k, v in means.items():
                            tb.add_scalar(f"loss/{k}", v, it)
                    self._sums, self._n_sum = {}, 0
                epoch_end = it % spe == 0
                epoch = it // spe
                if cfg.sample_every and it % cfg.sample_every == 0 and ctx.is_main:
                    self._write_sample(it)
                if epoch_end:
                    metrics = self.task.end_epoch(epoch)
                    if metrics and metrics_log is not None:
                        result.last_metrics = metrics
                        metrics_log.write({"iteration": it, "epoch": epoch, **metrics})
                        if tb is not None:
                            for k, v in metrics.items():
                                tb.add_scalar(f"val/{k}", v, it)
                    if ctx.is_main and not (cfg.sample_every and it % cfg.sample_every == 0):
                        self._write_sample(it)
                if (cfg.checkpoint_every and it % cfg.checkpoint_every == 0) or (
                        epoch_mode and epoch_end and cfg.checkpoint_every_epochs
                        and epoch % cfg.checkpoint_every_epochs == 0):
                    self._save(ctx, it, epoch)
            if stop.requested:
                # Ctrl-C is deferred to a step boundary, where the state is consistent: save it so
                # --resume continues from exactly here
                result.interrupted = True
                self._save(ctx, it, it // spe)
        finally:
            stop.restore()
            bar.close()
            if tb is not None:
                tb.close()
        if not result.interrupted:
            self._save(ctx, it, it // spe)
            if ctx.is_main:
                result.exported = self.task.export(self.out)
        _barrier(ctx)
        if ctx.distributed:
            import torch.distributed as dist

            dist.destroy_process_group()
        result.iterations, result.epochs = it, it / spe
        result.seconds = time.time() - t0
        return result

    def _write_sample(self, it: int) -> None:
        img = self.task.sample(it)
        if img is not None:
            with atomic_path(self.out / "samples" / f"iter_{it:07d}.png") as tmp:
                img.save(tmp, format="PNG")


class _StopFlag:
    """The first Ctrl-C asks the loop to stop after the current step; a second one aborts at once."""

    def __init__(self) -> None:
        self.requested = False
        self._old: Any = None
        if threading.current_thread() is threading.main_thread():
            self._old = signal.signal(signal.SIGINT, self._handle)

    def _handle(self, signum: int, frame: Any) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def restore(self) -> None:
        if self._old is not None:
            signal.signal(signal.SIGINT, self._old)
            self._old = None


def _to_device(batch: Any, device: torch.device) -> Any:
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, (list, tuple)):
        return type(batch)(_to_device(b, device) for b in batch)
    if isinstance(batch, dict):
        return {k: _to_device(v, device) for k, v in batch.items()}
    return batch
