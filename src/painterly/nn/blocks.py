"""Building blocks shared by the feed-forward methods: AdaIN, the AdaIN/SANet decoder, layouts."""

from __future__ import annotations

import torch
from torch import nn

from . import inference, weights
from .losses import mean_std

# (in, out) channels of the decoder's 3x3 convs and where the x2 nearest upsampling sits (before conv i)
_DECODER_CONVS = [(512, 256), (256, 256), (256, 256), (256, 256), (256, 128), (128, 128), (128, 64),
                  (64, 64), (64, 3)]
_UPSAMPLE_BEFORE = {1, 5, 7}


def adain(content: torch.Tensor, style: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """AdaIN(x, y) = σ(y)·(x − μ(x))/σ(x) + μ(y), per channel over H·W, σ from the unbiased variance + eps."""
    mc, sc = mean_std(content, eps)
    ms, ss = mean_std(style, eps)
    return (content - mc) / sc * ss + ms


class Decoder(nn.Sequential):
    """The decoder: an nn.Sequential (so its state_dict keys are the published ones) that runs through the
    CPU inference path where that applies (nn.inference), like the VGG encoder."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return inference.forward(self, x)[0]


def make_decoder() -> nn.Sequential:
    """The AdaIN decoder in pytorch-AdaIN's exact nn.Sequential order (keys 1,5,8,…,28).

    Mirror of VGG up to relu4_1: reflection pad + 3x3 conv (+ ReLU, not after the last), nearest x2
    upsampling in place of each pooling, no normalisation layers.
    """
    mods: list[nn.Module] = []
    for i, (cin, cout) in enumerate(_DECODER_CONVS):
        if i in _UPSAMPLE_BEFORE:
            mods.append(nn.Upsample(scale_factor=2, mode="nearest"))
        mods += [nn.ReflectionPad2d(1), nn.Conv2d(cin, cout, 3)]
        if i < len(_DECODER_CONVS) - 1:
            mods.append(nn.ReLU())
    return Decoder(*mods)


def decoder_layout() -> dict[str, tuple[int, ...]]:
    """Expected keys/shapes of decoder.pth (AdaIN) and decoder_iter_500000.pth (SANet)."""
    return {k: tuple(v.shape) for k, v in make_decoder().state_dict().items()}


def sanet_transformer_layout(channels: int = 512) -> dict[str, tuple[int, ...]]:
    """Expected keys/shapes of SANet's transformer_iter_500000.pth."""
    out: dict[str, tuple[int, ...]] = {}
    for block in ("sanet4_1", "sanet5_1"):
        for conv in ("f", "g", "h", "out_conv"):
            out[f"{block}.{conv}.weight"] = (channels, channels, 1, 1)
            out[f"{block}.{conv}.bias"] = (channels,)
    out["merge_conv.weight"] = (channels, channels, 3, 3)
    out["merge_conv.bias"] = (channels,)
    return out


weights.register_layout("decoder", decoder_layout)
weights.register_layout("sanet-transformer", sanet_transformer_layout)
