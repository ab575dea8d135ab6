"""AdaIN: maths against hand formulas, output against the published nn.Sequential shapes, controls, errors.

Random weights in the published layouts (tests/ffutil.py); images 40–96 px to keep VGG passes cheap.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import ffutil
from conftest import assert_one_line_error, random_state_dict, run_cli, smooth_image
from painterly.nn.convert import to_pil, to_tensor
from painterly import api, hub
from painterly import image as im
from painterly.errors import PainterlyError
from painterly.methods.adain import AdaINMethod, transform
from painterly.methods.base import StyleSpec
from painterly.nn.blocks import adain
from painterly.nn.vgg import torchvision_layout

torch.set_num_threads(1)  # tiny images: a second thread only adds OpenMP barriers on a busy machine


@pytest.fixture(scope="module")
def W() -> ffutil.Weights:
    return ffutil.weights()


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    return {"content": smooth_image(tmp_path / "c.png", (64, 48), 1),
            "odd": smooth_image(tmp_path / "odd.png", (60, 44), 4),
            "style": smooth_image(tmp_path / "s.png", (56, 40), 2),
            "style2": smooth_image(tmp_path / "s2.png", (48, 48), 3)}


def method(W: ffutil.Weights, **options: object) -> AdaINMethod:
    m = api.make_method("adain", size=0, style_size=0, device="cpu", progress=False,
                        **{**W.adain_options(), **options})
    assert isinstance(m, AdaINMethod)
    return m


def specs(*paths: Path, weights: tuple[float, ...] | None = None) -> list[StyleSpec]:
    ws = weights or (1.0,) * len(paths)
    return [StyleSpec(str(p), w, im.load_image(p)) for p, w in zip(paths, ws, strict=True)]


def tensor(p: Path) -> torch.Tensor:
    return to_tensor(Image.open(p).convert("RGB"))


# ----------------------------------------------------------------------------------------------------
# maths
# ----------------------------------------------------------------------------------------------------

def test_adain_against_hand_formula() -> None:
    g = torch.Generator().manual_seed(0)
    fc = torch.randn(1, 6, 5, 7, generator=g) * 3 + 1
    fs = torch.randn(1, 6, 4, 4, generator=g) * 0.5 - 2
    # per channel, by hand with numpy: unbiased variance + 1e-5
    c, s = fc[0].reshape(6, -1).numpy().astype(np.float64), fs[0].reshape(6, -1).numpy().astype(np.float64)
    mc, ms = c.mean(1, keepdims=True), s.mean(1, keepdims=True)
    vc = ((c - mc) ** 2).sum(1, keepdims=True) / (c.shape[1] - 1)
    vs = ((s - ms) ** 2).sum(1, keepdims=True) / (s.shape[1] - 1)
    want = (c - mc) / np.sqrt(vc + 1e-5) * np.sqrt(vs + 1e-5) + ms
    got = adain(fc, fs)[0].reshape(6, -1).numpy()
    np.testing.assert_allclose(got, want, atol=1e-5)
    m, sd = ffutil.mean_std(fs)
    t = transform(fc, [(m, sd)], [1.0], None, 1.0)
    np.testing.assert_allclose(t[0].reshape(6, -1).numpy(), want, atol=1e-5)


def test_blend_and_alpha_formula() -> None:
    g = torch.Generator().manual_seed(1)
    fc, s1, s2 = (torch.randn(1, 4, 6, 6, generator=g) * k for k in (1.0, 2.0, 0.5))
    stats = [ffutil.mean_std(s1), ffutil.mean_std(s2)]
    t = transform(fc, stats, [0.25, 0.75], None, 0.6)
    want = 0.25 * ffutil.adain_formula(fc, s1) + 0.75 * ffutil.adain_formula(fc, s2)
    want = 0.6 * want + 0.4 * fc
    assert (t - want).abs().max() < 1e-5


def test_mask_regions_get_their_styles_statistics() -> None:
    g = torch.Generator().manual_seed(2)
    fc = torch.randn(1, 8, 6, 8, generator=g) * 2 + 0.5
    styles = [(torch.randn(1, 8, 1, 1, generator=g), torch.rand(1, 8, 1, 1, generator=g) + 0.5) for _ in range(3)]
    lab = np.zeros((48, 64), np.int64)           # image-size labels; feature grid is 6x8 (÷8)
    lab[:, 24:] = 1                              # columns 3.. of the feature grid
    lab[:16, 40:] = 2                            # rows 0-1, columns 5.. of the feature grid
    labels = im.Labels(lab, [(0, 0, 0), (128, 128, 128), (255, 255, 255)])
    t = transform(fc, styles, [1 / 3] * 3, labels, 1.0)
    owner = torch.zeros(6, 8, dtype=torch.long)
    owner[:, 3:] = 1
    owner[:2, 5:] = 2
    for r, (ms, ss) in enumerate(styles):
        cols = t[0][:, owner == r]                # [C, n]
        x = fc[0][:, owner == r]
        # region columns normalised on their own statistics, then given style r's mean and std
        assert torch.allclose(cols.mean(1), ms.flatten(), atol=1e-5)
        shrink = (x.var(1) / (x.var(1) + 1e-5)).sqrt()  # the eps in the denominator
        assert torch.allclose(cols.std(1), ss.flatten() * shrink, atol=1e-4)


# ----------------------------------------------------------------------------------------------------
# the network, against the published shapes
# ----------------------------------------------------------------------------------------------------

def test_output_equals_published_sequential(W: ffutil.Weights, files: dict[str, Path]) -> None:
    m = method(W)
    prepared = m.prepare(specs(files["style"]))
    s = tensor(files["style"])
    with torch.no_grad():
        fs = ffutil.relu4_1(W.vgg, s)
        for key in ("content", "odd"):
            c = tensor(files[key])
            ref = W.decoder(ffutil.adain_formula(ffutil.relu4_1(W.vgg, c), fs))
            got = m.stylise(c, prepared, None)
            assert got.shape == c.shape
            # odd sizes: the reference returns 8·⌈H/8⌉ rows; ours is its top-left H×W
            assert (got - ref[..., : c.shape[2], : c.shape[3]]).abs().max() < 1e-4


def test_alpha_zero_is_reconstruction_and_blend_weights(W: ffutil.Weights, files: dict[str, Path]) -> None:
    c, s1, s2 = tensor(files["content"]), tensor(files["style"]), tensor(files["style2"])
    with torch.no_grad():
        fc = ffutil.relu4_1(W.vgg, c)
        recon = W.decoder(fc)
        t = 0.3 * ffutil.adain_formula(fc, ffutil.relu4_1(W.vgg, s1)) \
            + 0.7 * ffutil.adain_formula(fc, ffutil.relu4_1(W.vgg, s2))
        blend = W.decoder(0.5 * t + 0.5 * fc)
    m0 = method(W, alpha=0.0)
    assert (m0.stylise(c, m0.prepare(specs(files["style"])), None) - recon).abs().max() < 1e-4
    m = method(W, alpha=0.5)
    got = m.stylise(c, m.prepare(specs(files["style"], files["style2"], weights=(3.0, 7.0))), None)
    assert (got - blend).abs().max() < 1e-4


def test_weights_from_the_cache(W: ffutil.Weights, files: dict[str, Path]) -> None:
    with pytest.raises(PainterlyError, match="painterly weights import vgg-normalised"):
        api.stylize(files["content"], files["style"], "adain", size=0)
    for name in ("vgg-normalised", "adain-decoder"):
        rep = hub.import_file(name, W.paths[name], verify=False)
        assert not rep.verified
    a = api.stylize(files["content"], files["style"], "adain", size=0, device="cpu")
    b = api.stylize(files["content"], files["style"], "adain", size=0, device="cpu", **W.adain_options())
    assert np.array_equal(np.asarray(a), np.asarray(b))


def test_crop_size_and_style_prepared_once(W: ffutil.Weights, files: dict[str, Path]) -> None:
    m = api.make_method("adain", size=48, crop=True, device="cpu", progress=False, **W.adain_options())
    calls = []
    orig = m.prepare
    m.prepare = lambda styles: calls.append(1) or orig(styles)  # type: ignore[method-assign]
    pipe = api.pipeline(m, [files["style"]])
    outs = [pipe(im.load_image(files[k])) for k in ("content", "odd", "content")]
    assert len(calls) == 1
    assert outs[0].image.size == (36, 36)        # 64x48 -> long side 48 = 48x36 -> centre square
    assert np.array_equal(np.asarray(outs[0].image), np.asarray(outs[2].image))


def test_preserve_color(W: ffutil.Weights, files: dict[str, Path]) -> None:
    c = tensor(files["content"])
    lum = api.stylize(files["content"], files["style"], "adain", size=0, preserve_color="luminance",
                      **W.adain_options())
    yiq_out, yiq_c = torch.from_numpy(im.rgb_to(im.to_array(lum))), torch.from_numpy(im.rgb_to(c.numpy()))
    assert (yiq_out[:, 1:] - yiq_c[:, 1:]).abs().mean() < 0.02   # chroma is the content's
    hist = api.stylize(files["content"], files["style"], "adain", size=0, preserve_color="histogram",
                       **W.adain_options())
    plain = api.stylize(files["content"], files["style"], "adain", size=0, **W.adain_options())
    assert not np.array_equal(np.asarray(hist), np.asarray(plain))


# ----------------------------------------------------------------------------------------------------
# CLI and errors
# ----------------------------------------------------------------------------------------------------

def test_cli_stylize_mask_and_errors(W: ffutil.Weights, files: dict[str, Path], tmp_path: Path) -> None:
    env = ffutil.cli_env()
    mask = tmp_path / "mask.png"
    lab = np.zeros((48, 64, 3), np.uint8)
    lab[:, 32:] = 255
    Image.fromarray(lab).save(mask)
    out = tmp_path / "out.png"
    p = run_cli("stylize", files["content"], "--style", files["style"], "--style", files["style2"], "--mask",
                mask, "--method", "adain", "--size", "0", "--alpha", "0.8", "-o", out, "-q", env=env)
    assert p.returncode == 0, p.stderr
    assert Image.open(out).size == (64, 48)

    # three regions, two styles
    lab[:, :16] = 128
    Image.fromarray(lab).save(mask)
    bad = tmp_path / "bad.png"
    p = run_cli("stylize", files["content"], "--style", files["style"], "--style", files["style2"], "--mask",
                mask, "--method", "adain", "-o", bad, "-q", env=env)
    assert_one_line_error(p, "3 regions")
    assert not bad.exists()

    # a foreign checkpoint (torchvision VGG) given as the decoder
    foreign = tmp_path / "foreign.pth"
    torch.save(random_state_dict({k: v for k, v in list(torchvision_layout().items())[:4]}), foreign)
    p = run_cli("stylize", files["content"], "--style", files["style"], "--method", "adain", "--weights",
                foreign, "-o", bad, "-q", env=env)
    assert_one_line_error(p, "wrong layout")
    assert not bad.exists()
    assert not list(tmp_path.glob("*.part*"))


def test_bad_options(W: ffutil.Weights, files: dict[str, Path]) -> None:
    with pytest.raises(PainterlyError, match="--alpha"):
        method(W, alpha=1.5)
    with pytest.raises(PainterlyError, match="does not apply"):
        method(W, strength=0.5)
    with pytest.raises(PainterlyError, match="--crop cannot"):
        method(W, crop=True, preserve_color="luminance")
    with pytest.raises(PainterlyError, match="--backend onnx"):
        method(W, weights="model.onnx")
    with pytest.raises(PainterlyError, match="at least 16 px"):
        api.stylize(files["content"], files["style"], "adain", size=12, **W.adain_options())
