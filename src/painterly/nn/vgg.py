"""VGG-19 feature extractor for the three published weight conventions.

| convention  | hub name       | input the weights expect                   | padding    | pooling       |
|-------------|----------------|--------------------------------------------|------------|---------------|
| torchvision | vgg19          | RGB [0,1], ImageNet mean/std normalised    | zero       | max, floor    |
| caffe       | vgg19-caffe    | BGR, 0-255, minus mean (103.939,116.779,123.68) | zero  | max, floor    |
| normalised  | vgg-normalised | RGB [0,1]; its own 1x1 conv does the rest  | reflection | max, ceil     |

Getting this table wrong is the classic cause of grey or washed-out results, so every caller hands us RGB
in [0,1] and the convention applies its own preprocessing. Layers are built in the published
``nn.Sequential`` order, so published state_dict keys map one-to-one onto ``self.layers``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache

import torch
from torch import nn

from ..errors import PainterlyError
from . import inference, weights

_CFG: list[int | str] = [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M",
                         512, 512, 512, 512, "M", 512, 512, 512, 512, "M"]

CONVENTIONS = ("torchvision", "caffe", "normalised")
HUB_NAME = {"torchvision": "vgg19", "caffe": "vgg19-caffe", "normalised": "vgg-normalised"}

_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)
_CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)


@dataclass(frozen=True)
class _Layer:
    index: int            # position in the published nn.Sequential
    kind: str             # conv | relu | pool | pad | preconv
    name: str             # conv1_1, relu1_1, pool1 … ("" for padding)
    cin: int = 0
    cout: int = 0


@cache
def _plan(convention: str) -> tuple[_Layer, ...]:
    """The published layer sequence of a convention, with our tap names."""
    if convention not in CONVENTIONS:
        raise PainterlyError(f"unknown VGG convention {convention!r}; use one of {', '.join(CONVENTIONS)}.")
    reflect = convention == "normalised"
    layers: list[_Layer] = []
    i = 0
    if reflect:
        layers.append(_Layer(i, "preconv", "conv0", 3, 3))
        i += 1
    block, n, cin = 1, 1, 3
    for v in _CFG:
        if v == "M":
            layers.append(_Layer(i, "pool", f"pool{block}"))
            i += 1
            block, n = block + 1, 1
            continue
        assert isinstance(v, int)
        if reflect:
            layers.append(_Layer(i, "pad", ""))
            i += 1
        layers.append(_Layer(i, "conv", f"conv{block}_{n}", cin, v))
        layers.append(_Layer(i + 1, "relu", f"relu{block}_{n}"))
        i += 2
        cin, n = v, n + 1
    return tuple(layers)


def tap_names(convention: str = "torchvision") -> list[str]:
    return [layer.name for layer in _plan(convention) if layer.name and layer.kind != "preconv"]


def _published_key(convention: str, index: int) -> str:
    return f"features.{index}" if convention in ("torchvision", "caffe") else str(index)


def _layout(convention: str) -> dict[str, tuple[int, ...]]:
    out: dict[str, tuple[int, ...]] = {}
    for layer in _plan(convention):
        if layer.kind in ("conv", "preconv"):
            k = 1 if layer.kind == "preconv" else 3
            key = _published_key(convention, layer.index)
            out[f"{key}.weight"] = (layer.cout, layer.cin, k, k)
            out[f"{key}.bias"] = (layer.cout,)
    return out


def torchvision_layout() -> dict[str, tuple[int, ...]]:
    """Expected ``features.*`` keys/shapes of vgg19-dcbb9e9d.pth and vgg19-d01eb7cb.pth."""
    return _layout("torchvision")


def normalised_layout() -> dict[str, tuple[int, ...]]:
    """Expected keys/shapes of pytorch-AdaIN's vgg_normalised.pth."""
    return _layout("normalised")


weights.register_layout("vgg19-torchvision", torchvision_layout)
weights.register_layout("vgg19-normalised", normalised_layout)
load = weights.load


class VGG19(nn.Module):
    """VGG-19 up to ``last`` (inclusive), returning named taps.

    ``forward(x, taps)`` takes RGB in [0, 1] and stops at the deepest requested tap.
    """

    def __init__(self, convention: str = "torchvision", pooling: str = "max", last: str = "relu5_1"):
        super().__init__()
        if pooling not in ("max", "avg"):
            raise PainterlyError(f"pooling must be max or avg, got {pooling!r}.")
        plan = _plan(convention)
        names = [layer.name for layer in plan]
        if last not in names or not last:
            raise PainterlyError(f"unknown VGG layer {last!r}; known: {', '.join(tap_names(convention))}.")
        self.convention = convention
        self.pooling = pooling
        stop = names.index(last) + 1
        self._plan = plan[:stop]
        ceil = convention == "normalised"
        mods: list[nn.Module] = []
        for layer in self._plan:
            if layer.kind == "preconv":
                mods.append(nn.Conv2d(3, 3, 1))
            elif layer.kind == "pad":
                mods.append(nn.ReflectionPad2d(1))
            elif layer.kind == "conv":
                mods.append(nn.Conv2d(layer.cin, layer.cout, 3, padding=0 if ceil else 1))
            elif layer.kind == "relu":
                mods.append(nn.ReLU())
            else:
                pool = nn.MaxPool2d if pooling == "max" else nn.AvgPool2d
                mods.append(pool(2, 2, ceil_mode=ceil))
        self.layers = nn.Sequential(*mods)
        self._index = {layer.name: i for i, layer in enumerate(self._plan) if layer.name}
        if convention == "torchvision":
            self.register_buffer("mean", torch.tensor(_IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
            self.register_buffer("std", torch.tensor(_IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        elif convention == "caffe":
            self.register_buffer("mean", torch.tensor(_CAFFE_MEAN_BGR).view(1, 3, 1, 1), persistent=False)
        self.requires_grad_(False)
        self.eval()

    # -- weights ------------------------------------------------------------------------------------

    def load_published(self, sd: Mapping[str, torch.Tensor]) -> VGG19:
        """Load a published state_dict (full or features-only); keys beyond ``last`` are ignored."""
        mine = {}
        for i, layer in enumerate(self._plan):
            if layer.kind in ("conv", "preconv"):
                key = _published_key(self.convention, layer.index)
                for p in ("weight", "bias"):
                    if f"{key}.{p}" not in sd:
                        raise PainterlyError(f"VGG state_dict lacks {key}.{p} ({self.convention} layout).")
                    mine[f"layers.{i}.{p}"] = sd[f"{key}.{p}"]
        self.load_state_dict(mine, strict=True)
        return self

    def published_state_dict(self) -> dict[str, torch.Tensor]:
        """Our weights under the published key names (what load_published reads)."""
        out = {}
        for i, layer in enumerate(self._plan):
            if layer.kind in ("conv", "preconv"):
                key = _published_key(self.convention, layer.index)
                out[f"{key}.weight"] = self.layers[i].weight.detach().clone()
                out[f"{key}.bias"] = self.layers[i].bias.detach().clone()
        return out

    @classmethod
    def from_hub(cls, convention: str = "torchvision", pooling: str = "max", last: str = "relu5_1",
                 weights: str | None = None) -> VGG19:
        """Build and load from the cache (or ``weights``, a file in the published layout)."""
        net = cls(convention, pooling, last)
        return net.load_published(load(HUB_NAME[convention], weights))

    # -- forward ------------------------------------------------------------------------------------

    def preprocess(self, x: torch.Tensor) -> torch.Tensor:
        if self.convention == "torchvision":
            return (x - self.mean) / self.std
        if self.convention == "caffe":
            return x.flip(1) * 255.0 - self.mean
        return x

    def slice_ends(self, taps: Iterable[str]) -> list[int]:
        """Sequential indices (exclusive ends) at which each tap is read."""
        ends = []
        for t in taps:
            if t not in self._index:
                raise PainterlyError(
                    f"layer {t!r} is not available (this extractor stops at {self._plan[-1].name}; "
                    f"known: {', '.join(tap_names(self.convention))})."
                )
            ends.append(self._index[t] + 1)
        return ends

    def forward(self, x: torch.Tensor, taps: Sequence[str] = ("relu4_1",)) -> dict[str, torch.Tensor]:
        wanted = dict(zip(self.slice_ends(taps), taps, strict=True)) if len(set(taps)) == len(taps) else None
        if wanted is None:
            raise PainterlyError(f"duplicate VGG taps requested: {list(taps)}")
        return inference.forward(self.layers, self.preprocess(x), max(wanted), wanted)[1]
