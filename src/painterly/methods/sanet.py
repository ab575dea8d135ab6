"""SANet — style-attentional networks (Park & Lee 2019), with GlebSBrykin/SANET's published weights.

At relu4_1 and relu5_1 of the "normalised" VGG-19, one SANet block each:

    F = f(mvn(Fc)),  G = g(mvn(Fs)),  H = h(Fs)            (1×1 convs, 512→512)
    S = softmax over style positions of Fᵀ·G               ([Nc, Ns])
    O = out_conv(H·Sᵀ) + Fc

then t = merge_conv(pad(O₄ + up₂(O₅))) (nearest ×2, reflection pad + 3×3 conv) and out = decoder(t).
The reference adds the two branches directly, which fails whenever relu4_1 has an odd side (ceil-mode
pooling makes relu5_1 ⌈h/2⌉, so the upsampled map is one row/column too big); we drop that extra
bottom row / right column, which keeps both maps aligned at the top-left like the pooling itself. For
even sides (every size the reference runs) the result is identical.

The attention matrix is (H·W/64)×(h·w/64) at relu4_1 — 16 GiB for two 2048² images — so we compute it in
blocks of content positions (each row's softmax only needs its own row), bounded by ``chunk``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .. import hub
from .. import image as im
from ..errors import PainterlyError
from ..nn import weights
from ..nn.losses import mvn
from ..nn.vgg import VGG19
from . import feedforward as ff
from .base import StyleSpec

LAYERS = ("relu4_1", "relu5_1")
ATTENTION_BUDGET = 64 * 2**20  # bytes of attention scores per block when chunk is automatic


@dataclass(frozen=True)
class SANetConfig(ff.FFConfig):
    transformer_weights: str | None = None  # transformer_iter_500000.pth override (else the cache)
    chunk: int | None = None                # content positions per attention block; None = auto, 0 = all


def attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, chunk: int | None = 0) -> torch.Tensor:
    """H·softmax(FᵀG)ᵀ for q=F [B,C,Nc], k=G [B,C,Ns], v=H [B,C,Ns] → [B,C,Nc], in blocks of content rows.

    Rows are independent (softmax runs over style positions), so blocking changes nothing but memory.
    """
    b, _, nc = q.shape
    ns = k.shape[2]
    if chunk is None:
        chunk = max(1, ATTENTION_BUDGET // (4 * ns * b))
    qt = q.transpose(1, 2)
    if chunk <= 0 or chunk >= nc:
        return torch.bmm(v, torch.softmax(torch.bmm(qt, k), dim=-1).transpose(1, 2))
    out = q.new_empty(b, v.shape[1], nc)
    for i in range(0, nc, chunk):
        s = torch.softmax(torch.bmm(qt[:, i:i + chunk], k), dim=-1)
        out[:, :, i:i + chunk] = torch.bmm(v, s.transpose(1, 2))
    return out


class SANetBlock(nn.Module):
    """One style-attention block; parameter names match the published transformer (f, g, h, out_conv)."""

    def __init__(self, channels: int = 512) -> None:
        super().__init__()
        self.f = nn.Conv2d(channels, channels, 1)
        self.g = nn.Conv2d(channels, channels, 1)
        self.h = nn.Conv2d(channels, channels, 1)
        self.out_conv = nn.Conv2d(channels, channels, 1)

    def query(self, fc: torch.Tensor) -> torch.Tensor:
        return self.f(mvn(fc)).flatten(2)

    def keys_values(self, fs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.g(mvn(fs)).flatten(2), self.h(fs).flatten(2)

    def output(self, attended: torch.Tensor, fc: torch.Tensor) -> torch.Tensor:
        return self.out_conv(attended.reshape(fc.shape)) + fc

    def forward(self, fc: torch.Tensor, fs: torch.Tensor, chunk: int | None = 0) -> torch.Tensor:
        k, v = self.keys_values(fs)
        return self.output(attend(self.query(fc), k, v, chunk), fc)


class SANetTransformer(nn.Module):
    """Both blocks and merge_conv; state_dict keys as transformer_iter_500000.pth."""

    def __init__(self, channels: int = 512) -> None:
        super().__init__()
        self.sanet4_1 = SANetBlock(channels)
        self.sanet5_1 = SANetBlock(channels)
        self.merge_conv = nn.Conv2d(channels, channels, 3)

    def merge(self, o4: torch.Tensor, o5: torch.Tensor) -> torch.Tensor:
        # nearest to relu4_1's size: for even sides exactly the reference's ×2 upsampling; for odd sides
        # the same as ×2 then dropping the last row/column (floor(i·⌈h/2⌉/h) = floor(i/2) for i < h)
        up = F.interpolate(o5, size=(o4.shape[-2], o4.shape[-1]), mode="nearest")
        return self.merge_conv(F.pad(o4 + up, (1, 1, 1, 1), mode="reflect"))

    def forward(self, c4: torch.Tensor, s4: torch.Tensor, c5: torch.Tensor, s5: torch.Tensor,
                chunk: int | None = 0) -> torch.Tensor:
        return self.merge(self.sanet4_1(c4, s4, chunk), self.sanet5_1(c5, s5, chunk))


class SANetNet(nn.Module):
    """Encoder → transformer → α blend → decoder for one style: the graph ``painterly export onnx`` writes."""

    def __init__(self, encoder: VGG19, transformer: SANetTransformer, decoder: nn.Sequential) -> None:
        super().__init__()
        self.encoder = encoder
        self.transformer = transformer
        self.decoder = decoder

    def encode(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        return self.encoder(x, LAYERS)

    def forward(self, content: torch.Tensor, style: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
        fc, fs = self.encode(content), self.encode(style)
        t = self.transformer(fc["relu4_1"], fs["relu4_1"], fc["relu5_1"], fs["relu5_1"])
        t = alpha * t + (1 - alpha) * fc["relu4_1"]
        return ff.crop_to(self.decoder(t), (content.shape[-2], content.shape[-1]))


@dataclass
class Prepared:
    weights: list[float]
    images: list[torch.Tensor]                                        # kept for the onnx backend
    kv: list[dict[str, tuple[torch.Tensor, torch.Tensor]]] | None     # per style: layer -> (G, H)


class SANetMethod(ff.FeedForwardMethod[SANetNet]):
    name = "sanet"
    default_size = 512
    weights = ("vgg-normalised", "sanet-decoder", "sanet-transformer")
    config_class = SANetConfig
    decoder_name = "sanet-decoder"
    deepest = "relu5_1"
    min_side = ff.MIN_SIDE["relu5_1"]
    config: SANetConfig

    def configure(self, options: dict[str, Any]) -> None:
        super().configure(options)
        if self.config.chunk is not None and self.config.chunk < 0:
            raise PainterlyError("chunk must be 0 (no chunking) or a positive number of positions.")

    # -- weights ------------------------------------------------------------------------------------

    def weight_sources(self) -> list[tuple[str, str | None]]:
        return [*super().weight_sources(), ("sanet-transformer", self.config.transformer_weights)]

    def build_net(self, device: torch.device | None = None) -> SANetNet:
        device = device or self.device
        enc = ff.load_encoder("relu5_1", self.config.vgg_weights, device)
        tr = SANetTransformer()
        tr.load_state_dict(weights.load("sanet-transformer", self.config.transformer_weights))
        tr = tr.requires_grad_(False).eval().to(device)
        dec = ff.load_decoder(self.decoder_name, self.decoder_override, device)
        return SANetNet(enc, tr, dec).eval()

    # -- method interface -----------------------------------------------------------------------------

    def prepare(self, styles: Sequence[StyleSpec]) -> Prepared:
        weights, images = self.style_images(styles)
        if self.config.backend == "onnx":
            return Prepared(weights, images, None)
        kv = []
        blocks = self.blocks()
        with torch.inference_mode():
            for x in images:
                fs = self.net.encode(self._in(x))
                kv.append({layer: blocks[layer].keys_values(fs[layer].contiguous()) for layer in LAYERS})
        return Prepared(weights, images, kv)

    def blocks(self) -> dict[str, SANetBlock]:
        return {"relu4_1": self.net.transformer.sanet4_1, "relu5_1": self.net.transformer.sanet5_1}

    def block_outputs(self, fc: dict[str, torch.Tensor], prepared: Prepared, labels: im.Labels | None
                      ) -> dict[str, torch.Tensor]:
        """O = out_conv(attention) + Fc at relu4_1 and relu5_1 for the content features ``fc``.

        Blends: out_conv is affine and the weights sum to 1, so blending the attention outputs equals
        the convex combination of each style's O (and, merge_conv being affine too, of each style's
        transformer output). Masks: the content positions of region r attend only to style r.
        """
        assert prepared.kv is not None
        outs = {}
        for layer, block in self.blocks().items():
            f = fc[layer].contiguous()
            q = block.query(f)
            if labels is None:
                att = sum(w * attend(q, *kv[layer], self.config.chunk)
                          for w, kv in zip(prepared.weights, prepared.kv, strict=True))
                assert isinstance(att, torch.Tensor)
            else:
                att = torch.zeros_like(q)
                for r, idx in enumerate(ff.regions(labels, (f.shape[-2], f.shape[-1]))):
                    if idx.numel():
                        idx = idx.to(q.device)
                        att[:, :, idx] = attend(q[:, :, idx], *prepared.kv[r][layer], self.config.chunk)
            outs[layer] = block.output(att, f)
        return outs

    def stylise(self, content: torch.Tensor, prepared: Prepared, labels: im.Labels | None) -> torch.Tensor:
        """The decoded image as a float tensor [1,3,H,W] on the CPU (not clamped)."""
        x, labels, hw = self.content_input(content, labels)
        if self.config.backend == "onnx":
            return self.run_onnx(x, prepared.images, labels)
        a = self.config.alpha
        with torch.inference_mode():
            fc = self.net.encode(self._in(x))
            o = self.block_outputs(fc, prepared, labels)
            t = self.net.transformer.merge(o["relu4_1"], o["relu5_1"])
            if a != 1.0:
                t = a * t + (1 - a) * fc["relu4_1"]
            return ff.crop_to(self.net.decoder(t), hw).float().cpu()
