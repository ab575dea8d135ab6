"""The CPU inference path for the VGG encoders and the AdaIN/SANet decoder (one entry point: ``forward``).

Public torch APIs only. Three changes to what the plain ``nn.Sequential`` does, all the same maths:

* a conv followed by a ReLU applies the ReLU in place on the conv's output (no second full-size map);
* from 256² up, reflection pad + 3×3 conv is a zero-padded conv plus the one-pixel frame recomputed from
  reflect-padded two-pixel strips, so the padded copy (67 MB for a 64-channel 512² map) is never written;
* 2×2/2 max pooling of an even-sized map is three elementwise maxima (ATen's pooling also writes the
  argmax indices, which inference does not need).

Measured in one run on AMD EPYC family 26 model 2 (2 cores, torch 2.14.1): AdaIN 512² single shot 0.54×
the pytorch-AdaIN reference with this path, 0.72× with the plain modules (benchmarks/RESULTS.md). Used only
where it applies: CPU, float32, channels-last input, autograd off, not while tracing or exporting.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn

ENABLED = True
"""Switch for A/B checks and benchmarks."""


def applies(x: torch.Tensor) -> bool:
    return (
        ENABLED
        and type(x) is torch.Tensor            # not a FakeTensor / functional tensor (export, compile)
        and not torch.is_grad_enabled()
        and not torch.jit.is_tracing()
        and x.device.type == "cpu"
        and x.dtype == torch.float32
        and x.dim() == 4
        and x.is_contiguous(memory_format=torch.channels_last)
    )


def _conv(conv: nn.Conv2d, x: torch.Tensor, relu: bool, pad: int | None = None) -> torch.Tensor:
    pad = conv.padding[0] if pad is None else pad  # type: ignore[index]
    y = F.conv2d(x, conv.weight, conv.bias, conv.stride, pad, conv.dilation, conv.groups)
    return F.relu_(y) if relu else y


STRIPS_FROM = 256 * 256
"""Reflection pad + conv as a zero-padded conv plus a recomputed frame from this many pixels up (measured:
faster at 256² and above, slower on the small maps deep in the network)."""


def _reflect_conv(conv: nn.Conv2d, x: torch.Tensor, relu: bool) -> torch.Tensor:
    """conv(reflection_pad(x, 1)) for an unpadded 3x3 stride-1 conv without writing the padded copy: the
    zero-padded conv is already right wherever the 3x3 window stays inside x, so only the one-pixel frame
    is recomputed, from reflect-padded two-pixel strips along each edge."""
    y = _conv(conv, x, relu, pad=1)
    every = slice(None)
    edges = (
        ((1, 1, 1, 0), (every, every, slice(0, 2)), (every, every, slice(0, 1))),
        ((1, 1, 0, 1), (every, every, slice(-2, None)), (every, every, slice(-1, None))),
        ((1, 0, 1, 1), (every, every, every, slice(0, 2)), (every, every, every, slice(0, 1))),
        ((0, 1, 1, 1), (every, every, every, slice(-2, None)), (every, every, every, slice(-1, None))),
    )
    for pad, src, dst in edges:
        y[dst] = _conv(conv, F.pad(x[src], pad, mode="reflect"), relu, pad=0)
    return y


def _reflect_then_conv(layers: Sequence[nn.Module], i: int, stop: int, x: torch.Tensor) -> bool:
    if i + 1 >= stop or x.shape[-2] * x.shape[-1] < STRIPS_FROM:
        return False
    m, c = layers[i], layers[i + 1]
    return (isinstance(m, nn.ReflectionPad2d) and tuple(m.padding) == (1, 1, 1, 1) and _plain_conv(c)
            and c.kernel_size == (3, 3) and c.padding == (0, 0) and c.stride == (1, 1)  # type: ignore[union-attr]
            and c.dilation == (1, 1) and c.groups == 1)  # type: ignore[union-attr]


def _max_pool(x: torch.Tensor) -> torch.Tensor:
    """2x2/2 max pooling of an even-sized map as three elementwise maxima (ATen's pooling also writes the
    argmax indices, which inference does not need: about 4x slower on a 64-channel 512² map)."""
    a = torch.maximum(x[:, :, 0::2, 0::2], x[:, :, 0::2, 1::2])
    return torch.maximum(a, torch.maximum(x[:, :, 1::2, 0::2], x[:, :, 1::2, 1::2]), out=a)


def _even_2x2_pool(m: nn.Module, x: torch.Tensor) -> bool:
    return (isinstance(m, nn.MaxPool2d) and not m.return_indices and m.kernel_size in (2, (2, 2)) and m.stride in (2, (2, 2))
            and m.padding in (0, (0, 0)) and m.dilation in (1, (1, 1)) and x.shape[-2] % 2 == 0
            and x.shape[-1] % 2 == 0)


def _plain_conv(m: nn.Module) -> bool:
    return (isinstance(m, nn.Conv2d) and m.padding_mode == "zeros" and isinstance(m.padding, tuple)
            and m.weight.dtype == torch.float32 and m.weight.device.type == "cpu")


def forward(layers: Sequence[nn.Module] | nn.Sequential, x: torch.Tensor, stop: int | None = None,
            taps: Mapping[int, str] | None = None) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Run ``layers[:stop]``; ``taps`` maps an exclusive end index to a name whose output is kept.

    Returns the last output and the kept taps. A conv whose own output is a tap keeps its ReLU separate.
    """
    stop = len(layers) if stop is None else stop
    taps = taps or {}
    out: dict[str, torch.Tensor] = {}
    fast = applies(x)
    i = 0
    h = x
    while i < stop:
        m = layers[i]
        if fast and _reflect_then_conv(layers, i, stop, h) and i + 1 not in taps and i + 2 not in taps:
            relu = i + 2 < stop and isinstance(layers[i + 2], nn.ReLU) and i + 3 not in taps
            h = _reflect_conv(layers[i + 1], h, relu)  # type: ignore[arg-type]
            i += 3 if relu else 2
        elif fast and _even_2x2_pool(m, h):
            h = _max_pool(h)
            i += 1
        elif fast and _plain_conv(m) and i + 1 < stop and isinstance(layers[i + 1], nn.ReLU) and i + 1 not in taps:
            h = _conv(m, h, relu=True)  # type: ignore[arg-type]
            i += 2
        elif fast and _plain_conv(m):
            h = _conv(m, h, relu=False)  # type: ignore[arg-type]
            i += 1
        else:
            h = m(h)
            i += 1
        if i in taps:
            out[taps[i]] = h
    return h, out

