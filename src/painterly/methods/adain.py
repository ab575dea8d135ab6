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
from typing import Any

import torch
from torch import nn

from .. import image as im
from ..errors import PainterlyError
from ..nn.blocks import adain
from ..nn.losses import mean_std
from ..nn.vgg import VGG19
from . import feedforward as ff
from .base import Method, Output, StyleSpec, build_config, normalised_weights

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


class AdaINMethod(Method):
    name = "adain"
    default_size = 512
    weights = ("vgg-normalised", "adain-decoder")
    decoder_name = "adain-decoder"

    def configure(self, options: dict[str, Any]) -> None:
        self.config: AdaINConfig = build_config(AdaINConfig, AdaINConfig(), options, self.name)
        self.config.check(self.name)
        self.config.check_common(self.common, self.name)
        ff.split_weights(self.common.weights, self.config, self.name)  # early error for a misplaced .onnx
        self._net: AdaINNet | None = None
        self._onnx: ff.OnnxRunner | None = None

    # -- weights ------------------------------------------------------------------------------------

    @property
    def decoder_override(self) -> str | None:
        return ff.split_weights(self.common.weights, self.config, self.name)[0]

    def weight_sources(self) -> list[tuple[str, str | None]]:
        return [("vgg-normalised", self.config.vgg_weights), (self.decoder_name, self.decoder_override)]

    def build_net(self, device: torch.device | None = None) -> AdaINNet:
        device = device or self.device
        enc = ff.load_encoder(LAYER, self.config.vgg_weights, device)
        dec = ff.load_decoder(self.decoder_name, self.decoder_override, device)
        return AdaINNet(enc, dec).eval()

    @property
    def net(self) -> AdaINNet:
        if self._net is None:
            self._net = self.build_net()
        return self._net

    def onnx(self) -> ff.OnnxRunner:
        if self._onnx is None:
            from ..export import export_feedforward

            model = ff.split_weights(self.common.weights, self.config, self.name)[1]
            self._onnx = ff.onnx_runner(self.name, model, lambda p: export_feedforward(self, p),
                                        lambda: ff.files_key(ff.weight_files(self.weight_sources())),
                                        self.device)
        return self._onnx

    def _in(self, x: torch.Tensor) -> torch.Tensor:
        return ff.to_device(x, self.device, self.config.channels_last)

    # -- method interface -----------------------------------------------------------------------------

    def prepare(self, styles: Sequence[StyleSpec]) -> Prepared:
        weights = normalised_weights(styles)
        images = [ff.style_tensor(s, self.common, self.config.crop, self.default_size, ff.MIN_SIDE[LAYER],
                                  self.name) for s in styles]
        if self.config.backend == "onnx":
            return Prepared(weights, images, None)
        with torch.inference_mode():
            stats = [mean_std(self.net.encode(self._in(x))) for x in images]
        return Prepared(weights, images, stats)

    def run(self, content: torch.Tensor, prepared: Prepared, labels: im.Labels | None) -> Output:
        out = self.stylise(content, prepared, labels)
        return Output(im.to_pil(out), {"alpha": self.config.alpha, "backend": self.config.backend})

    def stylise(self, content: torch.Tensor, prepared: Prepared, labels: im.Labels | None) -> torch.Tensor:
        """The decoded image as a float tensor [1,3,H,W] on the CPU (not clamped)."""
        x = content
        if self.config.crop:
            x, labels = ff.crop_content(x, labels)
        h, w = x.shape[-2:]
        ff.check_side((w, h), ff.MIN_SIDE[LAYER], "content image", self.name)
        if self.config.backend == "onnx":
            if len(prepared.images) > 1 or labels is not None:
                raise PainterlyError("--backend onnx takes one --style and no --mask; use --backend torch "
                                     "for blends and masks.")
            return self.onnx()(x, prepared.images[0], self.config.alpha)
        assert prepared.stats is not None
        with torch.inference_mode():
            fc = self.net.encode(self._in(x))
            t = transform(fc, prepared.stats, prepared.weights, labels, self.config.alpha)
            return ff.crop_to(self.net.decoder(t), (h, w)).float().cpu()

    def export_module(self) -> tuple[nn.Module, tuple[str, ...]]:
        """(module, input names) for ONNX export: content, style, alpha → image, on the CPU."""
        return self.build_net(torch.device("cpu")), ("content", "style", "alpha")

