"""pix2pix paired data: A|B side-by-side images in one folder, or folders ``A/`` + ``B/`` paired by name.

Augmentation (resize, crop, flip) is drawn from the sampler's per-item seed alone, so training streams
are resumable and independent of the worker count (see painterly.train.data).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

import torch
from PIL import Image
from torch.utils.data import Dataset

from ...errors import PainterlyError
from ...train.data import Item, list_images, open_rgb, to_chw
from .config import Pix2PixConfig
from .options import check_direction


@dataclass(frozen=True)
class PairedConfig:
    direction: str = "AtoB"       # AtoB: left/A is the input; BtoA: right/B is the input
    load_size: int = 286          # both halves are resized to load_size² first (0 = keep the size)
    crop_size: int = 256          # then a random crop_size² crop (the same for input and target)
    flip: bool = True             # and a random horizontal flip (the same for both)
    train: bool = True            # False: resize straight to crop_size², no crop, no flip (validation)


class PairedDataset(Dataset[tuple[torch.Tensor, torch.Tensor]]):
    """pix2pix pairs: either A|B images side by side in one folder (split in the middle), or two folders
    ``A/`` and ``B/`` whose files are paired by name (stem). Items are (input, target) in [-1, 1]."""

    def __init__(self, root: str | Path, cfg: PairedConfig = PairedConfig()) -> None:
        root = Path(root)
        check_direction(cfg.direction)
        if cfg.train and cfg.load_size and cfg.crop_size > cfg.load_size:
            raise PainterlyError(f"crop size {cfg.crop_size} is larger than the load size {cfg.load_size}.")
        if cfg.crop_size < 1:
            raise PainterlyError("crop size must be positive.")
        self.cfg, self.root = cfg, root
        self.pairs: list[tuple[Path, Path | None]]
        if (root / "A").is_dir() and (root / "B").is_dir():
            a_files = {p.relative_to(root / "A").with_suffix(""): p for p in list_images(root / "A", "A folder")}
            b_files = {p.relative_to(root / "B").with_suffix(""): p for p in list_images(root / "B", "B folder")}
            only_a, only_b = sorted(set(a_files) - set(b_files)), sorted(set(b_files) - set(a_files))
            if only_a or only_b:
                stray = a_files[only_a[0]] if only_a else b_files[only_b[0]]
                raise PainterlyError(f"unpaired file {stray}: A/ and B/ must hold files with the same names "
                                     f"({len(only_a)} only in A, {len(only_b)} only in B).")
            self.pairs = [(a_files[k], b_files[k]) for k in sorted(a_files)]
        else:
            self.pairs = [(p, None) for p in list_images(root, "paired image folder")]
        self.files = [a for a, _ in self.pairs]

    def __len__(self) -> int:
        return len(self.pairs)

    def load_pair(self, idx: int) -> tuple[Image.Image, Image.Image]:
        """(A, B) halves of pair ``idx`` as PIL images, with the errors a user can act on."""
        a_path, b_path = self.pairs[idx]
        if b_path is None:
            ab = open_rgb(a_path)
            w, h = ab.size
            if w % 2:
                raise PainterlyError(f"{a_path} is {w}x{h}: an A|B side-by-side pair needs an even width.")
            a, b = ab.crop((0, 0, w // 2, h)), ab.crop((w // 2, 0, w, h))
        else:
            a, b = open_rgb(a_path), open_rgb(b_path)
            if a.size != b.size:
                raise PainterlyError(f"{a_path} is {a.size[0]}x{a.size[1]} but its pair {b_path} is "
                                     f"{b.size[0]}x{b.size[1]}.")
        return a, b

    def __getitem__(self, item: int | Item) -> tuple[torch.Tensor, torch.Tensor]:
        idx, seed = item if isinstance(item, tuple) else (item, item)
        cfg = self.cfg
        a, b = self.load_pair(idx)
        if not cfg.train:
            size = (cfg.crop_size, cfg.crop_size)
            a, b = a.resize(size, Image.Resampling.BICUBIC), b.resize(size, Image.Resampling.BICUBIC)
        else:
            rng = random.Random(seed)
            if cfg.load_size:
                size = (cfg.load_size, cfg.load_size)
                a, b = a.resize(size, Image.Resampling.BICUBIC), b.resize(size, Image.Resampling.BICUBIC)
            w, h = a.size
            if cfg.crop_size > min(w, h):
                raise PainterlyError(f"crop size {cfg.crop_size} is larger than the image halves of "
                                     f"{self.pairs[idx][0]} ({w}x{h}); use a smaller --crop-size or a --load-size.")
            x, y = rng.randint(0, w - cfg.crop_size), rng.randint(0, h - cfg.crop_size)
            box = (x, y, x + cfg.crop_size, y + cfg.crop_size)
            a, b = a.crop(box), b.crop(box)
            if cfg.flip and rng.random() < 0.5:
                a, b = a.transpose(Image.Transpose.FLIP_LEFT_RIGHT), b.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        ta, tb = to_chw(a) * 2 - 1, to_chw(b) * 2 - 1
        return (ta, tb) if cfg.direction == "AtoB" else (tb, ta)

    def check(self) -> None:
        """Open every pair once so a bad file fails now, naming itself, not an hour into training."""
        for i in range(len(self)):
            self[(i, 0)]


def paired_config(cfg: Pix2PixConfig, train: bool) -> PairedConfig:
    """The data settings of a training recipe (train=False: the validation / sample view)."""
    return PairedConfig(direction=cfg.g_opts.direction, load_size=cfg.load_size, crop_size=cfg.crop_size,
                        flip=cfg.flip, train=train)
