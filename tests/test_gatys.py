"""Gatys method: losses against hand formulas computed independently from VGG features, presets, options,
optimisers, multi-scale, interrupts and the CLI — on tiny images with random VGG weights."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from conftest import assert_one_line_error, noise_image, run_cli, smooth_image
from painterly.nn.convert import to_pil, to_tensor
from painterly import api
from painterly import image as im
from painterly.errors import PainterlyError
from painterly.methods.gatys import PRESETS, parse_layers, stage_sizes, stage_steps, step_path
from painterly.nn.vgg import VGG19

STYLE5 = ["relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"]
# conftest's random Caffe VGG scales its first layer by 1/255, so its features are ~255x smaller than the real
# network's and Gram losses far smaller; this style weight puts the style term back at a realistic scale
# (with 100, L-BFGS's curvature pairs fall under its 1e-10 threshold and it barely moves).
SW = 1e10


@pytest.fixture(autouse=True)
def _threads() -> None:
    torch.set_num_threads(1)


@pytest.fixture
def setup(tmp_path: Path, random_vgg_file: Callable[..., Path]) -> dict[str, Path]:
    return {
        "weights": random_vgg_file("caffe"),
        "content": smooth_image(tmp_path / "c.png", (48, 32), 1),
        "style": smooth_image(tmp_path / "s.png", (48, 40), 2),      # long side 48: no resize needed
        "style2": noise_image(tmp_path / "s2.png", (40, 48), 3),
        "x": noise_image(tmp_path / "x.png", (48, 32), 4),           # the image whose loss we check
    }


def run(s: dict[str, Path], style: object = None, **kw: object) -> api.Result:
    opts = {"weights": str(s["weights"]), "size": 0, "progress": False, **kw}
    return api.stylize_report(s["content"], style if style is not None else s["style"], "gatys", **opts)


# -- independent reference: VGG19.forward on RGB + hand-written Gram / MSE / TV -------------------------

def ref_features(weights: Path, img: torch.Tensor, taps: list[str]) -> dict[str, torch.Tensor]:
    vgg = VGG19("caffe", "max", "relu5_2").load_published(torch.load(weights, weights_only=True))
    with torch.no_grad():
        return vgg(img, list(dict.fromkeys(taps)))


def t(path: Path) -> torch.Tensor:
    return to_tensor(Image.open(path).convert("RGB"))


def hand_gram(f: torch.Tensor, div: str) -> torch.Tensor:
    _, c, h, w = f.shape
    g = torch.einsum("nchw,ndhw->ncd", f, f)
    return g / (c * h * w) if div == "chw" else g / (h * w)


def mse(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(((a - b) ** 2).mean())


def hand_tv_l1(x: torch.Tensor) -> float:
    y = x * 255.0
    return float((y[..., 1:, :] - y[..., :-1, :]).abs().sum() + (y[..., :, 1:] - y[..., :, :-1]).abs().sum())


def test_neural_style_loss_matches_hand_formula(setup: dict[str, Path]) -> None:
    r = run(setup, init=str(setup["x"]), steps=0)
    x, c, s = t(setup["x"]), t(setup["content"]), t(setup["style"])
    fx, fc, fs = (ref_features(setup["weights"], i, ["relu4_2", *STYLE5]) for i in (x, c, s))
    content = 5.0 * mse(fx["relu4_2"], fc["relu4_2"])
    style = 100.0 * sum(mse(hand_gram(fx[n], "chw"), hand_gram(fs[n], "chw")) for n in STYLE5)
    tv = 1e-3 * hand_tv_l1(x)
    got = r.info["losses"]["final"]
    assert got["content"] == pytest.approx(content, rel=1e-4)
    assert got["style"] == pytest.approx(style, rel=1e-4)
    assert got["tv"] == pytest.approx(tv, rel=1e-4)
    assert got["total"] == pytest.approx(content + style + tv, rel=1e-4)
    assert r.info["gram"] == "F·Fᵀ/(C·H·W)" and r.info["preset"] == "neural-style"
    assert "L1" in r.info["tv"]


def test_gatys_paper_loss_and_layer_weights(setup: dict[str, Path]) -> None:
    r = run(setup, preset="gatys-paper", init=str(setup["x"]), steps=0,
            content_layers="relu4_2:1,relu5_2:0.5", style_layers="relu1_1:2,relu3_1")
    x, c, s = t(setup["x"]), t(setup["content"]), t(setup["style"])
    fx, fc, fs = (ref_features(setup["weights"], i, ["relu4_2", "relu5_2", "relu1_1", "relu3_1"]) for i in (x, c, s))
    content = 1.0 * (mse(fx["relu4_2"], fc["relu4_2"]) + 0.5 * mse(fx["relu5_2"], fc["relu5_2"]))
    style = 1e3 * sum(w / fx[n].shape[1] ** 2 * mse(hand_gram(fx[n], "hw"), hand_gram(fs[n], "hw"))
                      for n, w in (("relu1_1", 2.0), ("relu3_1", 1.0)))
    got = r.info["losses"]["final"]
    assert got["content"] == pytest.approx(content, rel=1e-4)
    assert got["style"] == pytest.approx(style, rel=1e-4)
    assert got["tv"] == 0.0
    assert r.info["gram"] == "F·Fᵀ/(H·W)" and r.info["style_layer_scale"] == "1/C²"


def test_style_size_rescales_the_style(setup: dict[str, Path]) -> None:
    r = run(setup, init=str(setup["x"]), steps=0, style_size=24, content_weight=0.0, tv_weight=0.0)
    small = to_tensor(im.resize_long(Image.open(setup["style"]).convert("RGB"), 24))
    fx, fs = (ref_features(setup["weights"], i, STYLE5) for i in (t(setup["x"]), small))
    want = 100.0 * sum(mse(hand_gram(fx[n], "chw"), hand_gram(fs[n], "chw")) for n in STYLE5)
    assert r.info["losses"]["final"]["style"] == pytest.approx(want, rel=1e-4)


def test_presets_state_their_normalisation() -> None:
    ns, gp = PRESETS["neural-style"], PRESETS["gatys-paper"]
    assert (ns.gram_norm, ns.layer_scale, ns.content_weight, ns.style_weight, ns.tv_weight, ns.tv_kind) == \
        ("chw", "one", 5.0, 100.0, 1e-3, "l1")
    assert (ns.steps, ns.optimizer, ns.vgg, ns.init) == (1000, "lbfgs", "caffe", "content")
    assert parse_layers(ns.content_layers, "c") == (("relu4_2", 1.0),)
    assert parse_layers(ns.style_layers, "s") == tuple((n, 1.0) for n in STYLE5)
    assert (gp.gram_norm, gp.layer_scale, gp.content_weight, gp.style_weight, gp.steps) == \
        ("hw", "inv_c2", 1.0, 1e3, 500)


def test_layer_parsing() -> None:
    assert parse_layers("relu4_2:1,relu5_2:0.5", "x") == (("relu4_2", 1.0), ("relu5_2", 0.5))
    assert parse_layers(" relu1_1 , conv4_2:2 ", "x") == (("relu1_1", 1.0), ("conv4_2", 2.0))
    assert parse_layers(["relu3_1", "relu4_1:0"], "x") == (("relu3_1", 1.0), ("relu4_1", 0.0))
    for bad, needle in [("relu9_1", "unknown VGG-19 layer"), ("relu4_2:x", "not a number"),
                        ("relu4_2:-1", "non-negative"), ("relu4_2,relu4_2", "twice"), ("", "at least one")]:
        with pytest.raises(PainterlyError, match=needle):
            parse_layers(bad, "style-layers")


def test_style_blend_is_weighted_sum_of_grams(setup: dict[str, Path]) -> None:
    r = run(setup, [(setup["style"], 7.0), (setup["style2"], 3.0)], init=str(setup["x"]), steps=0,
            content_weight=0.0, tv_weight=0.0)
    x = t(setup["x"])
    s2 = to_tensor(im.resize_long(Image.open(setup["style2"]).convert("RGB"), 48))
    fx, f1, f2 = (ref_features(setup["weights"], i, STYLE5) for i in (x, t(setup["style"]), s2))
    want = 100.0 * sum(mse(hand_gram(fx[n], "chw"), 0.7 * hand_gram(f1[n], "chw") + 0.3 * hand_gram(f2[n], "chw"))
                       for n in STYLE5)
    assert r.info["losses"]["final"]["style"] == pytest.approx(want, rel=1e-4)
    # and it is not just one of the two styles
    only1 = 100.0 * sum(mse(hand_gram(fx[n], "chw"), hand_gram(f1[n], "chw")) for n in STYLE5)
    assert abs(only1 - want) > 1e-3 * want


def test_mask_guided_gram(setup: dict[str, Path], tmp_path: Path) -> None:
    m = np.zeros((32, 48, 3), np.uint8)
    m[:, 20:] = 255                         # region 0 (black) left, region 1 (white) right
    Image.fromarray(m).save(tmp_path / "mask.png")
    r = api.stylize_report(setup["content"], [setup["style"], setup["style2"]], "gatys", mask=tmp_path / "mask.png",
                           weights=str(setup["weights"]), size=0, progress=False, init=str(setup["x"]), steps=0,
                           content_weight=0.0, tv_weight=0.0)
    x = t(setup["x"])
    s2 = to_tensor(im.resize_long(Image.open(setup["style2"]).convert("RGB"), 48))
    fx, f1, f2 = (ref_features(setup["weights"], i, STYLE5) for i in (x, t(setup["style"]), s2))
    region = torch.zeros(2, 1, 32, 48)
    region[0, :, :, :20] = 1
    region[1, :, :, 20:] = 1
    want = 0.0
    for n in STYLE5:
        f = fx[n][0]
        c, h, w = f.shape
        masks = F.interpolate(region, size=(h, w), mode="area")[:, 0]
        for rr, target in ((0, f1[n]), (1, f2[n])):
            fm = (f * masks[rr]).reshape(c, -1)
            g = fm @ fm.T / (c * (masks[rr] ** 2).sum())
            want += float(masks[rr].mean()) * mse(g[None], hand_gram(target, "chw"))
    assert r.info["losses"]["final"]["style"] == pytest.approx(100.0 * want, rel=1e-4)


def test_style_weight_zero_keeps_content(setup: dict[str, Path]) -> None:
    r = run(setup, style_weight=0.0, tv_weight=0.0, steps=5)
    diff = np.abs(np.asarray(r.image, np.int16) - np.asarray(Image.open(setup["content"]).convert("RGB"), np.int16))
    assert diff.max() <= 1


@pytest.mark.parametrize("optimizer", ["lbfgs", "adam"])
def test_optimisers_lower_the_loss(setup: dict[str, Path], optimizer: str) -> None:
    seen: list[int] = []
    r = run(setup, optimizer=optimizer, steps=12, style_weight=SW,
            callback=lambda step, total, info: seen.append(step))
    losses = r.info["losses"]
    assert losses["final"]["total"] < 0.8 * losses["initial"]["total"], losses
    assert seen == list(range(1, 13)) and r.info["evaluations"] == 12


def test_lbfgs_counts_function_evaluations(setup: dict[str, Path]) -> None:
    calls: list[tuple[int, int]] = []
    r = run(setup, steps=7, style_weight=SW, callback=lambda step, total, info: calls.append((step, total)))
    assert calls == [(i, 7) for i in range(1, 8)]
    assert r.info["evaluations"] == 7 and r.info["stages"] == [{"size": [48, 32], "steps": 7, "evaluations": 7}]
    # the image returned is the best evaluated iterate (L-BFGS without line search may spike)
    assert r.info["losses"]["final"]["total"] == pytest.approx(r.info["losses"]["best"]["total"], rel=1e-5)


def test_same_seed_same_output(setup: dict[str, Path]) -> None:
    a = run(setup, init="noise", seed=3, steps=4, style_weight=SW)
    b = run(setup, init="noise", seed=3, steps=4, style_weight=SW)
    c = run(setup, init="noise", seed=4, steps=4, style_weight=SW)
    assert np.array_equal(np.asarray(a.image), np.asarray(b.image))
    assert a.info["losses"]["final"] == b.info["losses"]["final"]
    assert not np.array_equal(np.asarray(a.image), np.asarray(c.image))


def test_init_from_image(setup: dict[str, Path]) -> None:
    r = run(setup, init=str(setup["x"]), steps=0)
    assert np.abs(np.asarray(r.image, np.int16) - np.asarray(Image.open(setup["x"]), np.int16)).max() <= 1
    with pytest.raises(PainterlyError, match="--init must be content, noise or an image file"):
        run(setup, init="nowhere.png")


def test_save_every_writes_intermediates(setup: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "res" / "out.png"
    r = run(setup, steps=4, save_every=2, save_path=str(out), style_weight=SW)
    assert step_path(out, 2).name == "out.step0002.png"
    assert sorted(p.name for p in out.parent.iterdir()) == ["out.step0002.png", "out.step0004.png"]
    assert Image.open(step_path(out, 4)).size == (48, 32)
    assert r.info["intermediate_images"] == [str(step_path(out, 2)), str(step_path(out, 4))]
    with pytest.raises(PainterlyError, match="--save-every needs an output path"):
        run(setup, save_every=2)


def test_interrupt_returns_best_so_far(setup: dict[str, Path]) -> None:
    totals: list[float] = []

    def stop(step: int, total: int, info: dict[str, float]) -> None:
        totals.append(info["total"])
        if step == 4:
            raise KeyboardInterrupt

    r = run(setup, steps=50, style_weight=SW, tv_weight=0.0, callback=stop)
    assert r.info["interrupted"] is True and r.info["evaluations"] == 4
    assert r.image.size == (48, 32)
    # the image returned is the best evaluated one: its loss is the best of the four evaluations
    assert r.info["losses"]["best"]["total"] == pytest.approx(min(totals), rel=1e-6)
    assert r.info["losses"]["final"]["total"] == pytest.approx(min(totals), rel=1e-4)


def test_multiscale_stages_and_budget(setup: dict[str, Path]) -> None:
    assert stage_sizes(1024, True, 256) == [256, 512, 1024]
    assert stage_sizes(2048, True, 256) == [256, 512, 1024, 2048]
    assert stage_sizes(600, True, 256) == [300, 600]
    assert stage_sizes(1024, False, 256) == [1024]
    steps = stage_steps(1000, 3, 0.5)
    assert sum(steps) == 1000 and steps[0] > steps[1] > steps[2] > 0
    r = run(setup, size=64, steps=9, multiscale=True, multiscale_start=32, style_weight=SW, ema=0.5)
    assert [s["size"] for s in r.info["stages"]] == [[32, 22], [64, 43]]
    assert [s["steps"] for s in r.info["stages"]] == [6, 3] and r.info["evaluations"] == 9
    assert r.image.size == (64, 43)


def test_colour_preservation_with_gatys(setup: dict[str, Path]) -> None:
    r = run(setup, steps=3, style_weight=SW, preserve_color="luminance")
    out = torch.from_numpy(im.rgb_to(im.to_array(r.image)))
    con = torch.from_numpy(im.rgb_to(t(setup["content"]).numpy()))
    inside = ((to_tensor(r.image) > 2 / 255) & (to_tensor(r.image) < 253 / 255)).all(1)[0]
    assert (out[0, 1:] - con[0, 1:]).abs()[:, inside].max() < 2.5 / 255
    run(setup, steps=2, style_weight=SW, preserve_color="histogram")


def test_other_conventions_and_pooling(setup: dict[str, Path], random_vgg_file: Callable[..., Path]) -> None:
    r = run(setup, steps=2, pooling="avg", style_weight=SW)
    assert r.info["evaluations"] == 2
    tv = random_vgg_file("torchvision", seed=1)
    r = run(setup, steps=2, vgg="torchvision", weights=str(tv), style_weight=SW)
    assert r.info["vgg"] == "torchvision"


def test_bad_options(setup: dict[str, Path]) -> None:
    for kw, needle in [({"optimizer": "sgd"}, "--optimizer"), ({"preset": "monet"}, "unknown --preset"),
                       ({"pooling": "min"}, "--pooling"), ({"vgg": "normalised"}, "--vgg"),
                       ({"style_weight": -1.0}, "--style-weight"), ({"lr": 0.0}, "--lr"),
                       ({"alpha": 0.5}, "does not apply to --method gatys")]:
        with pytest.raises(PainterlyError, match=needle):
            run(setup, **kw)


# -- CLI ---------------------------------------------------------------------------------------------

@pytest.mark.slow
def test_cli_end_to_end_json(setup: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "out.png"
    proc = run_cli("stylize", setup["content"], "--style", f"{setup['style']}:0.6", "--style", setup["style2"],
                   "--method", "gatys", "--weights", setup["weights"], "--size", "40", "--steps", "4",
                   "--style-weight", "1e10", "--content-layers", "relu4_2:1,relu5_1:0.5", "--init", "noise",
                   "--seed", "1", "--save-every", "2", "--json", "-q", "-o", out)
    assert proc.returncode == 0, proc.stderr
    rep = json.loads(proc.stdout)
    assert rep["method"] == "gatys" and rep["size"] == [40, 27] and rep["output"] == str(out)
    assert rep["steps"] == 4 and rep["evaluations"] == 4 and rep["preset"] == "neural-style"
    assert rep["gram"] == "F·Fᵀ/(C·H·W)" and set(rep["losses"]["final"]) == {"content", "style", "tv", "total"}
    assert out.exists() and step_path(out, 2).exists() and step_path(out, 4).exists()


@pytest.mark.slow
def test_cli_missing_weights_one_line(setup: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "out.png"
    proc = run_cli("stylize", setup["content"], "--style", setup["style"], "--method", "gatys", "--steps", "2",
                   "-o", out)
    assert_one_line_error(proc, "vgg19-d01eb7cb.pth", "https://", "painterly weights import vgg19-caffe")
    assert proc.returncode == 2 and not out.exists()
    proc = run_cli("stylize", setup["content"], "--style", setup["style"], "--method", "gatys", "--vgg",
                   "torchvision", "--optimizer", "adam", "-o", out)
    assert_one_line_error(proc, "painterly weights import vgg19 ")
    assert not out.exists()
