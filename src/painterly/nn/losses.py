"""Losses on feature maps, each with its normalisation stated (weights are not portable otherwise).

Shapes: feature maps ``[N, C, H, W]``; Gram matrices ``[N, C, C]``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..errors import PainterlyError

GRAM_NORMS = ("chw", "hw", "none")


def gram(f: torch.Tensor, norm: str = "chw") -> torch.Tensor:
    """G = F Fᵀ with F the [C, H·W] matrix, divided by C·H·W ("chw", neural-style), H·W ("hw", Gatys'
    own code) or nothing ("none")."""
    c, h, w = f.shape[1:]
    return _self_product(_positions_by_channels(f)) / _gram_divisor(norm, c, h * w)


class _SelfProduct(torch.autograd.Function):
    """tᵀt with the symmetric backward t(dG + dGᵀ): one [P, C]×[C, C] product where autograd, seeing t twice,
    does two plus a [P, C] add (about a tenth of a Gatys step's time at 512 px)."""

    @staticmethod
    def forward(ctx, t: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        ctx.save_for_backward(t)
        return t.transpose(1, 2) @ t

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        (t,) = ctx.saved_tensors
        return t @ (grad + grad.transpose(1, 2))


def _self_product(t: torch.Tensor) -> torch.Tensor:
    """[N, P, C] -> [N, C, C] = tᵀt."""
    return _SelfProduct.apply(t) if t.requires_grad else t.transpose(1, 2) @ t


def _positions_by_channels(f: torch.Tensor) -> torch.Tensor:
    """[N, H·W, C] view of a feature map: a view (no copy, nothing extra kept for backward) for both the
    contiguous and the channels-last layout."""
    n, c, h, w = f.shape
    if f.is_contiguous(memory_format=torch.channels_last) and not f.is_contiguous():
        return f.permute(0, 2, 3, 1).reshape(n, h * w, c)
    return f.reshape(n, c, h * w).transpose(1, 2)


def _gram_divisor(norm: str, c: int, positions: float | torch.Tensor) -> float | torch.Tensor:
    if norm == "chw":
        return c * positions
    if norm == "hw":
        return positions
    if norm == "none":
        return 1.0
    raise PainterlyError(f"unknown Gram normalisation {norm!r}; use one of {', '.join(GRAM_NORMS)}.")


def masked_gram(f: torch.Tensor, mask: torch.Tensor, norm: str = "chw") -> torch.Tensor:
    """Guided Gram: Gram of ``f * mask`` where ``mask`` is [H, W] (or [N,1,H,W]) in [0, 1].

    Normalised by the mask's area (Σ mask²) instead of H·W, so a region's Gram is comparable to the Gram
    of an unmasked style image (Gatys et al. 2017, spatial control).
    """
    c, h, w = f.shape[1:]
    m = mask.reshape(-1, 1, h, w).to(f)
    g = _self_product(_positions_by_channels(f * m))
    area = (m * m).sum().clamp_min(1e-8) / m.shape[0]
    return g / _gram_divisor(norm, c, area)


def mean_std(f: torch.Tensor, eps: float = 1e-5) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel mean and std over H·W, std = sqrt(unbiased variance + eps) (pytorch-AdaIN's calc_mean_std)."""
    n, c = f.shape[:2]
    flat = f.reshape(n, c, -1)
    mean = flat.mean(dim=2).reshape(n, c, 1, 1)
    std = (flat.var(dim=2, unbiased=True) + eps).sqrt().reshape(n, c, 1, 1)
    return mean, std


def mvn(f: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """Mean-variance normalisation per channel (SANet's content features)."""
    mean, std = mean_std(f, eps)
    return (f - mean) / std


def content_loss(x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared error over all elements."""
    return F.mse_loss(x, target)


def gram_loss(x_gram: torch.Tensor, target_gram: torch.Tensor) -> torch.Tensor:
    """Mean squared error over the C² Gram entries."""
    return F.mse_loss(x_gram, target_gram)


def mean_std_loss(x: torch.Tensor, target: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """AdaIN style loss for one layer: MSE of channel means + MSE of channel stds."""
    mx, sx = mean_std(x, eps)
    mt, st = mean_std(target, eps)
    return F.mse_loss(mx, mt) + F.mse_loss(sx, st)


def tv_loss(x: torch.Tensor, kind: str = "l1") -> torch.Tensor:
    """Total variation summed over the image.

    "l1": Σ|x[i+1,j]-x[i,j]| + Σ|x[i,j+1]-x[i,j]| (neural-style's PyTorch port);
    "l2": Σ of the squared differences (the original Lua neural-style's gradient corresponds to this).
    """
    dy = x[:, :, 1:, :] - x[:, :, :-1, :]
    dx = x[:, :, :, 1:] - x[:, :, :, :-1]
    if kind == "l1":
        return dy.abs().sum() + dx.abs().sum()
    if kind == "l2":
        return dy.pow(2).sum() + dx.pow(2).sum()
    raise PainterlyError(f"TV loss kind must be l1 or l2, got {kind!r}.")
