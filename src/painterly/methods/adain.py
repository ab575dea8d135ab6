"""AdaIN — arbitrary style transfer in real time (Huang & Belongie 2017), with pytorch-AdaIN's weights.

    t  = AdaIN(f(c), f(s)) = σ(f(s))·(f(c) − μ(f(c)))/σ(f(c)) + μ(f(s))     per channel over H·W
    t' = α·t + (1 − α)·f(c)
    out = g(t')

f = "normalised" VGG-19 up to relu4_1 (vgg_normalised.pth), g = the published decoder (decoder.pth);
σ = sqrt(unbiased variance + 1e-5), exactly as pytorch-AdaIN. Several styles blend as the convex
combination Σ wᵢ·AdaIN(f(c), f(sᵢ)); with a label mask, region r of the content is normalised on its
own feature columns to the statistics of style r.

Style statistics are computed once in ``prepare`` and reused for every content image / video frame.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from .. import image as im
from ..nn.blocks import adain
from ..nn.losses import mean_std
from ..nn.vgg import VGG19
from . import feedforward as ff
from .base import StyleSpec

LAYER = "relu4_1"


@dataclass(frozen=True)
class AdaINConfig(ff.FFConfig):
    """AdaIN options (see FFConfig); no extra ones."""


class AdaINNet(nn.Module):
    """Encoder → AdaIN → α blend → decoder for one style: the graph ``painterly export onnx`` writes."""

    def __init__(self, encoder: VGG19, decoder: nn.Sequential) -> None:
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x, (LAYER,))[LAYER]

    def forward(self, content: torch.Tensor, style: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
        fc = self.encode(content)
        t = adain(fc, self.encode(style))
        t = alpha * t + (1 - alpha) * fc
        return ff.crop_to(self.decoder(t), (content.shape[-2], content.shape[-1]))


@dataclass
class Prepared:
    weights: list[float]
    images: list[torch.Tensor]                            # kept for the onnx backend
    stats: list[tuple[torch.Tensor, torch.Tensor]] | None  # (μ, σ) of f(style) per style, [1,C,1,1]


def transform(fc: torch.Tensor, stats: Sequence[tuple[torch.Tensor, torch.Tensor]], weights: Sequence[float],
              labels: im.Labels | None, alpha: float) -> torch.Tensor:
    """AdaIN in feature space with blending, masks and α (fc: [1,C,h,w])."""
    if labels is None:
        mc, sc = mean_std(fc)
        normed = (fc - mc) / sc
        t = sum(w * (normed * s + m) for w, (m, s) in zip(weights, stats, strict=True))
        assert isinstance(t, torch.Tensor)
    else:
        n, c, h, w = fc.shape
        flat = fc.reshape(n, c, h * w)
        out = flat.clone()
        for r, idx in enumerate(ff.regions(labels, (h, w))):
            if idx.numel() == 0:
                continue
            idx = idx.to(fc.device)
            cols = flat[:, :, idx]
            mean = cols.mean(2, keepdim=True)
            # unbiased variance as in calc_mean_std; a one-column region has no spread (variance 0)
            var = cols.var(2, keepdim=True) if idx.numel() > 1 else torch.zeros_like(mean)
            ms, ss = stats[r]
            out[:, :, idx] = (cols - mean) / (var + 1e-5).sqrt() * ss.reshape(n, c, 1) + ms.reshape(n, c, 1)
        t = out.reshape(n, c, h, w)
    return alpha * t + (1 - alpha) * fc if alpha != 1.0 else t


class AdaINMethod(ff.FeedForwardMethod[AdaINNet]):
    name = "adain"
    default_size = 512
    weights = ("vgg-normalised", "adain-decoder")
    config_class = AdaINConfig
    decoder_name = "adain-decoder"
    deepest = LAYER
    min_side = ff.MIN_SIDE[LAYER]
    config: AdaINConfig

    def build_net(self, device: torch.device | None = None) -> AdaINNet:
        device = device or self.device
        enc = ff.load_encoder(LAYER, self.config.vgg_weights, device)
        dec = ff.load_decoder(self.decoder_name, self.decoder_override, device)
        return AdaINNet(enc, dec).eval()

    def prepare(self, styles: Sequence[StyleSpec]) -> Prepared:
        weights, images = self.style_images(styles)
        if self.config.backend == "onnx":
            return Prepared(weights, images, None)
        with torch.inference_mode():
            stats = [mean_std(self.net.encode(self._in(x))) for x in images]
        return Prepared(weights, images, stats)

    def stylise(self, content: torch.Tensor, prepared: Prepared, labels: im.Labels | None) -> torch.Tensor:
        """The decoded image as a float tensor [1,3,H,W] on the CPU (not clamped)."""
        x, labels, hw = self.content_input(content, labels)
        if self.config.backend == "onnx":
            return self.run_onnx(x, prepared.images, labels)
        assert prepared.stats is not None
        with torch.inference_mode():
            fc = self.net.encode(self._in(x))
            t = transform(fc, prepared.stats, prepared.weights, labels, self.config.alpha)
            return ff.crop_to(self.net.decoder(t), hw).float().cpu()
