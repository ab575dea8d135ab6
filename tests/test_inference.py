"""painterly.nn.inference (in-place ReLU, reflection frame from strips, index-free pooling) against the plain
nn.Module path it replaces, and its gradients left alone."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from painterly.nn import inference as fused
from painterly.nn.blocks import make_decoder
from painterly.nn.vgg import VGG19

def _cl(*shape: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(*shape, generator=g).contiguous(memory_format=torch.channels_last)


def _plain(fn):  # type: ignore[no-untyped-def]
    fused.ENABLED = False
    try:
        return fn()
    finally:
        fused.ENABLED = True


@pytest.fixture(autouse=True)
def _small_strips(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fused, "STRIPS_FROM", 16 * 16)  # exercise the strip path on tiny maps


@pytest.mark.parametrize("convention", ["normalised", "caffe", "torchvision"])
@pytest.mark.parametrize("hw", [(32, 32), (37, 45), (40, 22)])
def test_vgg_taps_equal_the_plain_modules(convention: str, hw: tuple[int, int]) -> None:
    torch.manual_seed(0)
    vgg = VGG19(convention, "max", "relu5_1")
    for p in vgg.parameters():
        p.data.normal_(0, 0.1)
    taps = ("relu1_1", "relu2_1", "relu3_1", "conv4_2", "relu4_2", "relu5_1") if convention != "normalised" else (
        "relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
    x = _cl(1, 3, *hw)
    with torch.inference_mode():
        want = _plain(lambda: vgg(x, taps))
        got = vgg(x, taps)
    for name in taps:
        scale = want[name].abs().max().item() + 1e-12
        assert (got[name] - want[name]).abs().max().item() <= 1e-5 * scale, name


def test_decoder_and_reflection_frame_equal_the_plain_modules() -> None:
    torch.manual_seed(1)
    dec = make_decoder()
    x = _cl(1, 512, 5, 7)
    with torch.no_grad():
        want = _plain(lambda: dec(x))
        got = dec(x)
    assert got.shape == want.shape == (1, 3, 40, 56)
    assert torch.allclose(got, want, atol=1e-5 * want.abs().max().item())
    # the frame (first/last rows and columns) is where reflection differs from zero padding
    seq = nn.Sequential(nn.ReflectionPad2d(1), nn.Conv2d(4, 6, 3), nn.ReLU())
    y = _cl(1, 4, 17, 19, seed=3)
    with torch.no_grad():
        zero = torch.relu(nn.functional.conv2d(y, seq[1].weight, seq[1].bias, padding=1))
        want, got = seq(y), fused.forward(seq, y)[0]
    assert torch.allclose(got, want, atol=1e-6)
    assert not torch.allclose(zero[..., 0, :], want[..., 0, :], atol=1e-3)


def test_not_used_with_autograd_or_contiguous_input() -> None:
    x = _cl(1, 3, 8, 8).requires_grad_(True)
    assert not fused.applies(x)                       # grad mode on: the plain, differentiable path
    with torch.no_grad():
        assert fused.applies(x)
        assert not fused.applies(x.contiguous())      # NCHW input: not this path
        assert not fused.applies(x.double())
    seq = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU())
    fused.forward(seq, x)[0].sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_gatys_features_without_autograd_equal_the_plain_loop() -> None:
    from painterly.methods import gatys

    torch.manual_seed(2)
    vgg = VGG19("caffe", "max", "relu5_1").to(memory_format=torch.channels_last)
    for p in vgg.parameters():
        p.data.normal_(0, 0.1)
    x = torch.rand(1, 3, 40, 36) * 255
    taps = ["relu1_1", "relu2_1", "relu3_1", "relu4_1", "conv4_2", "relu4_2", "relu5_1"]
    with torch.inference_mode():
        want = _plain(lambda: gatys.features(vgg, x, taps))
        got = gatys.features(vgg, x, taps)
    for name in taps:
        assert torch.allclose(got[name], want[name], rtol=1e-4, atol=1e-4 * want[name].abs().max().item()), name
