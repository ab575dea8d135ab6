"""nn/losses.py and nn/blocks.py against formulas written out by hand (loops / numpy)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from painterly.errors import PainterlyError
from painterly.nn import losses
from painterly.nn.blocks import adain, decoder_layout, make_decoder, sanet_transformer_layout


def _gram_loops(f: np.ndarray) -> np.ndarray:
    c, h, w = f.shape
    g = np.zeros((c, c))
    for i in range(c):
        for j in range(c):
            g[i, j] = sum(f[i, y, x] * f[j, y, x] for y in range(h) for x in range(w))
    return g


def test_gram_normalisations() -> None:
    f = torch.randn(1, 3, 4, 5, dtype=torch.float64)
    raw = _gram_loops(f[0].numpy())
    assert np.allclose(losses.gram(f, "none")[0].numpy(), raw)
    assert np.allclose(losses.gram(f, "hw")[0].numpy(), raw / 20)
    assert np.allclose(losses.gram(f, "chw")[0].numpy(), raw / 60)
    with pytest.raises(PainterlyError):
        losses.gram(f, "c")


def test_masked_gram_equals_gram_of_region() -> None:
    f = torch.randn(1, 2, 4, 4, dtype=torch.float64)
    mask = torch.zeros(4, 4, dtype=torch.float64)
    mask[:, :2] = 1
    g = losses.masked_gram(f, mask, "hw")[0].numpy()
    region = f[0, :, :, :2].numpy()
    assert np.allclose(g, _gram_loops(region) / 8)  # normalised by the region's area, 8 positions


def test_gram_gradient_is_the_hand_formula() -> None:
    """d/dF of Σ W∘G with G = F Fᵀ / k is (W + Wᵀ) F / k, in both memory layouts and under a mask."""
    torch.manual_seed(0)
    for layout in (torch.contiguous_format, torch.channels_last):
        f = torch.randn(1, 4, 3, 5, dtype=torch.float64).contiguous(memory_format=layout).requires_grad_(True)
        w = torch.randn(1, 4, 4, dtype=torch.float64)
        (losses.gram(f, "chw") * w).sum().backward()
        flat = f.detach().reshape(4, 15)
        expected = ((w[0] + w[0].T) @ flat / 60).reshape(1, 4, 3, 5)
        assert torch.allclose(f.grad, expected)
        mask = torch.rand(3, 5, dtype=torch.float64)
        assert torch.autograd.gradcheck(lambda t, m=mask: losses.masked_gram(t, m, "hw"), (f.detach().requires_grad_(),))


def test_mean_std_unbiased_with_eps() -> None:
    f = torch.randn(2, 3, 5, 4, dtype=torch.float64)
    m, s = losses.mean_std(f)
    arr = f.numpy().reshape(2, 3, -1)
    assert np.allclose(m.numpy().squeeze(), arr.mean(-1))
    assert np.allclose(s.numpy().squeeze(), np.sqrt(arr.var(-1, ddof=1) + 1e-5))


def test_adain_formula() -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(1, 4, 6, 5, generator=g, dtype=torch.float64) * 3 + 1
    y = torch.randn(1, 4, 7, 3, generator=g, dtype=torch.float64) * 0.5 - 2
    out = adain(x, y).numpy()[0]
    xs, ys = x.numpy()[0].reshape(4, -1), y.numpy()[0].reshape(4, -1)
    for c in range(4):
        sx = np.sqrt(xs[c].var(ddof=1) + 1e-5)
        sy = np.sqrt(ys[c].var(ddof=1) + 1e-5)
        expect = sy * (x.numpy()[0, c] - xs[c].mean()) / sx + ys[c].mean()
        assert np.allclose(out[c], expect)


def test_mvn() -> None:
    f = torch.randn(1, 2, 6, 6, dtype=torch.float64) * 4 + 3
    out = losses.mvn(f).numpy()[0].reshape(2, -1)
    assert np.allclose(out.mean(-1), 0) and np.allclose(out.std(-1, ddof=1), 1, atol=1e-4)


def test_tv_l1_and_l2() -> None:
    x = torch.tensor([[[[0.0, 1.0, 3.0], [2.0, 2.0, 0.0]]]])
    # vertical diffs: 2,1,-3 ; horizontal: 1,2,0,-2
    assert losses.tv_loss(x, "l1").item() == pytest.approx(2 + 1 + 3 + 1 + 2 + 0 + 2)
    assert losses.tv_loss(x, "l2").item() == pytest.approx(4 + 1 + 9 + 1 + 4 + 0 + 4)


def test_content_gram_and_mean_std_losses() -> None:
    a, b = torch.randn(1, 3, 4, 4), torch.randn(1, 3, 4, 4)
    assert losses.content_loss(a, b).item() == pytest.approx(((a - b) ** 2).mean().item(), rel=1e-5)
    ga, gb = losses.gram(a), losses.gram(b)
    assert losses.gram_loss(ga, gb).item() == pytest.approx(((ga - gb) ** 2).sum().item() / 9, rel=1e-5)
    ma, sa = a.reshape(3, -1).mean(1), (a.reshape(3, -1).var(1) + 1e-5).sqrt()
    mb, sb = b.reshape(3, -1).mean(1), (b.reshape(3, -1).var(1) + 1e-5).sqrt()
    expect = ((ma - mb) ** 2).mean() + ((sa - sb) ** 2).mean()
    assert losses.mean_std_loss(a, b).item() == pytest.approx(expect.item(), rel=1e-5)


def test_decoder_layout_is_pytorch_adain() -> None:
    keys = sorted({int(k.split(".")[0]) for k in decoder_layout()})
    assert keys == [1, 5, 8, 11, 14, 18, 21, 25, 28]
    dec = make_decoder()
    out = dec(torch.rand(1, 512, 4, 5))
    assert out.shape == (1, 3, 32, 40)
    assert not isinstance(dec[-1], torch.nn.ReLU)
    assert sum(isinstance(m, torch.nn.Upsample) for m in dec) == 3
    t = sanet_transformer_layout()
    assert t["merge_conv.weight"] == (512, 512, 3, 3) and len(t) == 18
