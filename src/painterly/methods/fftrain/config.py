"""AdaIN / SANet training recipes (design.md §4–5) as a torch-free dataclass: the CLI reads its defaults,
every training checkpoint stores it, ``--resume`` rebuilds it."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from ...errors import PainterlyError

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


def recipe(method: str) -> tuple[FFTrainConfig, dict[str, Any]]:
    """The published recipe: (method settings, loop settings — TrainConfig fields — for a new run)."""
    loop: dict[str, Any] = {"iterations": 160_000, "checkpoint_every": 1000, "sample_every": 1000, "log_every": 10,
                            "workers": min(4, (os.cpu_count() or 2) // 2)}
    if method == "adain":
        return FFTrainConfig(method="adain", style_weight=10.0), {**loop, "batch_size": 8}
    if method == "sanet":
        return (FFTrainConfig(method="sanet", content_weight=1.0, style_weight=3.0, identity1_weight=50.0,
                              identity2_weight=1.0), {**loop, "batch_size": 5})
    raise PainterlyError(f"unknown method {method!r} to train; use one of {', '.join(METHODS)}.")
