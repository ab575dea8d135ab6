"""AdaIN and SANet training tasks on the shared loop (painterly.train.loop), recipes from design.md §4–5.

AdaIN (Huang & Belongie 2017; pytorch-AdaIN's train.py):

    t  = AdaIN(f(c), f(s))                 f = vgg_normalised to relu4_1, frozen
    Lc = MSE(f(g(t)), t)                   (the AdaIN target, not f(c))
    Ls = Σ_{relu1_1..relu4_1} MSE(μ(f(g(t))), μ(f(s))) + MSE(σ(…), σ(…))
    L  = λc·Lc + λs·Ls                     λc 1, λs 10

SANet (Park & Lee 2019; the SANET port's train.py):

    cs  = g(T(f(c), f(s)))                 T = SANet blocks at relu4_1 + relu5_1, merge_conv
    Lc  = MSE(mvn f₄(cs), mvn f₄(c)) + MSE(mvn f₅(cs), mvn f₅(c))
    Ls  = Σ_{relu1_1..relu5_1} mean/std MSE as above
    Lid1 = MSE(g(T(c, c)), c) + MSE(g(T(s, s)), s)
    Lid2 = Σ_{relu1_1..relu5_1} MSE(f(g(T(c, c))), f(c)) + MSE(f(g(T(s, s))), f(s))
    L   = 1·Lc + 3·Ls + 50·Lid1 + 1·Lid2

Both: Adam 1e-4 with lr/(1 + 5e-5·it), 160k iterations, images resized to smaller side 512 and randomly
cropped to 256 (aspect kept, design.md), batch 8 (AdaIN) / 5 (SANet).

What a run writes besides the loop's files: ``decoder_iter_N.pth`` (AdaIN and SANet) and
``transformer_iter_N.pth`` (SANet) every ``export_every`` iterations and at the end, in the published
layouts (plain state_dicts: the decoder's keys are the nn.Sequential indices 1, 5, 8, …, the
transformer's ``sanet4_1.*``, ``sanet5_1.*``, ``merge_conv.*``), so ``painterly stylize --weights``,
``painterly weights import`` and the reference tools load them; ``--init`` goes the other way.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from PIL import Image
from torch import nn

from ...errors import PainterlyError
from ...nn.weights import atomic_torch_save
from ...train.loop import Task, TrainConfig, TrainContext, Trainer, TrainResult
from .config import FFTrainConfig
from .data import ContentStyleDataset, datasets
from .losses import SANetLosses, build_losses, published_state_dict, weighted_total


class FFTask(Task):
    """AdaIN or SANet training for painterly.train.loop.Trainer."""

    def __init__(self, cfg: FFTrainConfig, data: ContentStyleDataset, resume: bool = False,
                 sample_every: int = 0) -> None:
        self.cfg, self.data, self.resume = cfg, data, resume
        self.name = cfg.method
        # the loop also asks for samples at epoch ends; an epoch means little for iteration-based
        # training (and is a few steps on a tiny folder), so only every ``sample_every`` iterations
        self.sample_every = sample_every

    def setup(self, ctx: TrainContext) -> None:
        self.ctx = ctx
        raw = build_losses(self.cfg, ctx.device, resume=self.resume)
        self.raw = raw
        self.net = ctx.ddp(raw)
        trained = [raw.decoder] + ([raw.transformer] if isinstance(raw, SANetLosses) else [])
        params = [p for m in trained for p in m.parameters()]
        self.opt = torch.optim.Adam(params, lr=self.cfg.lr)
        decay = self.cfg.lr_decay
        # step i runs at lr / (1 + decay·i), as the reference's adjust_learning_rate(optimizer, i)
        self.sched = torch.optim.lr_scheduler.LambdaLR(self.opt, lambda i: 1.0 / (1.0 + decay * i))

    def models(self) -> dict[str, nn.Module]:
        out: dict[str, nn.Module] = {"decoder": self.raw.decoder}
        if isinstance(self.raw, SANetLosses):
            out["transformer"] = self.raw.transformer
        return out

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"adam": self.opt}

    def schedulers(self) -> dict[str, Any]:
        return {"lr": self.sched}

    @property
    def iteration(self) -> int:
        """Steps done so far (the scheduler steps once per iteration and is checkpointed)."""
        return int(self.sched.last_epoch)

    def step(self, batch: Any, it: int) -> dict[str, float]:
        content, style = batch
        losses = self.net(content, style)
        total = weighted_total(self.cfg, losses)
        self.opt.zero_grad(set_to_none=True)
        total.backward()
        self.opt.step()
        self.sched.step()
        every = self.cfg.export_every
        if every and self.ctx.is_main and (it + 1) % every == 0:
            self.export(self.ctx.out)
        return {"loss": total.item(), **{k: v.item() for k, v in losses.items()},
                "lr": self.opt.param_groups[0]["lr"]}

    def sample(self, it: int) -> Image.Image | None:
        k = min(self.cfg.sample_count, len(self.data.content), len(self.data.style))
        if k == 0 or not self.sample_every or it % self.sample_every:
            return None
        rows = []
        for i in range(k):
            c, s = self.data.content[(i, i)], self.data.style[(i, i)]
            o = self.raw.stylise(c[None].to(self.ctx.device), s[None].to(self.ctx.device))[0].cpu()
            rows.append([c, s, o[:, : c.shape[1], : c.shape[2]]])
        return sheet(rows)

    def config(self) -> dict[str, Any]:
        return dataclasses.asdict(self.cfg)

    def export(self, out: Path) -> list[Path]:
        n = self.iteration
        written = [out / f"decoder_iter_{n}.pth"]
        atomic_torch_save(published_state_dict(self.raw.decoder), written[0])
        if isinstance(self.raw, SANetLosses):
            written.append(out / f"transformer_iter_{n}.pth")
            atomic_torch_save(published_state_dict(self.raw.transformer), written[1])
        return written


def sheet(rows: Sequence[Sequence[torch.Tensor]], pad: int = 2) -> Image.Image:
    """A grid of [3,h,w] tensors in [0, 1] (clamped), one row per list, white gaps."""
    h = max(t.shape[1] for r in rows for t in r)
    w = max(t.shape[2] for r in rows for t in r)
    cols = max(len(r) for r in rows)
    grid = Image.new("RGB", (cols * (w + pad) + pad, len(rows) * (h + pad) + pad), "white")
    for y, r in enumerate(rows):
        for x, t in enumerate(r):
            arr = (t.detach().float().clamp(0, 1) * 255).round().byte().permute(1, 2, 0).numpy()
            grid.paste(Image.fromarray(arr, "RGB"), (pad + x * (w + pad), pad + y * (h + pad)))
    return grid


def train(cfg: FFTrainConfig, loop: TrainConfig, resume: bool = False) -> TrainResult:
    """Train AdaIN/SANet with the shared loop (``loop.iterations`` steps of ``loop.batch_size``)."""
    cfg.validate()
    if loop.iterations <= 0:
        raise PainterlyError("--iterations must be positive.")
    data = datasets(cfg)
    return Trainer(FFTask(cfg, data, resume=resume, sample_every=loop.sample_every), data, loop, resume=resume).run()
