"""pix2pix inference at the tensor and the image level: pad to the network's multiple, translate, crop
back; the train/eval mode switch; side-by-side pair splitting and sample sheets.

Tensors are ``[N, 3, H, W]`` in ``[-1, 1]`` (the networks' range); PIL images are RGB. File handling
(inputs, output names, batch sheets) lives in ``painterly.api.translate_files``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from ...errors import PainterlyError
from ...nn.convert import to_pil, to_tensor
from .options import GeneratorOptions, check_direction


def pad_to_multiple(x: torch.Tensor, multiple: int) -> tuple[torch.Tensor, tuple[int, int]]:
    """Pad (reflect where possible, else replicate) bottom/right to a multiple; returns (padded, (h, w))."""
    h, w = x.shape[-2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    if ph == 0 and pw == 0:
        return x, (h, w)
    mode = "reflect" if ph < h and pw < w else "replicate"
    return F.pad(x, (0, pw, 0, ph), mode=mode), (h, w)


def set_mode(G: nn.Module, eval_mode: bool) -> None:
    """eval_mode: running BN statistics, no dropout. Otherwise the paper's test-time setting: batch
    statistics and dropout stay on (the noise source of pix2pix), without touching the running stats."""
    G.train(not eval_mode)
    for m in G.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            # in train mode, track_running_stats=False means: normalise by batch statistics and leave the
            # running averages (and their counter) alone; eval mode uses the running averages either way
            m.track_running_stats = eval_mode


@torch.no_grad()
def translate_tensor(G: nn.Module, x: torch.Tensor, multiple: int) -> torch.Tensor:
    """[N,3,H,W] in [-1,1] of any size → same size output in [-1,1] (padded for the network, cropped back)."""
    xp, (h, w) = pad_to_multiple(x, multiple)
    return G(xp)[..., :h, :w]


def to_unit(x: torch.Tensor) -> torch.Tensor:
    return (x.clamp(-1, 1) + 1) / 2


def from_unit(x: torch.Tensor) -> torch.Tensor:
    return x * 2 - 1


def translate_image(G: nn.Module, opts: GeneratorOptions, img: Image.Image,
                    device: torch.device | str = "cpu") -> Image.Image:
    """One RGB image of any size through G (on ``device``, mode already set) → an RGB image of that size."""
    x = from_unit(to_tensor(img)).to(device)
    return to_pil(to_unit(translate_tensor(G, x, opts.multiple)).cpu())


def split_pair(img: Image.Image, path: str | Path, direction: str) -> tuple[Image.Image, Image.Image]:
    """An A|B side-by-side image → (input, target) halves for ``direction``."""
    check_direction(direction)
    w, h = img.size
    if w % 2:
        raise PainterlyError(f"{path} is {w}x{h}: an A|B side-by-side pair needs an even width.")
    a, b = img.crop((0, 0, w // 2, h)), img.crop((w // 2, 0, w, h))
    return (a, b) if direction == "AtoB" else (b, a)


def image_sheet(rows: Sequence[Sequence[Image.Image]], gap: int = 2) -> Image.Image:
    """Rows of images (input | output | target) on a white canvas, ``gap`` px apart, top-left aligned."""
    h = max(t.size[1] for r in rows for t in r)
    w = max(t.size[0] for r in rows for t in r)
    ncol = max(len(r) for r in rows)
    canvas = Image.new("RGB", (ncol * w + (ncol - 1) * gap, len(rows) * h + (len(rows) - 1) * gap), "white")
    for i, r in enumerate(rows):
        for j, t in enumerate(r):
            canvas.paste(t, (j * (w + gap), i * (h + gap)))
    return canvas


def make_sheet(rows: Sequence[Sequence[torch.Tensor]]) -> Image.Image:
    """``image_sheet`` of [-1,1] tensors [3,H,W] (the training task's samples)."""
    return image_sheet([[to_pil(to_unit(t)) for t in r] for r in rows])
