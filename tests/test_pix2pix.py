"""pix2pix: networks (shapes, receptive field, reference key layout), checkpoints, data, metrics,
training, translate/evaluate CLI, ONNX export and every user error. Tiny nets (ngf 8) and images."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import assert_one_line_error, run_cli
from painterly.errors import PainterlyError
from painterly.methods import pix2pix as p2p
from painterly.methods.pix2pix import PairedConfig, PairedDataset

torch.set_num_threads(1)


def gen(netG: str, norm: str = "batch", ngf: int = 8, **kw: object) -> torch.nn.Module:
    torch.manual_seed(0)
    return p2p.build_generator(p2p.GeneratorOptions(netG=netG, norm=norm, ngf=ngf, **kw))


def pair_image(path: Path, size: int = 32, seed: int = 0, width: int | None = None) -> Path:
    """A|B pair: A is smooth colour, B = 1 - A (an easy mapping to learn)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] / size
    a = np.stack([0.5 + 0.5 * np.sin(rng.uniform(1, 6) * xx + rng.uniform(1, 6) * yy + c) for c in range(3)], -1)
    ab = np.concatenate([a, 1 - a], 1)
    img = Image.fromarray((ab * 255).astype(np.uint8))
    if width is not None:
        img = img.resize((width, size))
    img.save(path)
    return path


def pair_folder(root: Path, n: int = 4, size: int = 32) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        pair_image(root / f"{i}.png", size, seed=i)
    return root


# ----------------------------------------------------------------------------------------------------
# networks
# ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("netG", "size"), [("unet_256", 256), ("unet_128", 128), ("unet_128", 256),
                                            ("resnet_9blocks", 128), ("resnet_9blocks", 256)])
@pytest.mark.parametrize("norm", ["batch", "instance", "none"])
def test_generator_shapes(netG: str, size: int, norm: str) -> None:
    G = gen(netG, norm).eval()
    with torch.no_grad():
        y = G(torch.randn(1, 3, size, size))
    assert y.shape == (1, 3, size, size)
    assert y.abs().max() <= 1  # tanh


@pytest.mark.parametrize("netG", p2p.GENERATORS)
@pytest.mark.parametrize("hw", [(37, 53), (200, 300)])
def test_translate_pads_odd_sizes(netG: str, hw: tuple[int, int]) -> None:
    G = gen(netG).eval()
    opts = p2p.GeneratorOptions(netG=netG)
    y = p2p.translate_tensor(G, torch.rand(1, 3, *hw) * 2 - 1, opts.multiple)
    assert y.shape == (1, 3, *hw)


def test_pad_to_multiple() -> None:
    x = torch.arange(15.0).reshape(1, 1, 3, 5)
    xp, hw = p2p.pad_to_multiple(x, 4)
    assert xp.shape == (1, 1, 4, 8) and hw == (3, 5)
    assert torch.equal(xp[..., :3, :5], x)
    assert torch.equal(xp[..., 3, :5], x[..., 1, :])  # reflection about the last row
    big, _ = p2p.pad_to_multiple(x, 256)  # pad larger than the image: replicate
    assert big.shape == (1, 1, 256, 256)


@pytest.mark.parametrize(("netD", "n_layers", "size", "out"), [
    ("basic", 3, 256, 30), ("basic", 3, 128, 14), ("n_layers", 1, 128, 62), ("n_layers", 5, 256, 6),
    ("pixel", 3, 128, 128), ("pixel", 3, 256, 256)])
def test_discriminator_shapes(netD: str, n_layers: int, size: int, out: int) -> None:
    D = p2p.build_discriminator(p2p.DiscriminatorOptions(netD=netD, n_layers=n_layers, ndf=8))
    y = D(torch.randn(1, 6, size, size))
    assert y.shape == (1, 1, out, out)


def _receptive_field(D: torch.nn.Module, size: int = 160) -> tuple[int, int]:
    """Extent (rows, cols) of the input pixels that influence one output logit in the middle."""
    x = torch.randn(1, 6, size, size, requires_grad=True)
    y = D(x)
    y[0, 0, y.shape[2] // 2, y.shape[3] // 2].backward()
    nz = (x.grad.abs().sum((0, 1)) > 0).nonzero()
    return int(nz[:, 0].max() - nz[:, 0].min() + 1), int(nz[:, 1].max() - nz[:, 1].min() + 1)


@pytest.mark.parametrize(("netD", "n_layers", "rf"), [("basic", 3, 70), ("n_layers", 1, 16),
                                                       ("n_layers", 2, 34), ("pixel", 3, 1)])
def test_patchgan_receptive_field(netD: str, n_layers: int, rf: int) -> None:
    # norm none: batch statistics would couple every pixel; eval mode BN would also do
    torch.manual_seed(0)
    D = p2p.build_discriminator(p2p.DiscriminatorOptions(netD=netD, n_layers=n_layers, ndf=4, norm="none"))
    assert _receptive_field(D) == (rf, rf)


def test_init_statistics() -> None:
    G = gen("unet_256", ngf=16)
    w = torch.cat([m.weight.detach().flatten() for m in G.modules() if isinstance(m, (torch.nn.Conv2d,
                                                                             torch.nn.ConvTranspose2d))])
    assert abs(float(w.mean())) < 1e-3 and abs(float(w.std()) - 0.02) < 1e-3
    bn = torch.cat([m.weight.detach() for m in G.modules() if isinstance(m, torch.nn.BatchNorm2d)])
    assert abs(float(bn.mean()) - 1) < 0.01 and float(bn.std()) < 0.04


def test_dropout_only_in_inner_decoder_blocks() -> None:
    # unet_256: the paper's CD512 x3 — three Dropout(0.5) modules; unet_128 has two (reference)
    for netG, n in (("unet_256", 3), ("unet_128", 2)):
        drops = [m for m in gen(netG).modules() if isinstance(m, torch.nn.Dropout)]
        assert len(drops) == n and all(d.p == 0.5 for d in drops)
        assert not [m for m in gen(netG, dropout=False).modules() if isinstance(m, torch.nn.Dropout)]


# ----------------------------------------------------------------------------------------------------
# reference key layout, independently written from the reference's module structure:
#   UnetGenerator.model = outermost block; each block's .model is a Sequential:
#   outermost [conv, sub, relu, convT(bias), tanh]; middle [lrelu, conv, bn, sub, relu, convT, bn(, drop)];
#   innermost [lrelu, conv, relu, convT, bn]; convs have no bias under batch norm.
# ----------------------------------------------------------------------------------------------------

def reference_unet_layout(levels: int, ngf: int = 64) -> dict[str, tuple[int, ...]]:
    chans = [(3, ngf), (ngf, 2 * ngf), (2 * ngf, 4 * ngf), (4 * ngf, 8 * ngf)] + [(8 * ngf, 8 * ngf)] * (levels - 4)
    out: dict[str, tuple[int, ...]] = {}

    def bn(key: str, c: int) -> None:
        for k in ("weight", "bias", "running_mean", "running_var"):
            out[f"{key}.{k}"] = (c,)
        out[f"{key}.num_batches_tracked"] = ()

    prefix = "model.model."
    out[prefix + "0.weight"] = (ngf, 3, 4, 4)
    out[prefix + "3.weight"] = (2 * ngf, 3, 4, 4)
    out[prefix + "3.bias"] = (3,)
    for lvl in range(1, levels):
        prefix += "1.model." if lvl == 1 else "3.model."
        outer, inner = chans[lvl]
        out[prefix + "1.weight"] = (inner, outer, 4, 4)
        if lvl == levels - 1:  # innermost
            out[prefix + "3.weight"] = (inner, outer, 4, 4)
            bn(prefix + "4", outer)
        else:
            bn(prefix + "2", inner)
            out[prefix + "5.weight"] = (2 * inner, outer, 4, 4)
            bn(prefix + "6", outer)
    return out


@pytest.mark.parametrize(("netG", "levels"), [("unet_256", 8), ("unet_128", 7)])
def test_reference_layout_matches(netG: str, levels: int) -> None:
    ref = reference_unet_layout(levels, ngf=64)
    assert "model.model.1.model.2.weight" in ref  # the key the reference files are known to have
    assert p2p.generator_layout(p2p.GeneratorOptions(netG=netG)) == ref


def _random_reference_file(tmp_path: Path, levels: int = 8, ngf: int = 8, old: bool = False) -> Path:
    g = torch.Generator().manual_seed(1)
    sd = {}
    for k, shape in reference_unet_layout(levels, ngf).items():
        if k.endswith("num_batches_tracked"):
            if not old:  # PyTorch < 0.4.1 files (the published facades_label2photo.pth era) lack these
                sd[k] = torch.tensor(0)
        elif k.endswith("running_var"):
            sd[k] = torch.rand(shape, generator=g) + 0.5
        else:
            sd[k] = torch.randn(shape, generator=g) * 0.05
    p = tmp_path / "latest_net_G.pth"
    torch.save(sd, p)
    return p


@pytest.mark.parametrize("old", [False, True])
def test_reference_state_dict_loads(tmp_path: Path, old: bool) -> None:
    f = _random_reference_file(tmp_path, old=old)
    G, opts = p2p.load_generator(f, netG="unet_256", norm="batch", ngf=8)
    sd = torch.load(f, weights_only=True)
    for k, v in sd.items():
        assert torch.equal(G.state_dict()[k], v), k
    assert opts.netG == "unet_256" and opts.dropout


def test_reference_state_dict_wrong_options(tmp_path: Path) -> None:
    f = _random_reference_file(tmp_path)
    with pytest.raises(PainterlyError, match="wrong layout"):
        p2p.load_generator(f, netG="unet_128", norm="batch", ngf=8)
    with pytest.raises(PainterlyError, match="--netG and --norm"):
        p2p.load_generator(f)
    proc = run_cli("translate", str(pair_image(tmp_path / "x.png", 32)), "--checkpoint", str(f),
                   "--netG", "unet_256", "--norm", "instance", "--ngf", "8", "-o", str(tmp_path / "o.png"))
    assert_one_line_error(proc, "wrong layout", "--norm")
    assert not (tmp_path / "o.png").exists()


def test_checkpoint_round_trip(tmp_path: Path) -> None:
    opts = p2p.GeneratorOptions(netG="resnet_9blocks", norm="instance", ngf=8, dropout=False, direction="BtoA",
                                crop_size=64)
    G = p2p.build_generator(opts).eval()
    torch.save(p2p.generator_checkpoint(G, opts), tmp_path / "g.pt")
    G2, opts2 = p2p.load_generator(tmp_path / "g.pt")
    assert opts2 == opts
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(G(x), G2.eval()(x))
    with pytest.raises(PainterlyError, match="trained with --netG resnet_9blocks"):
        p2p.load_generator(tmp_path / "g.pt", netG="unet_256")


def test_train_mode_inference_keeps_running_stats() -> None:
    G = gen("unet_128")
    before = {k: v.clone() for k, v in G.state_dict().items()}
    p2p.set_mode(G, eval_mode=False)
    torch.manual_seed(0)
    a = p2p.translate_tensor(G, torch.randn(1, 3, 128, 128), 128)
    torch.manual_seed(0)
    b = p2p.translate_tensor(G, torch.randn(1, 3, 128, 128), 128)
    assert torch.equal(a, b)  # same seed, same dropout
    assert all(torch.equal(before[k], v) for k, v in G.state_dict().items())


# ----------------------------------------------------------------------------------------------------
# metrics against hand-computed values
# ----------------------------------------------------------------------------------------------------

def test_l1_psnr_by_hand() -> None:
    a = torch.zeros(1, 3, 4, 4)
    b = torch.full((1, 3, 4, 4), 0.1)
    assert p2p.l1(a, b) == pytest.approx(0.1)
    assert p2p.psnr(a, b) == pytest.approx(20.0)  # MSE 0.01 → 10·log10(1/0.01)
    b[..., 0, 0] = 0.5  # per channel: MSE = (15·0.01 + 0.25)/16 = 0.025 → 16.02 dB
    assert p2p.psnr(a, b) == pytest.approx(10 * math.log10(16 / (15 * 0.01 + 0.25)))
    assert p2p.psnr(a, a) == math.inf


def test_ssim_by_hand() -> None:
    assert p2p.ssim(torch.rand(1, 3, 20, 20), torch.rand(1, 3, 20, 20)) < 0.5
    x = torch.rand(1, 3, 20, 20)
    assert p2p.ssim(x, x) == pytest.approx(1.0)
    # constant images: variances and covariance vanish, SSIM = (2ab + C1)/(a² + b² + C1)
    a, b, c1 = 0.2, 0.6, 0.01 ** 2
    got = p2p.ssim(torch.full((1, 1, 16, 16), a, dtype=torch.float64),
                   torch.full((1, 1, 16, 16), b, dtype=torch.float64))
    assert got == pytest.approx((2 * a * b + c1) / (a * a + b * b + c1), rel=1e-9)
    # y = 1 - x: mean terms as above per window, and the structure term is negative
    assert p2p.ssim(x, 1 - x) < 0.1


def test_ssim_matches_scikit_image() -> None:
    metrics = pytest.importorskip("skimage.metrics")
    g = torch.Generator().manual_seed(0)
    a = torch.rand(1, 3, 40, 33, generator=g)
    b = (a + 0.2 * torch.randn(1, 3, 40, 33, generator=g)).clamp(0, 1)
    ref = metrics.structural_similarity(a[0].permute(1, 2, 0).double().numpy(), b[0].permute(1, 2, 0).double().numpy(),
                                        gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                        data_range=1.0, channel_axis=2)
    assert p2p.ssim(a, b) == pytest.approx(ref, abs=1e-10)


# ----------------------------------------------------------------------------------------------------
# data
# ----------------------------------------------------------------------------------------------------

def test_aligned_pairs_and_direction(tmp_path: Path) -> None:
    root = pair_folder(tmp_path / "d", n=2, size=32)
    ab = PairedDataset(root, PairedConfig(direction="AtoB", load_size=0, crop_size=32, flip=False))
    ba = PairedDataset(root, PairedConfig(direction="BtoA", load_size=0, crop_size=32, flip=False))
    a, b = ab[(0, 0)]
    assert a.shape == (3, 32, 32) and a.min() >= -1 and a.max() <= 1
    assert torch.allclose(a, -b, atol=2 / 255 * 2)  # B = 1 - A in [0,1] → B = -A in [-1,1]
    b2, a2 = ba[(0, 0)]
    assert torch.equal(a, a2) and torch.equal(b, b2)


def test_random_crop_flip_same_for_both(tmp_path: Path) -> None:
    root = pair_folder(tmp_path / "d", n=1, size=32)
    ds = PairedDataset(root, PairedConfig(load_size=36, crop_size=24))
    crops = [ds[(0, s)] for s in range(8)]
    for a, b in crops:
        assert a.shape == (3, 24, 24)
        assert torch.allclose(a, -b, atol=0.1)  # the target was cropped/flipped like the input
    assert len({tuple(a.flatten()[:5].tolist()) for a, _ in crops}) > 1  # seeds → different crops
    assert torch.equal(ds[(0, 3)][0], ds[(0, 3)][0])  # same seed → same crop


def test_ab_folders_paired_by_name(tmp_path: Path) -> None:
    for side, val in (("A", 50), ("B", 200)):
        (tmp_path / side).mkdir()
        for name in ("x", "y"):
            Image.new("RGB", (16, 16), (val, val, val)).save(tmp_path / side / f"{name}.png")
    ds = PairedDataset(tmp_path, PairedConfig(load_size=0, crop_size=16))
    assert len(ds) == 2
    a, b = ds[(1, 0)]
    assert float(a.mean()) == pytest.approx(50 / 255 * 2 - 1, abs=1e-6)
    assert float(b.mean()) == pytest.approx(200 / 255 * 2 - 1, abs=1e-6)


def test_data_errors(tmp_path: Path) -> None:
    pair_image(tmp_path / "odd" / "o.png", 16, width=31) if (tmp_path / "odd").mkdir() is None else None
    with pytest.raises(PainterlyError, match="odd|even width") as e:
        PairedDataset(tmp_path / "odd", PairedConfig(load_size=0, crop_size=8))[(0, 0)]
    assert "o.png" in str(e.value)
    small = pair_folder(tmp_path / "small", 1, 16)
    with pytest.raises(PainterlyError, match="larger than the image") as e:
        PairedDataset(small, PairedConfig(load_size=0, crop_size=32))[(0, 0)]
    assert "0.png" in str(e.value)
    with pytest.raises(PainterlyError, match="larger than the load size"):
        PairedDataset(small, PairedConfig(load_size=32, crop_size=64))
    (tmp_path / "un" / "A").mkdir(parents=True)
    (tmp_path / "un" / "B").mkdir()
    Image.new("RGB", (8, 8)).save(tmp_path / "un" / "A" / "1.png")
    Image.new("RGB", (8, 8)).save(tmp_path / "un" / "B" / "2.png")
    with pytest.raises(PainterlyError, match="unpaired file .*1.png"):
        PairedDataset(tmp_path / "un")
    (tmp_path / "empty").mkdir()
    with pytest.raises(PainterlyError, match="no image files"):
        PairedDataset(tmp_path / "empty")


# ----------------------------------------------------------------------------------------------------
# training
# ----------------------------------------------------------------------------------------------------

def _tiny_cfg(data: Path, **kw: object) -> p2p.Pix2PixConfig:
    g = p2p.GeneratorOptions(netG="resnet_9blocks", ngf=8, crop_size=32)
    d = {"netD": "basic", "n_layers": 3, "norm": "batch", "ndf": 8, "input_nc": 6}
    base = {"data": str(data), "generator": g.to_dict(), "discriminator": d, "load_size": 36, "crop_size": 32,
            "epochs": 1, "epochs_decay": 1, "sample_count": 2}
    return p2p.Pix2PixConfig(**{**base, **kw})


def test_training_steps_lower_l1(tmp_path: Path) -> None:
    from painterly.train.loop import TrainConfig

    data = pair_folder(tmp_path / "d", n=4, size=32)
    cfg = _tiny_cfg(data, val=str(data), epochs=10, epochs_decay=0, lr=1e-3)
    val = PairedDataset(data, PairedConfig(crop_size=32, train=False))
    torch.manual_seed(0)
    before = p2p.evaluate_generator(p2p.build_generator(cfg.g_opts), val, 4).l1  # same init as seed 0
    res = p2p.train(cfg, TrainConfig(out=str(tmp_path / "run"), seed=0, progress=False))
    G, _ = p2p.load_generator(tmp_path / "run" / "generator.pt")
    after = p2p.evaluate_generator(G, val, 4).l1
    assert res.iterations == 40
    assert after < 0.75 * before, (before, after)
    rows = (tmp_path / "run" / "metrics.csv").read_text().splitlines()
    assert rows[0].startswith("iteration,epoch,lr,val_l1,val_psnr,val_ssim") and len(rows) == 11
    assert max(p.name for p in (tmp_path / "run" / "samples").iterdir()) == "iter_0000040.png"


def test_lr_schedule_linear_decay() -> None:
    cfg = p2p.Pix2PixConfig(epochs=3, epochs_decay=4)
    assert [cfg.lr_factor(e) for e in range(7)] == pytest.approx([1, 1, 1, 0.8, 0.6, 0.4, 0.2])


def test_l1_only_baseline_has_no_discriminator(tmp_path: Path) -> None:
    from painterly.train.loop import TrainConfig

    data = pair_folder(tmp_path / "d", n=2, size=32)
    p2p.train(_tiny_cfg(data, gan_weight=0.0, epochs=1, epochs_decay=0),
              TrainConfig(out=str(tmp_path / "run"), progress=False))
    ck = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)
    assert set(ck["models"]) == {"G"}
    header = (tmp_path / "run" / "losses.csv").read_text().splitlines()[0]
    assert header == "iteration,epoch,G_L1"


def test_resume_pix2pix_is_exact(tmp_path: Path) -> None:
    """Ctrl-C mid-epoch, then `painterly train pix2pix --resume` == an uninterrupted run, bit for bit."""
    import os
    import signal

    from painterly.train.loop import TrainConfig, Trainer

    data = pair_folder(tmp_path / "d", n=3, size=32)
    cfg = _tiny_cfg(data)

    def loop(out: str) -> TrainConfig:
        return TrainConfig(out=str(tmp_path / out), epochs=2, threads=1, progress=False)

    Trainer(p2p.make_task(cfg), p2p.train_datasets(cfg), loop("full")).run()
    task = p2p.make_task(cfg)
    step = task.step

    def interrupting_step(batch: object, it: int) -> dict[str, float]:
        out = step(batch, it)
        if it == 3:  # as if the user pressed Ctrl-C during the 4th step
            os.kill(os.getpid(), signal.SIGINT)
        return out

    task.step = interrupting_step  # type: ignore[method-assign]
    part = Trainer(task, p2p.train_datasets(cfg), loop("part")).run()
    assert part.interrupted and part.iterations == 4
    res = run_cli("train", "pix2pix", "--resume", str(tmp_path / "part"), "-q")
    assert res.returncode == 0, res.stderr
    a = torch.load(tmp_path / "full" / "checkpoint.pt", weights_only=True)
    b = torch.load(tmp_path / "part" / "checkpoint.pt", weights_only=True)
    assert a["iteration"] == b["iteration"] == 6
    for net in ("G", "D"):
        for k, v in a["models"][net].items():
            assert torch.equal(v, b["models"][net][k]), (net, k)
    assert torch.equal(a["optimizers"]["G"]["state"][0]["exp_avg"], b["optimizers"]["G"]["state"][0]["exp_avg"])
    assert (tmp_path / "full" / "losses.csv").read_text() == (tmp_path / "part" / "losses.csv").read_text()
    again = run_cli("train", "pix2pix", "--data", str(data), "--out", str(tmp_path / "part"))
    assert_one_line_error(again, "already holds a run", "--resume")


# ----------------------------------------------------------------------------------------------------
# CLI: translate, evaluate, errors
# ----------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def tiny_ckpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("ck")
    opts = p2p.GeneratorOptions(netG="unet_128", ngf=8, direction="AtoB", crop_size=128)
    torch.manual_seed(0)
    torch.save(p2p.generator_checkpoint(p2p.build_generator(opts), opts), d / "g.pt")
    return d / "g.pt"


def test_translate_any_size_and_modes(tmp_path: Path, tiny_ckpt: Path) -> None:
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (200, 300, 3), dtype=np.uint8)).save(tmp_path / "in.png")
    outs = {}
    for name, extra in (("e1", ["--eval"]), ("e2", ["--eval", "--seed", "5"]), ("t1", ["--seed", "1"]),
                        ("t1b", ["--seed", "1"]), ("t2", ["--seed", "2"])):
        proc = run_cli("translate", str(tmp_path / "in.png"), "--checkpoint", str(tiny_ckpt), "-o",
                       str(tmp_path / f"{name}.png"), *extra)
        assert proc.returncode == 0, proc.stderr
        outs[name] = np.asarray(Image.open(tmp_path / f"{name}.png"))
    assert outs["e1"].shape == (200, 300, 3)
    assert np.array_equal(outs["e1"], outs["e2"])      # eval: deterministic
    assert np.array_equal(outs["t1"], outs["t1b"])     # paper mode: reproducible with a seed
    assert not np.array_equal(outs["t1"], outs["t2"])  # … and dropout really is on


def test_translate_folder_pairs_sheet(tmp_path: Path, tiny_ckpt: Path) -> None:
    data = pair_folder(tmp_path / "d", n=2, size=48)
    proc = run_cli("translate", str(data), "--checkpoint", str(tiny_ckpt), "--pairs", "-o", str(tmp_path / "o"),
                   "--sheet", str(tmp_path / "s.png"), "-q")
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in (tmp_path / "o").glob("*.png")) == ["0.png", "1.png"]
    assert Image.open(tmp_path / "o" / "0.png").size == (48, 48)
    assert Image.open(tmp_path / "s.png").size == (3 * 48 + 4, 2 * 48 + 2)


def test_evaluate_cli_json(tmp_path: Path, tiny_ckpt: Path) -> None:
    import json

    data = pair_folder(tmp_path / "d", n=2, size=32)
    proc = run_cli("evaluate", "--checkpoint", str(tiny_ckpt), "--data", str(data), "--json", "--eval", "-q")
    assert proc.returncode == 0, proc.stderr
    rep = json.loads(proc.stdout)
    assert rep["n"] == 2 and rep["mode"] == "eval" and rep["size"] == 128
    assert 0 < rep["l1"] < 1 and 0 < rep["psnr"] < 40 and -1 < rep["ssim"] < 1
    # by hand: the same numbers from the library functions
    G, _ = p2p.load_generator(tiny_ckpt)
    ds = PairedDataset(data, PairedConfig(crop_size=128, train=False))
    sc = p2p.evaluate_generator(G, ds, 128, eval_mode=True)
    assert rep["l1"] == pytest.approx(sc.l1) and rep["ssim"] == pytest.approx(sc.ssim)


def test_onnx_export_parity(tmp_path: Path, tiny_ckpt: Path) -> None:
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    from painterly.export import export_pix2pix

    out = export_pix2pix(tiny_ckpt, tmp_path / "g.onnx")
    sess = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    G, _ = p2p.load_generator(tiny_ckpt)
    G.eval()
    for hw in ((128, 128), (256, 128)):  # dynamic height/width
        x = torch.rand(1, 3, *hw) * 2 - 1
        with torch.no_grad():
            ref = G(x).numpy()
        got = sess.run(None, {"input": x.numpy()})[0]
        assert got.shape == ref.shape
        assert np.abs(got - ref).max() <= 1e-4


@pytest.mark.parametrize(("args", "needles"), [
    (["--crop-size", "384"], ["crop size 384", "load size 286"]),
    (["--crop-size", "100", "--load-size", "100"], ["not a multiple of 128"]),
    (["--netG", "unet_512"], ["unknown generator"]),
    (["--norm", "group"], ["unknown norm"]),
    (["--direction", "up"], ["direction"]),
    (["--load-size", "0", "--crop-size", "128"], ["larger than the image", "0.png"]),
])
def test_train_cli_errors(tmp_path: Path, args: list[str], needles: list[str]) -> None:
    data = pair_folder(tmp_path / "d", n=1, size=32)
    proc = run_cli("train", "pix2pix", "--data", str(data), "--out", str(tmp_path / "run"), "--netG",
                   "unet_128", "--ngf", "8", *args)
    assert_one_line_error(proc, *needles)
    assert not (tmp_path / "run" / "checkpoint.pt").exists()


def test_cli_data_errors(tmp_path: Path, tiny_ckpt: Path) -> None:
    (tmp_path / "empty").mkdir()
    assert_one_line_error(run_cli("train", "pix2pix", "--data", str(tmp_path / "empty"), "--out",
                                  str(tmp_path / "r")), "no image files")
    assert_one_line_error(run_cli("train", "pix2pix", "--resume", str(tmp_path / "empty")), "no checkpoint.pt")
    odd = tmp_path / "odd"
    odd.mkdir()
    pair_image(odd / "bad.png", 16, width=33)
    assert_one_line_error(run_cli("train", "pix2pix", "--data", str(odd), "--out", str(tmp_path / "r2"),
                                  "--load-size", "0", "--crop-size", "16", "--netG", "resnet_9blocks"), "bad.png", "even width")
    assert_one_line_error(run_cli("translate", str(odd / "bad.png"), "--pairs", "--checkpoint", str(tiny_ckpt),
                                  "-o", str(tmp_path / "x.png")), "bad.png", "even width")
    (tmp_path / "u" / "A").mkdir(parents=True)
    (tmp_path / "u" / "B").mkdir()
    Image.new("RGB", (8, 8)).save(tmp_path / "u" / "A" / "a.png")
    Image.new("RGB", (8, 8)).save(tmp_path / "u" / "B" / "b.png")
    assert_one_line_error(run_cli("evaluate", "--checkpoint", str(tiny_ckpt), "--data", str(tmp_path / "u")),
                          "unpaired file")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    assert_one_line_error(run_cli("translate", str(odd / "bad.png"), "--checkpoint", str(tmp_path / "junk.pt"),
                                  "-o", str(tmp_path / "y.png")), "junk.pt")
    assert not (tmp_path / "x.png").exists() and not (tmp_path / "y.png").exists()


def test_resume_holes_are_closed(tmp_path: Path) -> None:
    """--resume takes the checkpoint file as well as the folder; a changed architecture is an error naming
    it; more --epochs extend the run (and say so); a different training set is refused, not silently
    'finished' at once."""
    from painterly.train.loop import TrainConfig, Trainer

    data = pair_folder(tmp_path / "d", n=3, size=32)
    cfg = _tiny_cfg(data)
    run = tmp_path / "run"
    Trainer(p2p.make_task(cfg), p2p.train_datasets(cfg),
            TrainConfig(out=str(run), epochs=cfg.total_epochs, threads=1, progress=False)).run()

    # the file works like the folder (was: FileExistsError traceback); nothing more to do is said
    res = run_cli("train", "pix2pix", "--resume", str(run / "checkpoint.pt"), "-q")
    assert res.returncode == 0 and "Traceback" not in res.stderr, res.stderr
    assert "nothing to train" in res.stderr
    before = (run / "checkpoint.pt").read_bytes()

    # an architecture option that differs from the run's: one line naming it, the run untouched
    bad = run_cli("train", "pix2pix", "--resume", str(run), "--netG", "unet_128")
    assert_one_line_error(bad, "--netG unet_128", "resnet_9blocks")
    assert (run / "checkpoint.pt").read_bytes() == before
    same = run_cli("train", "pix2pix", "--resume", str(run), "--netG", "resnet_9blocks", "--epochs", "1", "-q")
    assert same.returncode == 0, same.stderr

    # a smaller training set: refused before any step
    small = pair_folder(tmp_path / "d2", n=2, size=32)
    other = run_cli("train", "pix2pix", "--resume", str(run), "--data", str(small))
    assert_one_line_error(other, "trained on 3", "has 2")

    # more epochs extend it, and the change is logged
    cfg_saved = torch.load(run / "checkpoint.pt", weights_only=True)["task_config"]
    longer = run_cli("train", "pix2pix", "--resume", str(run), "--epochs", str(cfg_saved["epochs"] + 1), "-q")
    assert longer.returncode == 0, longer.stderr
    assert f"--epochs {cfg_saved['epochs']} -> {cfg_saved['epochs'] + 1}" in longer.stderr
    ck = torch.load(run / "checkpoint.pt", weights_only=True)
    assert ck["epoch"] == cfg_saved["epochs"] + cfg_saved["epochs_decay"] + 1


def test_translate_folder_is_a_resumable_sharded_batch(tmp_path: Path, tiny_ckpt: Path) -> None:
    """Folders run like stylize's: a bad input is listed in the manifest (exit 1) and the others are
    written; a re-run skips what is done; results do not depend on which images ran before (each is
    translated from the seed); a 2-process torchrun run covers every input once with the same pixels."""
    import json
    import os
    import subprocess
    import sys

    from conftest import ROOT, free_port

    src = tmp_path / "in"
    src.mkdir()
    for i in range(3):
        pair_image(src / f"p{i}.png", size=32, seed=i)
    (src / "zz-broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not a png")
    out = tmp_path / "out"
    first = run_cli("translate", str(src), "--checkpoint", str(tiny_ckpt), "-o", str(out), "-q")
    assert first.returncode == 1, first.stderr
    rows = [json.loads(ln) for ln in (out / "manifest.jsonl").read_text().splitlines()]
    assert sorted((r["output"], r["status"]) for r in rows) == [
        ("p0.png", "ok"), ("p1.png", "ok"), ("p2.png", "ok"), ("zz-broken.png", "error")]
    mtime = (out / "p1.png").stat().st_mtime_ns
    again = run_cli("translate", str(src), "--checkpoint", str(tiny_ckpt), "-o", str(out))
    assert again.returncode == 1 and "3 skipped" in again.stderr, again.stderr
    assert (out / "p1.png").stat().st_mtime_ns == mtime
    # order independence: p1 alone equals p1 translated after p0 (dropout on, same seed)
    alone = tmp_path / "alone.png"
    assert run_cli("translate", str(src / "p1.png"), "--checkpoint", str(tiny_ckpt), "-o", str(alone)).returncode == 0
    np.testing.assert_array_equal(np.asarray(Image.open(alone)), np.asarray(Image.open(out / "p1.png")))

    (src / "zz-broken.png").unlink()
    shard_out = tmp_path / "shards"
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"), OMP_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nnodes", "1", "--nproc_per_node",
                           "2", "--master_port", str(free_port()), "-m", "painterly", "translate", str(src),
                           "--checkpoint", str(tiny_ckpt), "-o", str(shard_out), "-q"],
                          env=env, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(ln) for ln in (shard_out / "manifest.jsonl").read_text().splitlines()]
    assert sorted(r["output"] for r in rows) == ["p0.png", "p1.png", "p2.png"]
    assert {r["rank"] for r in rows} == {0, 1}
    for i in range(3):
        np.testing.assert_array_equal(np.asarray(Image.open(shard_out / f"p{i}.png")),
                                      np.asarray(Image.open(out / f"p{i}.png")))
