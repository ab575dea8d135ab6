"""nn/vgg.py: published layouts, preprocessing of each convention, taps, truncation, pooling."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from painterly import hub
from painterly.errors import PainterlyError
from painterly.nn.vgg import VGG19, tap_names


def _reference_forward(sd: dict[str, torch.Tensor], x: torch.Tensor, convention: str, n_convs: int) -> torch.Tensor:
    """Independent VGG-19 forward over the first ``n_convs`` convs (ReLU after each), written from the
    published layouts: torchvision conv indices 0,2,5,…; normalised keys 0 (1x1), 2,5,9,…"""
    tv_idx = [0, 2, 5, 7, 10, 12, 14, 16, 19, 21, 23, 25, 28, 30, 32, 34]
    nm_idx = [2, 5, 9, 12, 16, 19, 22, 25, 29, 32, 35, 38, 42, 45, 48, 51]
    pool_after = {1, 3, 7, 11}  # pool after conv1_2, conv2_2, conv3_4, conv4_4 (0-based conv numbers)
    if convention == "torchvision":
        h = (x - torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)) / torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
        keys = [f"features.{i}" for i in tv_idx]
    elif convention == "caffe":
        h = x[:, [2, 1, 0]] * 255 - torch.tensor([103.939, 116.779, 123.68]).view(1, 3, 1, 1)
        keys = [f"features.{i}" for i in tv_idx]
    else:
        h = F.conv2d(x, sd["0.weight"], sd["0.bias"])
        keys = [str(i) for i in nm_idx]
    for n in range(n_convs):
        w, b = sd[keys[n] + ".weight"], sd[keys[n] + ".bias"]
        if convention == "normalised":
            h = F.relu(F.conv2d(F.pad(h, (1, 1, 1, 1), mode="reflect"), w, b))
        else:
            h = F.relu(F.conv2d(h, w, b, padding=1))
        if n in pool_after and n != n_convs - 1:
            h = F.max_pool2d(h, 2, 2, ceil_mode=convention == "normalised")
    return h


@pytest.mark.parametrize("convention", ["torchvision", "caffe", "normalised"])
def test_published_layout_loads_and_matches_reference(convention: str,
                                                      random_vgg_file: Callable[..., Path]) -> None:
    p = random_vgg_file(convention, seed=3)
    sd = torch.load(p, weights_only=True)
    net = VGG19(convention, last="relu4_1").load_published(sd)
    x = torch.rand(1, 3, 37, 45)  # odd sizes exercise ceil vs floor pooling
    out = net(x, ["relu1_1", "relu4_1"])
    ref1 = _reference_forward(sd, x, convention, 1)
    ref4 = _reference_forward(sd, x, convention, 9)  # relu4_1 is the 9th conv
    assert torch.allclose(out["relu1_1"], ref1, atol=1e-4, rtol=1e-4)
    assert out["relu4_1"].shape == ref4.shape
    assert torch.allclose(out["relu4_1"], ref4, atol=1e-3, rtol=1e-3)


def test_round_trip_published_state_dict(random_vgg_file: Callable[..., Path]) -> None:
    sd = torch.load(random_vgg_file("normalised"), weights_only=True)
    net = VGG19("normalised", last="relu5_1").load_published(sd)
    mine = net.published_state_dict()
    assert set(mine) <= set(sd) and all(torch.equal(mine[k], sd[k]) for k in mine)
    assert max(int(k.split(".")[0]) for k in mine) == 42  # relu5_1 is Sequential index 43: conv at 42


def test_stops_at_deepest_tap(monkeypatch: pytest.MonkeyPatch) -> None:
    net = VGG19("torchvision", last="relu5_1")
    calls = []
    for i, m in enumerate(net.layers):
        m.register_forward_hook(lambda *_a, i=i: calls.append(i))
    net(torch.rand(1, 3, 32, 32), ["relu2_1"])
    assert max(calls) == 6  # features index of relu2_1 in torchvision's layout


def test_conv_and_relu_taps_differ() -> None:
    net = VGG19("torchvision", last="relu4_2")
    out = net(torch.rand(1, 3, 32, 32), ["conv4_2", "relu4_2"])
    assert torch.equal(out["relu4_2"], out["conv4_2"].clamp_min(0))
    assert (out["conv4_2"] < 0).any()


def test_avg_pooling() -> None:
    mx, av = VGG19("torchvision", "max", "pool1"), VGG19("torchvision", "avg", "pool1")
    av.load_state_dict(mx.state_dict())
    x = torch.rand(1, 3, 16, 16)
    a = av(x, ["relu1_2", "pool1"])
    assert torch.allclose(a["pool1"], F.avg_pool2d(a["relu1_2"], 2))


def test_errors() -> None:
    with pytest.raises(PainterlyError, match="unknown VGG convention"):
        VGG19("keras")
    with pytest.raises(PainterlyError, match="pooling"):
        VGG19("caffe", pooling="min")
    net = VGG19("caffe", last="relu3_1")
    with pytest.raises(PainterlyError, match="stops at relu3_1"):
        net(torch.rand(1, 3, 16, 16), ["relu4_1"])
    assert "relu4_2" in tap_names() and "conv5_1" in tap_names("normalised")


def test_from_hub_uses_cache_or_override(random_vgg_file: Callable[..., Path]) -> None:
    p = random_vgg_file("caffe")
    with pytest.raises(PainterlyError, match="painterly weights import vgg19-caffe"):
        VGG19.from_hub("caffe")
    net = VGG19.from_hub("caffe", weights=str(p))
    assert torch.equal(net.layers[0].weight, torch.load(p, weights_only=True)["features.0.weight"])
    hub.import_file("vgg19-caffe", p, verify=False)
    assert torch.equal(VGG19.from_hub("caffe").layers[0].weight, net.layers[0].weight)
