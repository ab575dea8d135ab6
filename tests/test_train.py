"""The shared training machinery (painterly.train): sampler, datasets, logs, checkpoints, exact resume,
crash recovery, torchrun DDP. A toy task keeps it fast and method-independent."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from conftest import ROOT, noise_image
from painterly.errors import PainterlyError
from painterly.train.data import ImageFolderDataset, InfiniteSampler
from painterly.train.loop import (
    CsvLog,
    Task,
    TrainConfig,
    TrainContext,
    Trainer,
    rng_state,
    set_rng_state,
    unwrap,
)

torch.set_num_threads(1)


class ToyData(torch.utils.data.Dataset):
    """y = x·w + noise, with per-sample 'augmentation' drawn from the sampler's seed."""

    def __init__(self, n: int = 10) -> None:
        g = torch.Generator().manual_seed(123)
        self.x = torch.randn(n, 4, generator=g)
        self.y = self.x @ torch.tensor([1.0, -2.0, 0.5, 3.0]) + 0.1

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, item: Any) -> tuple[torch.Tensor, torch.Tensor]:
        idx, seed = item
        jitter = torch.randn(4, generator=torch.Generator().manual_seed(seed)) * 0.01
        return self.x[idx] + jitter, self.y[idx : idx + 1]


class ToyTask(Task):
    name = "toy"

    def __init__(self, crash_at: int | None = None) -> None:
        self.crash_at = crash_at
        self.epochs_seen: list[int] = []

    def setup(self, ctx: TrainContext) -> None:
        self.net = ctx.ddp(nn.Sequential(nn.Linear(4, 16), nn.Dropout(0.2), nn.Linear(16, 1)).to(ctx.device))
        self.opt = torch.optim.Adam(self.net.parameters(), lr=0.01)
        self.sched = torch.optim.lr_scheduler.StepLR(self.opt, 4, 0.5)

    def models(self) -> dict[str, nn.Module]:
        return {"net": unwrap(self.net)}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"opt": self.opt}

    def schedulers(self) -> dict[str, Any]:
        return {"sched": self.sched}

    def step(self, batch: Any, it: int) -> dict[str, float]:
        if it == self.crash_at:
            raise RuntimeError("simulated crash")
        x, y = batch
        loss = ((self.net(x) - y) ** 2).mean()
        self.opt.zero_grad()
        loss.backward()
        self.opt.step()
        self.sched.step()
        return {"loss": loss.item()}

    def end_epoch(self, epoch: int) -> dict[str, float]:
        self.epochs_seen.append(epoch)
        return {"w0": float(self.models()["net"][0].weight[0, 0].detach())}

    def sample(self, it: int) -> Image.Image:
        return Image.new("RGB", (8, 8), (it % 256, 0, 0))

    def config(self) -> dict[str, Any]:
        return {"hidden": 16}


def _cfg(out: Path, **kw: Any) -> TrainConfig:
    base: dict[str, Any] = {"out": str(out), "iterations": 12, "batch_size": 2, "seed": 3, "checkpoint_every": 3,
                            "log_every": 1, "progress": False, "threads": 1}
    return TrainConfig(**{**base, **kw})


def _weights(out: Path) -> dict[str, torch.Tensor]:
    return torch.load(out / "checkpoint.pt", weights_only=True)["models"]["net"]


# ----------------------------------------------------------------------------------------------------
# sampler
# ----------------------------------------------------------------------------------------------------

def _take(it: Any, n: int) -> list[Any]:
    return [next(it) for _ in range(n)]


def test_sampler_passes_are_permutations_and_resume_mid_pass() -> None:
    s = InfiniteSampler(7, seed=1)
    stream = _take(iter(s), 21)
    for p in range(3):
        assert sorted(i for i, _ in stream[7 * p : 7 * p + 7]) == list(range(7))
    assert [i for i, _ in stream[:7]] != [i for i, _ in stream[7:14]]  # reshuffled each pass
    assert len({seed for _, seed in stream}) == 21  # a fresh augmentation seed per sample
    assert _take(iter(InfiniteSampler(7, seed=1, start=10)), 11) == stream[10:]
    assert [s.item(p) for p in range(21)] == stream


def test_sampler_shards_cover_the_data() -> None:
    a = _take(iter(InfiniteSampler(7, seed=0, rank=0, world=2)), 4)
    b = _take(iter(InfiniteSampler(7, seed=0, rank=1, world=2)), 4)
    idx = [i for i, _ in a + b]
    assert set(idx) == set(range(7)) and len(idx) == 8  # padded to a multiple of world by wrapping
    assert not {s for _, s in a} & {s for _, s in b}


# ----------------------------------------------------------------------------------------------------
# image folders
# ----------------------------------------------------------------------------------------------------

def test_image_folder_recursive_and_skips_unreadable(tmp_path: Path) -> None:
    (tmp_path / "sub" / "deeper").mkdir(parents=True)
    noise_image(tmp_path / "a.png", (40, 30))
    noise_image(tmp_path / "sub" / "deeper" / "b.jpg", (30, 50))
    (tmp_path / "sub" / "broken.png").write_bytes(b"\x89PNG not really")
    (tmp_path / "notes.txt").write_text("not an image")
    with pytest.warns(UserWarning, match="skipped 1 unreadable file"):
        ds = ImageFolderDataset(tmp_path, load_size=32, crop_size=24)
    assert len(ds) == 2 and ds.skipped == 1
    x = ds[(1, 5)]
    assert x.shape == (3, 24, 24) and 0 <= float(x.min()) and float(x.max()) <= 1
    assert torch.equal(ds[(0, 9)], ds[(0, 9)])


def test_image_folder_errors(tmp_path: Path) -> None:
    (tmp_path / "empty" / "nested").mkdir(parents=True)
    with pytest.raises(PainterlyError, match="contains no image files"):
        ImageFolderDataset(tmp_path / "empty")
    with pytest.raises(PainterlyError, match="not found"):
        ImageFolderDataset(tmp_path / "missing")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "x.png").write_bytes(b"junk")
    with pytest.raises(PainterlyError, match="none of the 1 image file"), pytest.warns(UserWarning):
        ImageFolderDataset(tmp_path / "bad")


# ----------------------------------------------------------------------------------------------------
# state, logs
# ----------------------------------------------------------------------------------------------------

def test_rng_state_round_trips_through_weights_only(tmp_path: Path) -> None:
    import random

    torch.manual_seed(5)
    np.random.seed(5)
    random.seed(5)
    torch.save(rng_state(), tmp_path / "rng.pt")
    want = (torch.rand(3), np.random.rand(3), random.random())
    set_rng_state(torch.load(tmp_path / "rng.pt", weights_only=True))
    got = (torch.rand(3), np.random.rand(3), random.random())
    assert torch.equal(want[0], got[0]) and np.array_equal(want[1], got[1]) and want[2] == got[2]


def test_csv_log_resume_drops_rows_after_the_checkpoint(tmp_path: Path) -> None:
    log = CsvLog(tmp_path / "l.csv", None)
    for i in range(1, 6):
        log.write({"iteration": i, "loss": 1.0 / i})
    CsvLog(tmp_path / "l.csv", resume_at=3).write({"iteration": 4, "loss": 9.0})
    rows = list(csv.DictReader((tmp_path / "l.csv").read_text().splitlines()))
    assert [r["iteration"] for r in rows] == ["1", "2", "3", "4"] and rows[-1]["loss"] == "9"


# ----------------------------------------------------------------------------------------------------
# the loop
# ----------------------------------------------------------------------------------------------------

def test_run_writes_everything(tmp_path: Path) -> None:
    res = Trainer(ToyTask(), ToyData(10), _cfg(tmp_path / "run", sample_every=4)).run()
    out = tmp_path / "run"
    assert res.iterations == 12 and not res.interrupted
    assert {p.name for p in out.iterdir()} >= {"checkpoint.pt", "config.json", "losses.csv", "metrics.csv", "samples"}
    rows = list(csv.DictReader((out / "losses.csv").read_text().splitlines()))
    assert len(rows) == 12 and rows[0].keys() == {"iteration", "epoch", "loss"}
    # 10 items, batch 2 → 5 steps per epoch → epochs end at 5 and 10
    assert [r["epoch"] for r in csv.DictReader((out / "metrics.csv").read_text().splitlines())] == ["1", "2"]
    assert sorted(p.name for p in (out / "samples").iterdir()) == [
        "iter_0000004.png", "iter_0000005.png", "iter_0000008.png", "iter_0000010.png", "iter_0000012.png"]
    ck = torch.load(out / "checkpoint.pt", weights_only=True)
    assert ck["iteration"] == 12 and ck["task"] == "toy" and ck["task_config"] == {"hidden": 16}
    assert ck["sampler"]["position"] == 24


def test_epoch_mode_counts_epochs(tmp_path: Path) -> None:
    task = ToyTask()
    res = Trainer(task, ToyData(9), _cfg(tmp_path / "run", iterations=0, epochs=3, checkpoint_every=0)).run()
    assert res.iterations == 12 and task.epochs_seen == [1, 2, 3]  # 9 items, batch 2 → 4 steps/epoch


def test_crash_then_resume_equals_uninterrupted(tmp_path: Path) -> None:
    Trainer(ToyTask(), ToyData(10), _cfg(tmp_path / "full")).run()
    with pytest.raises(RuntimeError, match="simulated crash"):
        Trainer(ToyTask(crash_at=8), ToyData(10), _cfg(tmp_path / "part")).run()
    ck = torch.load(tmp_path / "part" / "checkpoint.pt", weights_only=True)
    assert ck["iteration"] == 6  # crashed in step 9: lost less than one interval (3)
    Trainer(ToyTask(), ToyData(10), _cfg(tmp_path / "part"), resume=True).run()
    a, b = _weights(tmp_path / "full"), _weights(tmp_path / "part")
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert (tmp_path / "full" / "losses.csv").read_text() == (tmp_path / "part" / "losses.csv").read_text()
    assert (tmp_path / "full" / "metrics.csv").read_text() == (tmp_path / "part" / "metrics.csv").read_text()


def test_resume_with_workers_is_exact(tmp_path: Path) -> None:
    """Augmentation seeds come from the sampler, so worker processes do not change the stream."""
    Trainer(ToyTask(), ToyData(10), _cfg(tmp_path / "w0")).run()
    Trainer(ToyTask(), ToyData(10), _cfg(tmp_path / "w2", iterations=5, workers=2)).run()
    Trainer(ToyTask(), ToyData(10), _cfg(tmp_path / "w2", workers=2), resume=True).run()
    a, b = _weights(tmp_path / "w0"), _weights(tmp_path / "w2")
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_resume_errors(tmp_path: Path) -> None:
    with pytest.raises(PainterlyError, match="no checkpoint.pt"):
        Trainer(ToyTask(), ToyData(), _cfg(tmp_path), resume=True).run()
    Trainer(ToyTask(), ToyData(), _cfg(tmp_path / "r", iterations=3)).run()

    class Other(ToyTask):
        name = "other"

    with pytest.raises(PainterlyError, match="'toy' run, not 'other'"):
        Trainer(Other(), ToyData(), _cfg(tmp_path / "r"), resume=True).run()
    (tmp_path / "x").mkdir()
    torch.save({"a": torch.zeros(1)}, tmp_path / "x" / "checkpoint.pt")
    with pytest.raises(PainterlyError, match="not a painterly training checkpoint"):
        Trainer(ToyTask(), ToyData(), _cfg(tmp_path / "x"), resume=True).run()
    with pytest.raises(PainterlyError, match="batch size"):
        Trainer(ToyTask(), ToyData(), _cfg(tmp_path / "y", batch_size=0))


# ----------------------------------------------------------------------------------------------------
# torchrun DDP (gloo on CPU)
# ----------------------------------------------------------------------------------------------------

@pytest.mark.slow
def test_torchrun_two_processes_gloo(tmp_path: Path) -> None:
    from test_pix2pix import pair_folder

    data = pair_folder(tmp_path / "d", n=4, size=32)
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"), OMP_NUM_THREADS="1")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", "-m", "painterly",
           "train", "pix2pix", "--data", str(data), "--out", str(tmp_path / "run"), "--netG", "resnet_9blocks",
           "--ngf", "8", "--ndf", "8", "--load-size", "36", "--crop-size", "32", "--epochs", "1",
           "--epochs-decay", "1", "--device", "cpu", "-q"]
    proc = subprocess.run(cmd, check=False, capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    ck = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)
    # 4 pairs over 2 ranks, batch 1 → 2 steps per epoch, 2 epochs
    assert ck["world_size"] == 2 and ck["iteration"] == 4
    rows = (tmp_path / "run" / "losses.csv").read_text().splitlines()
    assert rows[0].startswith("iteration,") and len(rows) == 2  # rank 0 alone wrote (log_every 10 → last step)
    assert (tmp_path / "run" / "generator.pt").exists()
