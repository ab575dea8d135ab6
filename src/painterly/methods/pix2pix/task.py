"""The pix2pix training task for painterly.train.loop.Trainer (cGAN + λ·L1 with a PatchGAN; design.md §6).

The loop (iterations, checkpoints, exact resume, logs, DDP) is generic; this module says what one step,
one epoch end, a sample sheet and the final export mean for pix2pix.
"""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from ...nn.weights import atomic_torch_save
from ...train.loop import Task, TrainConfig, TrainContext, Trainer, TrainResult, unwrap
from .checkpoint import generator_checkpoint
from .config import Pix2PixConfig, check_config
from .data import PairedDataset, paired_config
from .infer import make_sheet, set_mode, translate_tensor
from .metrics import evaluate_generator
from .nets import build_discriminator, build_generator


def _set_requires_grad(net: nn.Module, flag: bool) -> None:
    for p in net.parameters():
        p.requires_grad_(flag)


class Pix2PixTask(Task):
    """G and (unless gan_weight is 0) D, each with Adam and the linear-decay LR schedule."""

    name = "pix2pix"

    def __init__(self, cfg: Pix2PixConfig) -> None:
        self.cfg = cfg
        self.val = PairedDataset(cfg.val, paired_config(cfg, train=False)) if cfg.val else None
        self.use_gan = cfg.gan_weight > 0

    def setup(self, ctx: TrainContext) -> None:
        cfg = self.cfg
        self.ctx = ctx
        self.G = ctx.ddp(build_generator(cfg.g_opts).to(ctx.device))
        # fused Adam: one kernel per step on CPU too (~15% faster pix2pix steps here)
        adam: dict[str, Any] = {"lr": cfg.lr, "betas": (cfg.beta1, cfg.beta2),
                                "fused": ctx.device.type in ("cpu", "cuda")}
        self.opt_G = torch.optim.Adam(self.G.parameters(), **adam)
        self.sched_G = torch.optim.lr_scheduler.LambdaLR(self.opt_G, cfg.lr_factor)
        if self.use_gan:
            self.D_raw = build_discriminator(cfg.d_opts).to(ctx.device)
            self.D = ctx.ddp(self.D_raw)
            self.opt_D = torch.optim.Adam(self.D.parameters(), **adam)
            self.sched_D = torch.optim.lr_scheduler.LambdaLR(self.opt_D, cfg.lr_factor)

    def models(self) -> dict[str, nn.Module]:
        return {"G": unwrap(self.G), **({"D": self.D_raw} if self.use_gan else {})}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"G": self.opt_G, **({"D": self.opt_D} if self.use_gan else {})}

    def schedulers(self) -> dict[str, Any]:
        return {"G": self.sched_G, **({"D": self.sched_D} if self.use_gan else {})}

    def step(self, batch: Any, it: int) -> dict[str, float]:
        cfg = self.cfg
        A, B = batch
        fake = self.G(A)
        out: dict[str, float] = {}
        if self.use_gan:
            # D: real pairs → 1, fake pairs → 0, loss halved (slows D relative to G)
            _set_requires_grad(self.D_raw, True)
            self.opt_D.zero_grad(set_to_none=True)
            pf = self.D(torch.cat([A, fake.detach()], 1))
            pr = self.D(torch.cat([A, B], 1))
            d_fake = F.binary_cross_entropy_with_logits(pf, torch.zeros_like(pf))
            d_real = F.binary_cross_entropy_with_logits(pr, torch.ones_like(pr))
            ((d_fake + d_real) * 0.5).backward()
            self.opt_D.step()
            _set_requires_grad(self.D_raw, False)
            out.update(D_real=d_real.item(), D_fake=d_fake.item())
        self.opt_G.zero_grad(set_to_none=True)
        g_l1 = (fake - B).abs().mean()
        loss = cfg.lambda_l1 * g_l1
        if self.use_gan:
            # non-saturating G loss: maximise log D(A, G(A)); the un-wrapped D, whose weights are
            # frozen here, so DDP only synchronises G's gradients
            pg = self.D_raw(torch.cat([A, fake], 1))
            g_gan = F.binary_cross_entropy_with_logits(pg, torch.ones_like(pg))
            loss = loss + cfg.gan_weight * g_gan
            out["G_GAN"] = g_gan.item()
        loss.backward()
        self.opt_G.step()
        out["G_L1"] = g_l1.item()
        return out

    def end_epoch(self, epoch: int) -> dict[str, float]:
        for s in self.schedulers().values():
            s.step()
        metrics: dict[str, float] = {"lr": self.opt_G.param_groups[0]["lr"]}
        if self.val is not None and self.ctx.is_main:
            sc = evaluate_generator(unwrap(self.G), self.val, self.cfg.g_opts.multiple, device=self.ctx.device,
                                    limit=self.cfg.val_limit)
            metrics.update(val_l1=sc.l1, val_psnr=sc.psnr, val_ssim=sc.ssim)
        return metrics

    def sample(self, it: int) -> Image.Image:
        cfg = self.cfg
        ds = self.val if self.val is not None else PairedDataset(cfg.data, paired_config(cfg, train=False))
        # a copy in the paper's test mode, with its own RNG stream: sampling must not disturb training
        Gv = copy.deepcopy(unwrap(self.G))
        set_mode(Gv, eval_mode=False)
        rows = []
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            for i in range(min(cfg.sample_count, len(ds))):
                x, y = ds[i]
                o = translate_tensor(Gv, x[None].to(self.ctx.device), cfg.g_opts.multiple)[0].cpu()
                rows.append([x, o, y])
        return make_sheet(rows)

    def config(self) -> dict[str, Any]:
        return dataclasses.asdict(self.cfg)

    def export(self, out: Path) -> list[Path]:
        cfg = self.cfg
        p = out / "generator.pt"
        atomic_torch_save(generator_checkpoint(unwrap(self.G), cfg.g_opts,
                                               {"train": {"gan_weight": cfg.gan_weight, "epochs": cfg.total_epochs}}),
                          p)
        return [p]


def make_task(cfg: Pix2PixConfig) -> Pix2PixTask:
    """The pix2pix Task for painterly.train.loop.Trainer."""
    return Pix2PixTask(cfg)


def train_datasets(cfg: Pix2PixConfig) -> PairedDataset:
    """The training PairedDataset (``data`` or ``data/train``); every pair opened once up front."""
    ds = PairedDataset(cfg.data, paired_config(cfg, train=True))
    ds.check()
    return ds


def train(cfg: Pix2PixConfig, loop: TrainConfig, resume: bool = False) -> TrainResult:
    """Train pix2pix with the shared loop; the epoch count comes from ``cfg`` (epochs + epochs_decay)."""
    check_config(cfg)
    loop.epochs, loop.iterations = cfg.total_epochs, 0
    return Trainer(make_task(cfg), train_datasets(cfg), loop, resume=resume).run()
