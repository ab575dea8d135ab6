"""AdaIN / SANet training: loss maths against an independent implementation, learning, exact resume,
published-layout exports, the CLI's errors, and a 2-process torchrun (gloo) run.

Everything runs on tiny images (48×40 files, 32 px crops, batch 2) with a random-weight encoder in the
real vgg_normalised layout; the reference networks below are written from design.md's layer lists as plain
nn.Sequential / nn.Module, importing nothing from painterly.
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

from conftest import ROOT, assert_one_line_error, random_state_dict, run_cli, smooth_image
from ffutil import RefTransform
from ffutil import mean_std as ref_mean_std
from ffutil import mvn as ref_mvn
from ffutil import published_decoder as ref_decoder
from ffutil import published_vgg as ref_vgg

torch.set_num_threads(2)
CROP = 32


# ----------------------------------------------------------------------------------------------------
# the published networks and statistics, written out independently of painterly in tests/ffutil.py
# (design.md §2, §4, §5); here the recipes' losses on top of them
# ----------------------------------------------------------------------------------------------------

SLICES = [(0, 4), (4, 11), (11, 18), (18, 31), (31, 44)]  # relu1_1 … relu5_1


def ref_feats(vgg: nn.Sequential, x: torch.Tensor, n: int) -> list[torch.Tensor]:
    out = []
    for a, b in SLICES[:n]:
        x = vgg[a:b](x)
        out.append(x)
    return out


def ref_style_loss(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    (ma, sa), (mb, sb) = ref_mean_std(a), ref_mean_std(b)
    return ((ma - mb) ** 2).mean() + ((sa - sb) ** 2).mean()


def ref_adain_losses(vgg: nn.Sequential, dec: nn.Sequential, c: torch.Tensor, s: torch.Tensor
                     ) -> dict[str, torch.Tensor]:
    """pytorch-AdaIN's Net.forward: Lc against the AdaIN target t, Ls over relu1_1…relu4_1."""
    sf = ref_feats(vgg, s, 4)
    fc = ref_feats(vgg, c, 4)[-1]
    (mc, sc), (ms, ss) = ref_mean_std(fc), ref_mean_std(sf[-1])
    t = (fc - mc) / sc * ss + ms
    gf = ref_feats(vgg, dec(t), 4)
    return {"content": ((gf[-1] - t) ** 2).mean(), "style": sum(ref_style_loss(a, b) for a, b in zip(gf, sf))}


def ref_sanet_losses(vgg: nn.Sequential, tr: RefTransform, dec: nn.Sequential, c: torch.Tensor,
                     s: torch.Tensor) -> dict[str, torch.Tensor]:
    """SANET's Net.forward, term by term (I_cc and I_ss computed separately, as there)."""
    def mse(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return ((a - b) ** 2).mean()

    sf, cf = ref_feats(vgg, s, 5), ref_feats(vgg, c, 5)
    g = dec(tr(cf[3], sf[3], cf[4], sf[4]))
    gf = ref_feats(vgg, g, 5)
    lc = mse(ref_mvn(gf[3]), ref_mvn(cf[3])) + mse(ref_mvn(gf[4]), ref_mvn(cf[4]))
    ls = sum(ref_style_loss(a, b) for a, b in zip(gf, sf))
    icc = dec(tr(cf[3], cf[3], cf[4], cf[4]))
    iss = dec(tr(sf[3], sf[3], sf[4], sf[4]))
    l1 = mse(icc, c) + mse(iss, s)
    fcc, fss = ref_feats(vgg, icc, 5), ref_feats(vgg, iss, 5)
    l2 = sum(mse(fcc[i], cf[i]) + mse(fss[i], sf[i]) for i in range(5))
    return {"content": lc, "style": ls, "identity1": l1, "identity2": l2}


# ----------------------------------------------------------------------------------------------------
# fixtures
# ----------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def tmp_module(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("train_ff")


@pytest.fixture(scope="module")
def vgg_file(tmp_module: Path) -> Path:
    """A random vgg_normalised.pth (He-scaled so activations stay sane; identity 1x1 input conv)."""
    from painterly.nn.vgg import normalised_layout

    sd = random_state_dict(normalised_layout(), seed=3)
    sd["0.weight"] = torch.eye(3).reshape(3, 3, 1, 1).clone()
    sd["0.bias"] = torch.zeros(3)
    p = tmp_module / "vgg_normalised.pth"
    torch.save(sd, p)
    return p


@pytest.fixture(scope="module")
def data(tmp_module: Path) -> tuple[Path, Path]:
    """content/ (4 images, one in a sub-folder) and style/ (3 images), 48×40 and 40×48 px."""
    c, s = tmp_module / "content", tmp_module / "style"
    (c / "sub").mkdir(parents=True)
    s.mkdir()
    for i in range(4):
        smooth_image((c / "sub" if i == 3 else c) / f"c{i}.png", (48, 40), i)
    for i in range(3):
        smooth_image(s / f"s{i}.jpg", (40, 48), 10 + i)
    return c, s


def ff_config(method: str, data: tuple[Path, Path], vgg_path: Path, **kw: object):  # type: ignore[no-untyped-def]
    from painterly.methods.fftrain import recipe

    cfg, _ = recipe(method)
    cfg.content_dir, cfg.style_dir, cfg.vgg = str(data[0]), str(data[1]), str(vgg_path)
    cfg.load_size, cfg.crop_size, cfg.sample_count = 40, CROP, 2
    for k, v in kw.items():
        setattr(cfg, k, v)
    return cfg


def loop_config(out: Path, iterations: int, **kw: object):  # type: ignore[no-untyped-def]
    from painterly.train.loop import TrainConfig

    base: dict[str, object] = {"out": str(out), "iterations": iterations, "batch_size": 2, "seed": 7,
                               "checkpoint_every": 2, "sample_every": 0, "log_every": 1, "progress": False,
                               "device": "cpu"}
    base.update(kw)
    return TrainConfig(**base)  # type: ignore[arg-type]


def fixed_batch(data: tuple[Path, Path]) -> tuple[torch.Tensor, torch.Tensor]:
    from painterly.methods.fftrain import ContentStyleDataset, image_folder

    ds = ContentStyleDataset(image_folder(str(data[0]), 40, CROP, "content folder"),
                             image_folder(str(data[1]), 40, CROP, "style folder"))
    items = [ds[(i, 100 + i)] for i in range(2)]
    return torch.stack([a for a, _ in items]), torch.stack([b for _, b in items])


def total_loss(cfg, batch: tuple[torch.Tensor, torch.Tensor], decoder: Path | None,  # type: ignore[no-untyped-def]
               transformer: Path | None = None) -> float:
    import dataclasses

    from painterly.methods.fftrain import build_losses, weighted_total

    net = build_losses(dataclasses.replace(cfg, init_decoder=str(decoder) if decoder else None,
                                           init_transformer=str(transformer) if transformer else None))
    with torch.no_grad():
        return float(weighted_total(cfg, net(*batch)))


@pytest.fixture(scope="module")
def init_files(tmp_module: Path) -> dict[str, Path]:
    """A decoder and a transformer with PyTorch's default initialisation (as the reference trainers start),
    saved in the published layouts: the --init of the runs below, and the "before" of the loss test."""
    from painterly.methods.sanet import SANetTransformer
    from painterly.nn.blocks import make_decoder

    out = {"decoder": tmp_module / "init_decoder.pth", "transformer": tmp_module / "init_transformer.pth"}
    with torch.random.fork_rng():
        torch.manual_seed(5)
        torch.save(make_decoder().state_dict(), out["decoder"])
        torch.save(SANetTransformer().state_dict(), out["transformer"])
    return out


@pytest.fixture(scope="module")
def runs(tmp_module: Path, data: tuple[Path, Path], vgg_file: Path, init_files: dict[str, Path]
         ) -> dict[str, Path]:
    """One short training run per method, started from init_files, shared by the tests below."""
    from painterly.methods.fftrain import train

    lrs = {"adain": 2e-4, "sanet": 1e-4}
    out = {}
    for m in ("adain", "sanet"):
        cfg = ff_config(m, data, vgg_file, lr=lrs[m], init_decoder=str(init_files["decoder"]),
                        init_transformer=str(init_files["transformer"]) if m == "sanet" else None)
        run = tmp_module / f"run-{m}"
        res = train(cfg, loop_config(run, 6, sample_every=3))
        assert res.iterations == 6 and not res.interrupted
        out[m] = run
    return out


# ----------------------------------------------------------------------------------------------------
# loss maths
# ----------------------------------------------------------------------------------------------------

def test_adain_losses_match_the_reference_formulas(vgg_file: Path, data: tuple[Path, Path]) -> None:
    from painterly.methods.fftrain import build_losses

    cfg = ff_config("adain", data, vgg_file)
    net = build_losses(cfg)
    vgg, dec = ref_vgg(), ref_decoder()
    vgg.load_state_dict(torch.load(vgg_file, weights_only=True))
    dec.load_state_dict(net.decoder.state_dict())  # same (random) decoder, published keys
    c, s = fixed_batch(data)
    with torch.no_grad():
        got, want = net(c, s), ref_adain_losses(vgg, dec, c, s)
    assert set(got) == {"content", "style"}
    for k in want:
        assert float(want[k]) > 0
        torch.testing.assert_close(got[k], want[k], rtol=1e-4, atol=1e-6)


def test_sanet_losses_match_the_reference_formulas(vgg_file: Path, data: tuple[Path, Path],
                                                   init_files: dict[str, Path]) -> None:
    from painterly.methods.fftrain import build_losses

    cfg = ff_config("sanet", data, vgg_file, init_decoder=str(init_files["decoder"]),
                    init_transformer=str(init_files["transformer"]))
    net = build_losses(cfg)
    vgg, dec, tr = ref_vgg(), ref_decoder(), RefTransform()
    vgg.load_state_dict(torch.load(vgg_file, weights_only=True))
    dec.load_state_dict(torch.load(init_files["decoder"], weights_only=True))
    tr.load_state_dict(torch.load(init_files["transformer"], weights_only=True))
    c, s = fixed_batch(data)
    with torch.no_grad():
        got, want = net(c, s), ref_sanet_losses(vgg, tr, dec, c, s)
    assert set(got) == set(want)
    for k in want:
        assert float(want[k]) > 0
        torch.testing.assert_close(got[k], want[k], rtol=1e-4, atol=1e-6)


def test_inverse_decay_schedule(vgg_file: Path, data: tuple[Path, Path]) -> None:
    """Step i runs at lr/(1 + decay·i), the reference's adjust_learning_rate."""
    from painterly.methods.fftrain import FFTask, datasets
    from painterly.train.loop import TrainContext

    cfg = ff_config("adain", data, vgg_file, lr=1e-4, lr_decay=0.5)
    task = FFTask(cfg, datasets(cfg))
    task.setup(TrainContext(device=torch.device("cpu")))
    seen = []
    for i in range(3):
        seen.append(task.opt.param_groups[0]["lr"])
        task.opt.step()
        task.sched.step()
    assert seen == pytest.approx([1e-4 / (1 + 0.5 * i) for i in range(3)], rel=1e-12)


# ----------------------------------------------------------------------------------------------------
# training
# ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("method", ["adain", "sanet"])
def test_training_lowers_the_loss_on_a_fixed_batch(method: str, runs: dict[str, Path], vgg_file: Path,
                                                   data: tuple[Path, Path], init_files: dict[str, Path]) -> None:
    cfg = ff_config(method, data, vgg_file)
    batch = fixed_batch(data)
    tr0 = init_files["transformer"] if method == "sanet" else None
    tr1 = runs[method] / "transformer_iter_6.pth" if method == "sanet" else None
    before = total_loss(cfg, batch, init_files["decoder"], tr0)
    after = total_loss(cfg, batch, runs[method] / "decoder_iter_6.pth", tr1)
    assert after < 0.9 * before, (before, after)


def test_run_folder_contents(runs: dict[str, Path]) -> None:
    from painterly.train.loop import read_checkpoint

    for m, run in runs.items():
        names = {p.name for p in run.iterdir()}
        want = {"checkpoint.pt", "config.json", "losses.csv", "samples", "decoder_iter_6.pth"}
        assert want <= names, names
        assert ("transformer_iter_6.pth" in names) == (m == "sanet")
        assert not [n for n in names if ".part" in n]  # nothing half-written left behind
        assert sorted(p.name for p in (run / "samples").iterdir()) == ["iter_0000003.png", "iter_0000006.png"]
        with open(run / "losses.csv") as f:
            rows = list(csv.DictReader(f))
        assert [int(r["iteration"]) for r in rows] == list(range(1, 7))
        assert {"loss", "content", "style", "lr"} <= set(rows[0])
        ck = read_checkpoint(run)
        assert ck["task"] == m and ck["iteration"] == 6
        assert set(ck["models"]) == ({"decoder"} if m == "adain" else {"decoder", "transformer"})
        assert ck["task_config"]["method"] == m and ck["schedulers"]["lr"]["last_epoch"] == 6


def test_exports_load_into_the_published_layouts(runs: dict[str, Path], init_files: dict[str, Path]) -> None:
    for m, run in runs.items():
        dec = ref_decoder()
        sd = torch.load(run / "decoder_iter_6.pth", weights_only=True)
        dec.load_state_dict(sd)  # strict: keys 1, 5, 8, …, 28 exactly
        assert sorted({k.split(".")[0] for k in sd}, key=int) == ["1", "5", "8", "11", "14", "18", "21", "25", "28"]
        # it trained: not the --init weights any more
        init = torch.load(init_files["decoder"], weights_only=True)
        assert not torch.equal(sd["1.weight"], init["1.weight"])
        if m == "sanet":
            tr = RefTransform()
            tsd = torch.load(run / "transformer_iter_6.pth", weights_only=True)
            tr.load_state_dict(tsd)
            assert {k.split(".")[0] for k in tsd} == {"sanet4_1", "sanet5_1", "merge_conv"}


@pytest.mark.parametrize("method", ["adain", "sanet"])
def test_init_weights_are_where_training_starts(method: str, runs: dict[str, Path], vgg_file: Path,
                                                data: tuple[Path, Path], init_files: dict[str, Path]) -> None:
    """The first logged loss (computed before the first update) is the --init weights' loss on the first
    batch of the sampler's stream (seed 7, positions 0 and 1)."""
    from painterly.train.data import InfiniteSampler
    from painterly.methods.fftrain import datasets

    cfg = ff_config(method, data, vgg_file)
    ds = datasets(cfg)
    sampler = InfiniteSampler(len(ds), seed=7)
    items = [ds[sampler.item(i)] for i in range(2)]
    batch = torch.stack([a for a, _ in items]), torch.stack([b for _, b in items])
    want = total_loss(cfg, batch, init_files["decoder"], init_files["transformer"] if method == "sanet" else None)
    with open(runs[method] / "losses.csv") as f:
        first = float(next(csv.DictReader(f))["loss"])
    assert first == pytest.approx(want, rel=1e-4)


def test_cli_stylises_with_a_trained_sanet_through_the_weights_cache(runs: dict[str, Path], vgg_file: Path,
                                                                     data: tuple[Path, Path], tmp_path: Path) -> None:
    """Other tools' route: import the trained transformer (and the encoder) into the cache — the import
    checks the published layout — then `stylize --method sanet --weights decoder_iter_N.pth`."""
    run = runs["sanet"]
    for name, f in (("vgg-normalised", vgg_file), ("sanet-transformer", run / "transformer_iter_6.pth")):
        p = run_cli("weights", "import", name, str(f))
        assert p.returncode == 0, p.stderr
    out = tmp_path / "out.png"
    p = run_cli("stylize", str(min(data[0].glob("*.png"))), "--style", str(min(data[1].glob("*.jpg"))),
                "--method", "sanet", "--weights", str(run / "decoder_iter_6.pth"), "--size", "0",
                "--style-size", "0", "--device", "cpu", "-q", "-o", str(out))
    assert p.returncode == 0, p.stderr
    from PIL import Image

    with Image.open(out) as img:
        assert img.size == (48, 40)


@pytest.mark.parametrize("method", ["adain", "sanet"])
def test_exports_run_in_the_inference_methods(method: str, runs: dict[str, Path], vgg_file: Path,
                                              data: tuple[Path, Path]) -> None:
    """The trained files drive `--method adain|sanet` (weights override) and give the reference maths."""
    from painterly import api
    from painterly import image as im
    from painterly.methods.base import StyleSpec
    from painterly.nn.convert import to_tensor

    run = runs[method]
    content, style = min(data[0].glob("*.png")), min(data[1].glob("*.jpg"))
    opts: dict[str, object] = {"vgg_weights": str(vgg_file), "weights": str(run / "decoder_iter_6.pth")}
    if method == "sanet":
        opts["transformer_weights"] = str(run / "transformer_iter_6.pth")
    m = api.make_method(method, size=0, style_size=0, device="cpu", progress=False, **opts)
    prepared = m.prepare([StyleSpec(str(style), 1.0, im.load_image(style))])
    c, s = to_tensor(im.load_image(content).rgb), to_tensor(im.load_image(style).rgb)
    got = m.stylise(c, prepared, None)  # type: ignore[attr-defined]

    vgg, dec = ref_vgg(), ref_decoder()
    vgg.load_state_dict(torch.load(vgg_file, weights_only=True))
    dec.load_state_dict(torch.load(run / "decoder_iter_6.pth", weights_only=True))
    with torch.no_grad():
        if method == "adain":
            fc, fs = ref_feats(vgg, c, 4)[-1], ref_feats(vgg, s, 4)[-1]
            (mc, sc), (ms, ss) = ref_mean_std(fc), ref_mean_std(fs)
            want = dec((fc - mc) / sc * ss + ms)
        else:
            tr = RefTransform()
            tr.load_state_dict(torch.load(run / "transformer_iter_6.pth", weights_only=True))
            cf, sf = ref_feats(vgg, c, 5), ref_feats(vgg, s, 5)
            want = dec(tr(cf[3], sf[3], cf[4], sf[4]))
    want = want[..., : c.shape[2], : c.shape[3]]
    torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("method", ["adain", "sanet"])
def test_resume_is_bit_identical_to_an_uninterrupted_run(method: str, tmp_path: Path, vgg_file: Path,
                                                         data: tuple[Path, Path]) -> None:
    from painterly.methods.fftrain import train
    from painterly.train.loop import read_checkpoint

    n = 2 if method == "adain" else 1  # SANet steps cost ~3 AdaIN steps
    whole, split = tmp_path / "whole", tmp_path / "split"
    cfg = ff_config(method, data, vgg_file)
    train(cfg, loop_config(whole, 2 * n, checkpoint_every=n))
    # the first half stops after its checkpoint (as a killed run would), then --resume continues
    train(cfg, loop_config(split, n, checkpoint_every=n))
    assert read_checkpoint(split)["iteration"] == n
    train(cfg, loop_config(split, 2 * n, checkpoint_every=n), resume=True)

    a, b = read_checkpoint(whole), read_checkpoint(split)
    assert a["iteration"] == b["iteration"] == 2 * n
    for name in a["models"]:
        for k, v in a["models"][name].items():
            assert torch.equal(v, b["models"][name][k]), (name, k)
    for pid, st in a["optimizers"]["adam"]["state"].items():
        for k, v in st.items():
            assert torch.equal(v, b["optimizers"]["adam"]["state"][pid][k]), (pid, k)
    assert a["schedulers"] == b["schedulers"]
    for f in [f"decoder_iter_{2 * n}.pth"] + ([f"transformer_iter_{2 * n}.pth"] if method == "sanet" else []):
        sa, sb = torch.load(whole / f, weights_only=True), torch.load(split / f, weights_only=True)
        assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert (whole / "losses.csv").read_text() == (split / "losses.csv").read_text()


# ----------------------------------------------------------------------------------------------------
# CLI and bad input
# ----------------------------------------------------------------------------------------------------

def cli_args(data: tuple[Path, Path], out: Path, vgg: Path | None, *extra: str) -> list[str]:
    args = ["train", "adain", "--content-dir", str(data[0]), "--style-dir", str(data[1]), "--out", str(out),
            "--load-size", "40", "--crop-size", str(CROP), "--batch-size", "2", "-q"]
    if vgg is not None:
        args += ["--vgg", str(vgg)]
    return args + list(extra)


def test_cli_trains_skips_unreadable_files_and_resumes(tmp_path: Path, vgg_file: Path) -> None:
    c, s = tmp_path / "c", tmp_path / "s"
    c.mkdir()
    s.mkdir()
    for i in range(2):
        smooth_image(c / f"{i}.png", (48, 40), i)
        smooth_image(s / f"{i}.png", (40, 48), 20 + i)
    (c / "broken.jpg").write_bytes(b"not a jpeg")
    run = tmp_path / "run"
    p = run_cli(*cli_args((c, s), run, vgg_file, "--iterations", "2", "--checkpoint-every", "1",
                          "--export-every", "1", "--sample-every", "2", "--workers", "1", "--threads", "2"))
    assert p.returncode == 0, p.stderr
    assert "warning: skipped 1 unreadable file(s) in the content folder" in p.stderr
    assert {"decoder_iter_1.pth", "decoder_iter_2.pth", "checkpoint.pt", "losses.csv"} <= {
        f.name for f in run.iterdir()}
    assert (run / "samples" / "iter_0000002.png").exists()
    p = run_cli("train", "adain", "--resume", str(run), "--iterations", "3", "-q")
    assert p.returncode == 0, p.stderr
    assert "trained 3 iterations" in p.stderr
    assert (run / "decoder_iter_3.pth").exists()
    # the wrong method for this run
    assert_one_line_error(run_cli("train", "sanet", "--resume", str(run)), "'adain' run, not sanet")


def test_cli_bad_input_is_one_line_and_writes_nothing(tmp_path: Path, vgg_file: Path, data: tuple[Path, Path]
                                                      ) -> None:
    empty = tmp_path / "empty"
    (empty / "sub").mkdir(parents=True)
    run = tmp_path / "run"
    assert_one_line_error(run_cli(*cli_args((empty, data[1]), run, vgg_file)), "content folder", "no image files")
    assert not run.exists()
    # a foreign --init: the VGG checkpoint is no decoder
    assert_one_line_error(run_cli(*cli_args(data, run, vgg_file, "--init", str(vgg_file))), "--init decoder",
                          "wrong layout")
    assert not run.exists()


def test_missing_encoder_and_bad_settings_are_clear(tmp_path: Path, data: tuple[Path, Path], vgg_file: Path,
                                                    init_files: dict[str, Path]) -> None:
    from painterly.errors import PainterlyError
    from painterly.methods.fftrain import train

    run = tmp_path / "run"
    # no --vgg and an empty weights cache (conftest's PAINTERLY_HOME): the hub's import hint + --vgg
    with pytest.raises(PainterlyError, match=r"vgg-normalised.*painterly weights import.*--vgg FILE"):
        train(ff_config("adain", data, vgg_file, vgg=None), loop_config(run, 1))
    # a decoder is no transformer
    with pytest.raises(PainterlyError, match="--init-transformer .* wrong layout"):
        train(ff_config("sanet", data, vgg_file, init_transformer=str(init_files["decoder"])), loop_config(run, 1))
    with pytest.raises(PainterlyError, match="multiple of 16"):
        train(ff_config("sanet", data, vgg_file, crop_size=40, load_size=48), loop_config(run, 1))
    with pytest.raises(PainterlyError, match="load-size"):
        train(ff_config("adain", data, vgg_file, load_size=24, crop_size=32), loop_config(run, 1))
    assert not run.exists()


@pytest.mark.slow
def test_torchrun_two_processes_match_one_process(tmp_path: Path, vgg_file: Path, data: tuple[Path, Path]) -> None:
    """2 gloo processes × batch 1 = 1 process × batch 2: the sampler shards one stream, so both runs see
    the same two crops, and DDP averages the gradients of mean losses, so Adam's first moment (0.1·g after
    one step) agrees. (The weights are not compared: Adam's first step is ≈ lr·sign(g), which flips on
    rounding noise wherever g ≈ 0.) Only rank 0 writes."""
    common = ["--content-dir", str(data[0]), "--style-dir", str(data[1]), "--vgg", str(vgg_file),
              "--load-size", "40", "--crop-size", str(CROP), "--iterations", "1", "--log-every", "1",
              "--workers", "0", "--threads", "1", "--device", "cpu", "-q"]
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT / "src") + os.pathsep + env.get("PYTHONPATH", "")
    ddp = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                          "-m", "painterly", "train", "adain", "--out", str(tmp_path / "ddp"), "--batch-size", "1",
                          *common], capture_output=True, text=True, env=env, timeout=300, check=False)
    assert ddp.returncode == 0, ddp.stdout + ddp.stderr
    single = run_cli("train", "adain", "--out", str(tmp_path / "one"), "--batch-size", "2", *common)
    assert single.returncode == 0, single.stderr
    with open(tmp_path / "ddp" / "losses.csv") as f:
        assert [r["iteration"] for r in csv.DictReader(f)] == ["1"]  # one writer
    assert sorted(p.name for p in (tmp_path / "ddp").iterdir()) == sorted(p.name for p in (tmp_path / "one").iterdir())
    from painterly.train.loop import read_checkpoint

    a, b = read_checkpoint(tmp_path / "ddp"), read_checkpoint(tmp_path / "one")
    assert a["world_size"] == 2 and b["world_size"] == 1
    sa, sb = a["optimizers"]["adam"]["state"], b["optimizers"]["adam"]["state"]
    assert len(sa) == len(sb) == 18  # 9 convs × (weight, bias)
    for pid in sb:
        m1, m2 = sa[pid]["exp_avg"], sb[pid]["exp_avg"]
        # relative error of the whole tensor: batch-1 vs batch-2 convolutions round differently (≈1e-4
        # here); without the all-reduce rank 0 would hold its own sample's gradient, ≈0.2 off
        assert float((m1 - m2).norm() / m2.norm()) < 2e-3, pid
