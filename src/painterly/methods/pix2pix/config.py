"""The pix2pix training recipe (Isola et al. 2017; design.md §6) as a torch-free dataclass: the CLI reads
its defaults, the training checkpoint stores it, ``--resume`` rebuilds it."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...errors import PainterlyError
from .options import DiscriminatorOptions, GeneratorOptions


@dataclass
class Pix2PixConfig:
    """The pix2pix recipe. Stored in every training checkpoint."""

    data: str = ""
    val: str = ""                 # held-out pairs for per-epoch L1/PSNR/SSIM ("" = none)
    generator: dict[str, Any] = dataclasses.field(default_factory=lambda: GeneratorOptions().to_dict())
    discriminator: dict[str, Any] = dataclasses.field(default_factory=lambda: DiscriminatorOptions().to_dict())
    load_size: int = 286
    crop_size: int = 256
    flip: bool = True
    epochs: int = 100             # at the initial learning rate
    epochs_decay: int = 100       # then linearly down to 0
    lr: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    lambda_l1: float = 100.0
    gan_weight: float = 1.0       # 0: L1-only baseline (no discriminator at all)
    val_limit: int = 0            # evaluate at most this many validation pairs per epoch (0 = all)
    sample_count: int = 4         # rows of the per-epoch sample sheet

    @property
    def g_opts(self) -> GeneratorOptions:
        return GeneratorOptions.from_dict(self.generator)

    @property
    def d_opts(self) -> DiscriminatorOptions:
        return DiscriminatorOptions(**self.discriminator)

    @property
    def total_epochs(self) -> int:
        return self.epochs + self.epochs_decay

    def lr_factor(self, epoch: int) -> float:
        """LR multiplier while training epoch ``epoch`` (0-based): 1 for the first ``epochs``, then
        linear towards 0 over ``epochs_decay`` (the reference's 'linear' policy)."""
        return 1.0 - max(0, epoch + 1 - self.epochs) / float(self.epochs_decay + 1)


def check_config(cfg: Pix2PixConfig) -> None:
    """Settings that would otherwise fail deep inside a conv or an hour into training."""
    g = cfg.g_opts
    cfg.d_opts  # noqa: B018 - validates the discriminator options
    m = g.multiple
    if cfg.crop_size % m:
        raise PainterlyError(f"crop size {cfg.crop_size} is not a multiple of {m}, which {g.netG} needs "
                             f"(it halves the image {int(math.log2(m))} times); use e.g. {m * max(1, cfg.crop_size // m)}.")
    if cfg.epochs < 0 or cfg.epochs_decay < 0:
        raise PainterlyError("epochs and epochs-decay must not be negative.")
    if cfg.lr <= 0 or not 0 <= cfg.beta1 < 1 or not 0 <= cfg.beta2 < 1:
        raise PainterlyError("lr must be positive and the Adam betas in [0, 1).")
    if cfg.gan_weight < 0 or cfg.lambda_l1 < 0:
        raise PainterlyError("gan-weight and lambda-l1 must not be negative.")


def resolve_data_dirs(data: str | Path, val: str | Path | None) -> tuple[str, str]:
    """``--data DIR``: DIR/train (+ DIR/val or DIR/test for validation) when present, else DIR itself."""
    d = Path(data)
    if not d.exists():
        raise PainterlyError(f"training data folder not found: {d}")
    if (d / "train").is_dir():
        v = val or next((str(d / s) for s in ("val", "test") if (d / s).is_dir()), "")
        return str(d / "train"), str(v) if v else ""
    return str(d), str(val) if val else ""
