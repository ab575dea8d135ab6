"""AdaIN / SANet training data: (content crop, style crop) pairs from two image folders."""

from __future__ import annotations

import os
import random
import warnings

import torch
from torch.utils.data import Dataset

from ... import hub
from ...train.data import ImageFolderDataset, Item, list_images
from .config import FFTrainConfig


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
