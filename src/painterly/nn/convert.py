"""PIL/numpy images <-> torch tensors, for the torch methods (the light core works in numpy)."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from .. import image as im


def to_tensor(img: Image.Image) -> torch.Tensor:
    """PIL RGB -> float32 tensor [1, 3, H, W] in [0, 1]."""
    return torch.from_numpy(im.to_array(img))


def to_pil(t: torch.Tensor) -> Image.Image:
    """Tensor [1, 3, H, W] or [3, H, W] in [0, 1] -> PIL RGB (clamped, rounded)."""
    return im.from_array(t.detach().float().cpu().numpy())


def from_array(x: np.ndarray, device: torch.device | str = "cpu") -> torch.Tensor:
    """A light-core image array [1,3,H,W] float32 -> a tensor on ``device`` (no copy on the CPU)."""
    x = np.ascontiguousarray(x, dtype=np.float32)
    return torch.from_numpy(x if x.flags.writeable else x.copy()).to(device)
