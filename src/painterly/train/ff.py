"""AdaIN and SANet training on the shared loop (painterly.train.loop), recipes from design.md §4–5.

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
import os
import random
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn
from torch.utils.data import Dataset

from .. import hub
from ..errors import PainterlyError, WeightsMissingError
from ..nn import weights
from ..nn.weights import atomic_torch_save
from ..nn.blocks import adain, make_decoder
from ..nn.losses import mean_std_loss, mvn
from ..nn.vgg import VGG19
from .data import ImageFolderDataset, Item, list_images
from .loop import Task, TrainConfig, TrainContext, Trainer, TrainResult

METHODS = ("adain", "sanet")
LAYERS = {"adain": ("relu1_1", "relu2_1", "relu3_1", "relu4_1"),
          "sanet": ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")}
# the decoder returns 8·⌈H/8⌉; SANet also needs even relu4_1 sides for its ×2 branch, hence 16
CROP_MULTIPLE = {"adain": 8, "sanet": 16}
MIN_CROP = {"adain": 16, "sanet": 32}  # reflection padding needs ≥ 2 px at the deepest layer


@dataclass
class FFTrainConfig:
    """One AdaIN/SANet training recipe (stored in every checkpoint; ``recipe()`` gives the defaults)."""

    method: str = "adain"
    content_dir: str = ""
    style_dir: str = ""
    vgg: str | None = None               # vgg_normalised.pth; None = the weights cache
    init_decoder: str | None = None      # start from a published-layout decoder
    init_transformer: str | None = None  # SANet: start from a published-layout transformer
    lr: float = 1e-4
    lr_decay: float = 5e-5               # lr / (1 + lr_decay · iteration)
    content_weight: float = 1.0
    style_weight: float = 10.0
    identity1_weight: float = 50.0       # SANet only
    identity2_weight: float = 1.0        # SANet only
    load_size: int = 512                 # smaller side before the crop
    crop_size: int = 256
    export_every: int = 10000            # iterations between decoder_iter_N.pth exports (0: only at the end)
    sample_count: int = 4                # rows (content, style, output) of the sample sheets

    def validate(self) -> None:
        if self.method not in METHODS:
            raise PainterlyError(f"unknown method {self.method!r} to train; use one of {', '.join(METHODS)}.")
        m = self.method
        if self.crop_size < MIN_CROP[m] or self.crop_size % CROP_MULTIPLE[m]:
            raise PainterlyError(f"--crop-size must be a multiple of {CROP_MULTIPLE[m]} and at least "
                                 f"{MIN_CROP[m]} px for {m}, got {self.crop_size}.")
        if self.load_size < self.crop_size:
            raise PainterlyError(f"--load-size ({self.load_size}) must be at least --crop-size "
                                 f"({self.crop_size}).")
        if self.lr <= 0 or self.lr_decay < 0:
            raise PainterlyError("--lr must be positive and --lr-decay not negative.")
        for name in ("content_weight", "style_weight", "identity1_weight", "identity2_weight"):
            if getattr(self, name) < 0:
                raise PainterlyError(f"--{name.replace('_', '-')} must not be negative.")
        if self.export_every < 0 or self.sample_count < 0:
            raise PainterlyError("--export-every and --sample-count must not be negative.")
        if self.init_transformer and m != "sanet":
            raise PainterlyError("--init-transformer is for sanet only.")


def recipe(method: str) -> tuple[FFTrainConfig, dict[str, int]]:
    """The published recipe: (method settings, loop settings batch_size/iterations)."""
    if method == "adain":
        return FFTrainConfig(method="adain", style_weight=10.0), {"batch_size": 8, "iterations": 160_000}
    if method == "sanet":
        return (FFTrainConfig(method="sanet", content_weight=1.0, style_weight=3.0, identity1_weight=50.0,
                              identity2_weight=1.0), {"batch_size": 5, "iterations": 160_000})
    raise PainterlyError(f"unknown method {method!r} to train; use one of {', '.join(METHODS)}.")


# ----------------------------------------------------------------------------------------------------
# data: (content crop, style crop) pairs
# ----------------------------------------------------------------------------------------------------

class ContentStyleDataset(Dataset[tuple[torch.Tensor, torch.Tensor]]):
    """Items are (content, style) crops. The shared sampler walks the content images in shuffled passes;
    the style image of each item is drawn uniformly from the item's own seed (and content index), so the
    stream stays a pure function of (seed, position) — resumable and independent of the worker count —
    while content and style pair up independently, as with the reference's two samplers."""

    def __init__(self, content: ImageFolderDataset, style: ImageFolderDataset) -> None:
        self.content, self.style = content, style

    def __len__(self) -> int:
        return len(self.content)

    def style_item(self, item: Item) -> Item:
        idx, seed = item
        rng = random.Random(f"style:{seed}:{idx}")  # str seeds hash with sha512: stable across processes
        return rng.randrange(len(self.style)), rng.randrange(2 ** 31)

    def __getitem__(self, item: int | Item) -> tuple[torch.Tensor, torch.Tensor]:
        it: Item = item if isinstance(item, tuple) else (item, item)
        return self.content[it], self.style[self.style_item(it)]


def image_folder(root: str, load_size: int, crop_size: int, what: str) -> ImageFolderDataset:
    """An ImageFolderDataset whose "skipped unreadable files" warning is one ``warning:`` line (rank 0)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # said below, once, without a source line
        ds = ImageFolderDataset(root, load_size, crop_size, what=what)
    if ds.skipped and int(os.environ.get("RANK", "0")) == 0:
        bad = sorted(set(list_images(root, what)) - set(ds.files))
        hub.warn(f"skipped {ds.skipped} unreadable file(s) in the {what} {root} ({len(ds)} used), e.g. {bad[0]}")
    return ds


def datasets(cfg: FFTrainConfig) -> ContentStyleDataset:
    return ContentStyleDataset(image_folder(cfg.content_dir, cfg.load_size, cfg.crop_size, "content folder"),
                               image_folder(cfg.style_dir, cfg.load_size, cfg.crop_size, "style folder"))


# ----------------------------------------------------------------------------------------------------
# weights
# ----------------------------------------------------------------------------------------------------

def load_encoder(method: str, vgg: str | None) -> VGG19:
    """The frozen vgg_normalised encoder up to the deepest layer the method's losses use."""
    try:
        sd = weights.load("vgg-normalised", vgg)
    except WeightsMissingError:
        e = hub.entry("vgg-normalised")
        raise WeightsMissingError(
            f"training {method} needs the frozen encoder '{e.name}' ({e.filename}), which is not in the cache "
            f"{hub.weights_dir()}; {hub.import_hint(e.name)}; or pass --vgg FILE.") from None
    return VGG19("normalised", last=LAYERS[method][-1]).load_published(sd)


def load_init(module: nn.Module, hub_name: str, path: str, what: str) -> None:
    """Load published-layout weights (layout-checked, one-line errors) into ``module``."""
    sd = weights.prepare_state_dict(hub_name, weights.as_state_dict(weights.load_checkpoint(path, what), what),
                                f"{what} {path}")
    module.load_state_dict(sd)


def published_state_dict(module: nn.Module) -> dict[str, torch.Tensor]:
    """A plain CPU state_dict (what decoder.pth / transformer_iter_N.pth hold)."""
    return {k: v.detach().to("cpu", copy=True).contiguous() for k, v in module.state_dict().items()}


# ----------------------------------------------------------------------------------------------------
# the networks whose forward returns the losses (one module so DDP sees a single forward per step)
# ----------------------------------------------------------------------------------------------------

def style_loss(out: Mapping[str, torch.Tensor], target: Mapping[str, torch.Tensor], layers: Sequence[str]
               ) -> torch.Tensor:
    return sum((mean_std_loss(out[k], target[k]) for k in layers), torch.zeros(()))


class AdaINLosses(nn.Module):
    """Frozen encoder + trained decoder; forward(content, style) → {"content": Lc, "style": Ls}."""

    def __init__(self, encoder: VGG19, decoder: nn.Sequential) -> None:
        super().__init__()
        self.encoder, self.decoder = encoder, decoder
        self.layers = LAYERS["adain"]

    def forward(self, content: torch.Tensor, style: torch.Tensor) -> dict[str, torch.Tensor]:
        n = content.shape[0]
        feats = self.encoder(torch.cat([content, style]), self.layers)  # one pass for both
        fc = feats["relu4_1"][:n]
        fs = {k: v[n:] for k, v in feats.items()}
        t = adain(fc, fs["relu4_1"])
        g = self.decoder(t)
        out = self.encoder(g, self.layers)
        return {"content": F.mse_loss(out["relu4_1"], t), "style": style_loss(out, fs, self.layers)}

    @torch.no_grad()
    def stylise(self, content: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        enc = self.encoder
        return self.decoder(adain(enc(content, ("relu4_1",))["relu4_1"], enc(style, ("relu4_1",))["relu4_1"]))


class SANetLosses(nn.Module):
    """Frozen encoder + trained transformer and decoder; forward → content, style, identity1, identity2."""

    def __init__(self, encoder: VGG19, transformer: nn.Module, decoder: nn.Sequential) -> None:
        super().__init__()
        self.encoder, self.transformer, self.decoder = encoder, transformer, decoder
        self.layers = LAYERS["sanet"]

    def transform(self, a: Mapping[str, torch.Tensor], b: Mapping[str, torch.Tensor]) -> torch.Tensor:
        # full attention: training crops are small (32² positions at relu4_1 for 256² crops)
        return self.transformer(a["relu4_1"], b["relu4_1"], a["relu5_1"], b["relu5_1"], chunk=0)

    def forward(self, content: torch.Tensor, style: torch.Tensor) -> dict[str, torch.Tensor]:
        n = content.shape[0]
        both = torch.cat([content, style])
        f = self.encoder(both, self.layers)
        fc = {k: v[:n] for k, v in f.items()}
        fs = {k: v[n:] for k, v in f.items()}
        g = self.decoder(self.transform(fc, fs))
        out = self.encoder(g, self.layers)
        lc = F.mse_loss(mvn(out["relu4_1"]), mvn(fc["relu4_1"])) + F.mse_loss(mvn(out["relu5_1"]),
                                                                              mvn(fc["relu5_1"]))
        ls = style_loss(out, fs, self.layers)
        # identity: each image attending to itself must come back (I_cc = c, I_ss = s); content and style
        # go through together (attention never mixes batch items), the losses are taken per half
        ident = self.decoder(self.transform(f, f))
        f_ident = self.encoder(ident, self.layers)
        lid1 = F.mse_loss(ident[:n], content) + F.mse_loss(ident[n:], style)
        lid2 = sum((F.mse_loss(f_ident[k][:n], fc[k]) + F.mse_loss(f_ident[k][n:], fs[k]) for k in self.layers),
                   torch.zeros(()))
        return {"content": lc, "style": ls, "identity1": lid1, "identity2": lid2}

    @torch.no_grad()
    def stylise(self, content: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        layers = ("relu4_1", "relu5_1")
        return self.decoder(self.transform(self.encoder(content, layers), self.encoder(style, layers)))


def build_losses(cfg: FFTrainConfig, device: torch.device | str = "cpu", resume: bool = False
                 ) -> AdaINLosses | SANetLosses:
    """The loss network of ``cfg.method`` (decoder / transformer from --init unless resuming)."""
    from ..methods.sanet import SANetTransformer

    enc = load_encoder(cfg.method, cfg.vgg)
    dec = make_decoder()
    hub_dec = "adain-decoder" if cfg.method == "adain" else "sanet-decoder"
    if cfg.init_decoder and not resume:
        load_init(dec, hub_dec, cfg.init_decoder, "--init decoder")
    if cfg.method == "adain":
        net: AdaINLosses | SANetLosses = AdaINLosses(enc, dec)
    else:
        tr = SANetTransformer()
        if cfg.init_transformer and not resume:
            load_init(tr, "sanet-transformer", cfg.init_transformer, "--init-transformer")
        net = SANetLosses(enc, tr, dec)
    return net.to(device)


def weighted_total(cfg: FFTrainConfig, losses: Mapping[str, torch.Tensor]) -> torch.Tensor:
    w = {"content": cfg.content_weight, "style": cfg.style_weight, "identity1": cfg.identity1_weight,
         "identity2": cfg.identity2_weight}
    return sum((w[k] * v for k, v in losses.items()), torch.zeros((), device=next(iter(losses.values())).device))


# ----------------------------------------------------------------------------------------------------
# the task
# ----------------------------------------------------------------------------------------------------

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
