"""pix2pix metrics (images in [0, 1]): L1, PSNR and SSIM, and their means over a folder of pairs."""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ...errors import PainterlyError
from ...nn.device import pick
from .checkpoint import load_generator
from .data import PairedConfig, PairedDataset
from .infer import set_mode, to_unit, translate_tensor


def l1(a: torch.Tensor, b: torch.Tensor) -> float:
    """Mean absolute error in [0, 1] units."""
    return float((a - b).abs().mean())


def psnr(a: torch.Tensor, b: torch.Tensor, data_range: float = 1.0) -> float:
    """10·log10(range² / MSE) in dB (inf for identical images)."""
    mse = float(((a.double() - b.double()) ** 2).mean())
    return math.inf if mse == 0 else 10 * math.log10(data_range ** 2 / mse)


def _gaussian_1d(size: int = 11, sigma: float = 1.5) -> torch.Tensor:
    r = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g = torch.exp(-(r ** 2) / (2 * sigma ** 2))
    return g / g.sum()


def ssim(a: torch.Tensor, b: torch.Tensor, data_range: float = 1.0, win: int = 11, sigma: float = 1.5) -> float:
    """Mean SSIM (Wang et al. 2004): 11x11 Gaussian window σ 1.5, K1 0.01, K2 0.03, per channel, averaged
    over the positions where the window fits (as scikit-image's structural_similarity with
    gaussian_weights=True, use_sample_covariance=False). Float64 throughout."""
    if a.shape != b.shape:
        raise ValueError(f"ssim: shapes differ {tuple(a.shape)} vs {tuple(b.shape)}")
    x = a.double().reshape(-1, 1, *a.shape[-2:])
    y = b.double().reshape(-1, 1, *b.shape[-2:])
    if min(x.shape[-2:]) < win:
        raise PainterlyError(f"SSIM needs images of at least {win}x{win} px.")
    g = _gaussian_1d(win, sigma)
    gh, gv = g.view(1, 1, 1, win), g.view(1, 1, win, 1)

    def blur(t: torch.Tensor) -> torch.Tensor:  # the separable 2-D Gaussian, 'valid' positions only
        return F.conv2d(F.conv2d(t, gh), gv)

    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    mx, my = blur(x), blur(y)
    sxx = blur(x * x) - mx * mx
    syy = blur(y * y) - my * my
    sxy = blur(x * y) - mx * my
    s = ((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx * mx + my * my + c1) * (sxx + syy + c2))
    return float(s.mean())


@dataclass
class Scores:
    l1: float
    psnr: float
    ssim: float
    n: int

    def to_dict(self) -> dict[str, float]:
        return {"l1": self.l1, "psnr": self.psnr, "ssim": self.ssim, "n": self.n}


def evaluate_generator(G: nn.Module, dataset: Any, multiple: int, eval_mode: bool = False, seed: int = 0,
                       device: torch.device | str = "cpu", limit: int = 0, progress: bool = False) -> Scores:
    """Mean per-image L1 / PSNR / SSIM (images in [0, 1]) of G over a PairedDataset (train=False).

    G is copied, so a model being trained is left untouched (its BN running stats and RNG stream too).
    """
    from tqdm import tqdm

    Gv = copy.deepcopy(G).to(device)
    set_mode(Gv, eval_mode)
    n = len(dataset) if not limit else min(limit, len(dataset))
    sums = [0.0, 0.0, 0.0]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for i in tqdm(range(n), desc="evaluate", unit="img", disable=not progress):
            x, y = dataset[i]
            out = to_unit(translate_tensor(Gv, x[None].to(device), multiple)).cpu()
            tgt = to_unit(y[None])
            sums[0] += l1(out, tgt)
            sums[1] += psnr(out, tgt)
            sums[2] += ssim(out, tgt)
    return Scores(sums[0] / n, sums[1] / n, sums[2] / n, n)


def evaluate_checkpoint(checkpoint: str | Path, data: str | Path, direction: str | None = None,
                        size: int | None = None, eval_mode: bool = False, seed: int = 0,
                        netG: str | None = None, norm: str | None = None, ngf: int | None = None,
                        device: str = "auto", progress: bool = False) -> dict[str, Any]:
    """L1 / PSNR / SSIM over a folder of pairs (see ``evaluate_generator``) as a JSON-able report."""
    G, opts = load_generator(checkpoint, netG=netG, norm=norm, ngf=ngf)
    direction = direction or opts.direction
    size = size or opts.crop_size
    ds = PairedDataset(data, PairedConfig(direction=direction, crop_size=size, train=False))
    sc = evaluate_generator(G, ds, opts.multiple, eval_mode=eval_mode, seed=seed, device=pick(device),
                            progress=progress)
    return {**sc.to_dict(), "mode": "eval" if eval_mode else "train", "size": size, "direction": direction,
            "netG": opts.netG, "checkpoint": str(checkpoint), "data": str(data)}

