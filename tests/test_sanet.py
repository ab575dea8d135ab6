"""SANet: attention maths, output against an independent implementation of the published formulas
(tests/ffutil.py: RefTransform + the published nn.Sequential decoder), chunking, blends, masks, errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import ffutil
from conftest import smooth_image
from painterly.nn.convert import to_pil, to_tensor
from painterly import api
from painterly import image as im
from painterly.errors import PainterlyError
from painterly.methods.base import StyleSpec
from painterly.methods.sanet import SANetMethod, attend

torch.set_num_threads(1)  # tiny images: a second thread only adds OpenMP barriers on a busy machine


@pytest.fixture(scope="module")
def W() -> ffutil.Weights:
    return ffutil.weights()


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    return {"content": smooth_image(tmp_path / "c.png", (96, 64), 1),    # relu4_1 12x8, relu5_1 6x4
            "odd": smooth_image(tmp_path / "odd.png", (72, 40), 4),      # relu4_1 9x5 (odd), relu5_1 5x3
            "style": smooth_image(tmp_path / "s.png", (64, 80), 2),
            "style2": smooth_image(tmp_path / "s2.png", (48, 48), 3)}


def method(W: ffutil.Weights, **options: object) -> SANetMethod:
    m = api.make_method("sanet", size=0, style_size=0, device="cpu", progress=False,
                        **{**W.sanet_options(), **options})
    assert isinstance(m, SANetMethod)
    return m


def specs(*paths: Path, weights: tuple[float, ...] | None = None) -> list[StyleSpec]:
    ws = weights or (1.0,) * len(paths)
    return [StyleSpec(str(p), w, im.load_image(p)) for p, w in zip(paths, ws, strict=True)]


def tensor(p: Path) -> torch.Tensor:
    return to_tensor(im.load_image(p).rgb)


def ref_features(W: ffutil.Weights, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    f4 = ffutil.relu4_1(W.vgg, x)
    return f4, ffutil.relu5_1(W.vgg, f4)


def test_chunked_attention_equals_full() -> None:
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(1, 32, n, generator=g) for n in (301, 97, 97))
    full = attend(q, k, v, chunk=0)
    # against the formula H·softmax(FᵀG)ᵀ written out
    s = torch.softmax(q[0].T @ k[0], dim=1)
    assert (full[0] - v[0] @ s.T).abs().max() < 1e-5
    for chunk in (1, 7, 64, None):
        assert (attend(q, k, v, chunk=chunk) - full).abs().max() < 1e-5


def test_output_equals_reference_implementation(W: ffutil.Weights, files: dict[str, Path]) -> None:
    m = method(W, chunk=5)     # several blocks at relu4_1 (96 positions) and relu5_1 (24)
    prepared = m.prepare(specs(files["style"]))
    with torch.no_grad():
        s4, s5 = ref_features(W, tensor(files["style"]))
        for key in ("content", "odd"):
            c = tensor(files[key])
            c4, c5 = ref_features(W, c)
            ref = W.sanet_decoder(W.transform(c4, s4, c5, s5))
            got = m.stylise(c, prepared, None)
            assert got.shape == c.shape
            assert (got - ref[..., : c.shape[2], : c.shape[3]]).abs().max() < 1e-4, key

def test_chunked_equals_unchunked_in_the_network(W: ffutil.Weights, files: dict[str, Path]) -> None:
    chunked, full = method(W, chunk=5), method(W, chunk=0)
    c = tensor(files["content"])
    with torch.no_grad():
        fc = full.net.encode(c)
        a = full.block_outputs(fc, full.prepare(specs(files["style"])), None)
        b = chunked.block_outputs(fc, chunked.prepare(specs(files["style"])), None)
    for layer in a:
        assert (a[layer] - b[layer]).abs().max() < 1e-5


def test_alpha_and_blend(W: ffutil.Weights, files: dict[str, Path]) -> None:
    c = tensor(files["content"])
    with torch.no_grad():
        c4, c5 = ref_features(W, c)
        s4a, s5a = ref_features(W, tensor(files["style"]))
        t1 = W.transform(c4, s4a, c5, s5a)
        s4b, s5b = ref_features(W, tensor(files["style2"]))
        t2 = W.transform(c4, s4b, c5, s5b)
        want_blend = W.sanet_decoder(0.4 * (0.25 * t1 + 0.75 * t2) + 0.6 * c4)
        want_recon = W.sanet_decoder(c4)
    m = method(W, alpha=0.4)
    got = m.stylise(c, m.prepare(specs(files["style"], files["style2"], weights=(1.0, 3.0))), None)
    assert (got - want_blend).abs().max() < 1e-4
    m0 = method(W, alpha=0.0)
    assert (m0.stylise(c, m0.prepare(specs(files["style"])), None) - want_recon).abs().max() < 1e-4


def test_mask_restricts_attention_to_the_regions_style(W: ffutil.Weights, files: dict[str, Path]) -> None:
    c = tensor(files["content"])                  # 96x64: relu4_1 grid 8x12, relu5_1 4x6
    lab = np.zeros((64, 96), np.int64)
    lab[:, 48:] = 1                               # right half
    labels = im.Labels(lab, [(0, 0, 0), (255, 255, 255)])
    m = method(W, chunk=7)
    prepared = m.prepare(specs(files["style"], files["style2"]))
    with torch.no_grad():
        fc = m.net.encode(c)
        outs = m.block_outputs(fc, prepared, labels)
        c4, c5 = ref_features(W, c)
        for r, sp in enumerate(("style", "style2")):
            s4, s5 = ref_features(W, tensor(files[sp]))
            for layer, cf, sf, block in (("relu4_1", c4, s4, W.transform.sanet4_1),
                                         ("relu5_1", c5, s5, W.transform.sanet5_1)):
                ref = block(cf, sf)
                half = ref.shape[3] // 2
                cols = slice(0, half) if r == 0 else slice(half, None)
                assert (outs[layer][..., cols] - ref[..., cols]).abs().max() < 1e-4, (r, layer)
    img = m.run(c, prepared, labels).image
    assert img.size == (96, 64)


def test_errors(W: ffutil.Weights, files: dict[str, Path]) -> None:
    with pytest.raises(PainterlyError, match="wrong layout"):   # an AdaIN decoder is not a transformer
        method(W, transformer_weights=str(W.paths["adain-decoder"])).prepare(specs(files["style"]))
    with pytest.raises(PainterlyError, match="at least 32 px"):
        api.stylize(files["content"], files["style"], "sanet", size=24, **W.sanet_options())
    with pytest.raises(PainterlyError, match="chunk"):
        method(W, chunk=-1)
