"""``painterly train adain|sanet|pix2pix`` (defaults from the config dataclasses; one resume path)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from ..methods.fftrain.config import recipe as ff_recipe
from ..methods.pix2pix.config import Pix2PixConfig
from ..methods.pix2pix.options import DiscriminatorOptions, GeneratorOptions
from ..train.config import TrainConfig
from .common import _default, _from_command_line, _new_run_out, _report, train_app


# ----------------------------------------------------------------------------------------------------
# training: train adain / train sanet
# ----------------------------------------------------------------------------------------------------

PANEL_FFT_DATA = "Data"
PANEL_FFT_OPT = "Optimisation (default: the published recipe)"
PANEL_FFT_RUN = "Run"

_ADAIN, _ADAIN_LOOP = ff_recipe("adain")
_SANET, _SANET_LOOP = ff_recipe("sanet")

_FFContentDir = Annotated[Optional[Path], typer.Option(
    help="Content photos (searched recursively; the recipe uses MS-COCO).", rich_help_panel=PANEL_FFT_DATA)]
_FFStyleDir = Annotated[Optional[Path], typer.Option(
    help="Style images (searched recursively; the recipe uses WikiArt).", rich_help_panel=PANEL_FFT_DATA)]
_FFOut = Annotated[Optional[Path], typer.Option(
    help="Run folder: checkpoint.pt, decoder_iter_N.pth, losses.csv, samples/.", rich_help_panel=PANEL_FFT_RUN)]
_FFResume = Annotated[Optional[Path], typer.Option(
    help="Continue the run in this folder exactly where its last checkpoint stopped (its settings are "
    "reused; --iterations extends it).", rich_help_panel=PANEL_FFT_RUN)]
_FFVgg = Annotated[Optional[Path], typer.Option(
    help="vgg_normalised.pth (the frozen encoder); default: the weights cache.", rich_help_panel=PANEL_FFT_RUN)]
_FFInit = Annotated[Optional[Path], typer.Option(
    help="Start from a decoder in the published layout (e.g. decoder.pth, or a run's decoder_iter_N.pth).",
    rich_help_panel=PANEL_FFT_RUN)]
_FFIterations = Annotated[Optional[int], typer.Option(help=f"Total iterations [recipe: {_ADAIN_LOOP['iterations']}].",
                                                      rich_help_panel=PANEL_FFT_OPT)]
_FFBatch = Annotated[Optional[int], typer.Option(help=f"Images per step and process [recipe: adain "
                                                 f"{_ADAIN_LOOP['batch_size']}, sanet {_SANET_LOOP['batch_size']}].",
                                                 rich_help_panel=PANEL_FFT_OPT)]
_FFLr = Annotated[float, typer.Option(help="Adam learning rate.", rich_help_panel=PANEL_FFT_OPT)]
_FFLrDecay = Annotated[float, typer.Option(help="Inverse decay: step i uses lr/(1 + decay·i).",
                                           rich_help_panel=PANEL_FFT_OPT)]
_FFContentW = Annotated[float, typer.Option(help="λc, weight of the content loss.", rich_help_panel=PANEL_FFT_OPT)]
_FFLoad = Annotated[int, typer.Option(help="Resize each image's smaller side to this first.",
                                      rich_help_panel=PANEL_FFT_DATA)]
_FFCrop = Annotated[int, typer.Option(help="Then a random square crop of this side (training resolution).",
                                      rich_help_panel=PANEL_FFT_DATA)]
_FFSeed = Annotated[int, typer.Option(help="Seed (same seed → same run on CPU).", rich_help_panel=PANEL_FFT_RUN)]
_FFCkpt = Annotated[Optional[int], typer.Option(help=f"Iterations between checkpoints "
                                                f"[{_ADAIN_LOOP['checkpoint_every']}].", rich_help_panel=PANEL_FFT_RUN)]
_FFExport = Annotated[Optional[int], typer.Option(help="Iterations between decoder_iter_N.pth exports "
                                                  f"(0: only at the end) [{_ADAIN.export_every}].",
                                                  rich_help_panel=PANEL_FFT_RUN)]
_FFSample = Annotated[Optional[int], typer.Option(help="Iterations between sample sheets in RUN/samples "
                                                  f"(0: never) [{_ADAIN_LOOP['sample_every']}].",
                                                  rich_help_panel=PANEL_FFT_RUN)]
_FFLog = Annotated[Optional[int], typer.Option(help=f"Iterations per row of losses.csv [{_ADAIN_LOOP['log_every']}].",
                                               rich_help_panel=PANEL_FFT_RUN)]
_FFWorkers = Annotated[Optional[int], typer.Option(help="Data loader processes [half the CPUs, at most 4].",
                                                   rich_help_panel=PANEL_FFT_RUN)]
_FFThreads = Annotated[Optional[int], typer.Option(help="torch CPU threads (0 = torch's default).",
                                                   rich_help_panel=PANEL_FFT_RUN)]
_FFDevice = Annotated[Optional[str], typer.Option(help=f"auto | cpu | cuda | mps [{_default(TrainConfig, 'device')}].",
                                                  rich_help_panel=PANEL_FFT_RUN)]
_FFTb = Annotated[bool, typer.Option("--tensorboard", help="Also log to RUN/tb (if tensorboard is installed).",
                                     rich_help_panel=PANEL_FFT_RUN)]
_FFQuiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.", rich_help_panel=PANEL_FFT_RUN)]

# FFTrainConfig fields a resumed run may take from the command line: the same data in a new place
_FF_MOVABLE = ("content_dir", "style_dir", "vgg")


# the options of `train adain` / `train sanet` that are TrainConfig fields; the rest are FFTrainConfig's
_FF_LOOP = ("iterations", "batch_size", "seed", "checkpoint_every", "sample_every", "log_every", "workers",
            "threads", "device", "tensorboard")
_FF_SHELL = ("ctx", "resume", "out", "quiet")


def _train_ff(ctx: typer.Context, method: str, options: dict[str, Any]) -> None:
    """Shared body of `train adain` / `train sanet` (``options``: the command's parameters): the recipe
    (or the run's saved settings) with the command-line options laid over it, then train and report.
    Option names equal config field names."""
    from ..methods import fftrain
    from ..train.config import resume_configs

    resume, out, quiet = options["resume"], options["out"], options["quiet"]
    loop_opts = {k: options[k] for k in _FF_LOOP}
    task_opts = {k: v for k, v in options.items() if k not in _FF_LOOP + _FF_SHELL}

    loop_given = {**_from_command_line(ctx, loop_opts), "progress": not quiet}
    task_given = _from_command_line(ctx, task_opts, rename={"init": "init_decoder"})
    task_given = {k: (str(v) if isinstance(v, Path) else v) for k, v in task_given.items()}
    if resume is not None:
        cfg, loop = resume_configs(resume, method, fftrain.FFTrainConfig, loop_given, task_given,
                                   movable=_FF_MOVABLE)
    else:
        out = _new_run_out(out, "--content-dir DIR, --style-dir DIR", task_given.get("content_dir"),
                           task_given.get("style_dir"))
        recipe_cfg, recipe_loop = fftrain.recipe(method)
        cfg = dataclasses.replace(recipe_cfg, **task_given)
        loop = TrainConfig(**{**recipe_loop, **loop_given, "out": str(out)})
    _report(fftrain.train(cfg, loop, resume=resume is not None), method, epochs=False)


@train_app.command(
    "adain",
    epilog="Examples:\n\n"
    "  painterly train adain --content-dir coco/train2014 --style-dir wikiart/train --out runs/adain\n\n"
    "  painterly train adain --resume runs/adain\n\n"
    "  painterly train adain --content-dir c --style-dir s --out runs/ft --init decoder.pth --iterations 5000\n\n"
    "  torchrun --nproc_per_node 2 -m painterly train adain --content-dir c --style-dir s --out runs/ddp\n\n"
    "Then: painterly stylize photo.jpg --style s.jpg --method adain --weights runs/adain/decoder_iter_160000.pth",
)
def train_adain(
    ctx: typer.Context,
    content_dir: _FFContentDir = None,
    style_dir: _FFStyleDir = None,
    out: _FFOut = None,
    resume: _FFResume = None,
    vgg: _FFVgg = None,
    init: _FFInit = None,
    iterations: _FFIterations = None,
    batch_size: _FFBatch = None,
    lr: _FFLr = _ADAIN.lr,
    lr_decay: _FFLrDecay = _ADAIN.lr_decay,
    content_weight: _FFContentW = _ADAIN.content_weight,
    style_weight: Annotated[float, typer.Option(help="λs, weight of the mean/std style loss (relu1_1…4_1).",
                                                rich_help_panel=PANEL_FFT_OPT)] = _ADAIN.style_weight,
    load_size: _FFLoad = _ADAIN.load_size,
    crop_size: _FFCrop = _ADAIN.crop_size,
    seed: _FFSeed = _default(TrainConfig, "seed"),
    checkpoint_every: _FFCkpt = None,
    export_every: _FFExport = None,
    sample_every: _FFSample = None,
    log_every: _FFLog = None,
    workers: _FFWorkers = None,
    threads: _FFThreads = None,
    device: _FFDevice = None,
    tensorboard: _FFTb = _default(TrainConfig, "tensorboard"),
    quiet: _FFQuiet = False,
) -> None:
    """Train an AdaIN decoder (frozen VGG encoder; Lc on the AdaIN target + λ·mean/std style loss)."""
    _train_ff(ctx, "adain", locals())


@train_app.command(
    "sanet",
    epilog="Examples:\n\n"
    "  painterly train sanet --content-dir coco/train2014 --style-dir wikiart/train --out runs/sanet\n\n"
    "  painterly train sanet --content-dir c --style-dir s --out runs/ft --init decoder_iter_500000.pth "
    "--init-transformer transformer_iter_500000.pth\n\n"
    "Then: painterly weights import sanet-transformer runs/sanet/transformer_iter_160000.pth and "
    "painterly stylize photo.jpg --style s.jpg --method sanet --weights runs/sanet/decoder_iter_160000.pth",
)
def train_sanet(
    ctx: typer.Context,
    content_dir: _FFContentDir = None,
    style_dir: _FFStyleDir = None,
    out: _FFOut = None,
    resume: _FFResume = None,
    vgg: _FFVgg = None,
    init: _FFInit = None,
    init_transformer: Annotated[Optional[Path], typer.Option(
        help="Start from a transformer in the published layout (transformer_iter_N.pth).",
        rich_help_panel=PANEL_FFT_RUN)] = None,
    iterations: _FFIterations = None,
    batch_size: _FFBatch = None,
    lr: _FFLr = _SANET.lr,
    lr_decay: _FFLrDecay = _SANET.lr_decay,
    content_weight: _FFContentW = _SANET.content_weight,
    style_weight: Annotated[float, typer.Option(help="λs, weight of the mean/std style loss (relu1_1…5_1).",
                                                rich_help_panel=PANEL_FFT_OPT)] = _SANET.style_weight,
    identity1_weight: Annotated[float, typer.Option("--identity1-weight", help="λid1: pixel MSE of I_cc vs c "
                                                    "and I_ss vs s.", rich_help_panel=PANEL_FFT_OPT)
                                ] = _SANET.identity1_weight,
    identity2_weight: Annotated[float, typer.Option("--identity2-weight", help="λid2: feature MSE of I_cc, I_ss "
                                                    "at relu1_1…5_1.", rich_help_panel=PANEL_FFT_OPT)
                                ] = _SANET.identity2_weight,
    load_size: _FFLoad = _SANET.load_size,
    crop_size: _FFCrop = _SANET.crop_size,
    seed: _FFSeed = _default(TrainConfig, "seed"),
    checkpoint_every: _FFCkpt = None,
    export_every: _FFExport = None,
    sample_every: _FFSample = None,
    log_every: _FFLog = None,
    workers: _FFWorkers = None,
    threads: _FFThreads = None,
    device: _FFDevice = None,
    tensorboard: _FFTb = _default(TrainConfig, "tensorboard"),
    quiet: _FFQuiet = False,
) -> None:
    """Train SANet's transformer and decoder (frozen VGG encoder; content, style and identity losses)."""
    _train_ff(ctx, "sanet", locals())


# ----------------------------------------------------------------------------------------------------
# pix2pix: train pix2pix, translate, evaluate
# ----------------------------------------------------------------------------------------------------

PANEL_P2P_ARCH = "Architecture"
PANEL_P2P_DATA = "Data"
PANEL_P2P_OPT = "Optimisation"
PANEL_P2P_RUN = "Run"


@train_app.command(
    "pix2pix",
    epilog="Examples:\n\n"
    "  painterly train pix2pix --data ../shared/data/facades --out runs/facades --direction BtoA\n\n"
    "  painterly train pix2pix --data facades --out runs/f128 --netG unet_128 --load-size 143 "
    "--crop-size 128 --epochs 30 --epochs-decay 30\n\n"
    "  painterly train pix2pix --resume runs/f128\n\n"
    "  torchrun --nproc_per_node 2 -m painterly train pix2pix --data facades --out runs/ddp",
)
def train_pix2pix(
    ctx: typer.Context,
    data: Annotated[Optional[Path], typer.Option(help="Pairs: A|B images side by side, or folders A/ and B/ "
                                                 "paired by file name. A folder with train/ (and val/ or test/) "
                                                 "uses those.", rich_help_panel=PANEL_P2P_DATA)] = None,
    out: Annotated[Optional[Path], typer.Option(help="Run folder: checkpoint.pt, generator.pt, losses.csv, "
                                                "metrics.csv, samples/.", rich_help_panel=PANEL_P2P_RUN)] = None,
    resume: Annotated[Optional[Path], typer.Option(help="Continue the run in this folder exactly where its "
                                                   "last checkpoint stopped (its settings are reused).",
                                                   rich_help_panel=PANEL_P2P_RUN)] = None,
    val: Annotated[Optional[Path], typer.Option(help="Held-out pairs for per-epoch L1/PSNR/SSIM.",
                                                rich_help_panel=PANEL_P2P_DATA)] = None,
    direction: Annotated[str, typer.Option(help="AtoB (left/A is the input) or BtoA. Facades labels→photo "
                                           "is BtoA.", rich_help_panel=PANEL_P2P_DATA)
                         ] = _default(GeneratorOptions, "direction"),
    load_size: Annotated[int, typer.Option(help="Resize both halves to this square first (0 = keep).",
                                           rich_help_panel=PANEL_P2P_DATA)] = _default(Pix2PixConfig, "load_size"),
    crop_size: Annotated[int, typer.Option(help="Random square crop (training resolution).",
                                           rich_help_panel=PANEL_P2P_DATA)] = _default(Pix2PixConfig, "crop_size"),
    no_flip: Annotated[bool, typer.Option("--no-flip", help="No random horizontal flips.",
                                          rich_help_panel=PANEL_P2P_DATA)] = not _default(Pix2PixConfig, "flip"),
    netG: Annotated[str, typer.Option("--netG", help="unet_256 | unet_128 | resnet_9blocks.",
                                      rich_help_panel=PANEL_P2P_ARCH)] = _default(GeneratorOptions, "netG"),
    netD: Annotated[str, typer.Option("--netD", help="basic (70x70 PatchGAN) | n_layers | pixel.",
                                      rich_help_panel=PANEL_P2P_ARCH)] = _default(DiscriminatorOptions, "netD"),
    n_layers_D: Annotated[int, typer.Option("--n-layers-D", help="Layers of --netD n_layers.",
                                            rich_help_panel=PANEL_P2P_ARCH)] = _default(DiscriminatorOptions,
                                                                                        "n_layers"),
    norm: Annotated[str, typer.Option(help="batch | instance | none.", rich_help_panel=PANEL_P2P_ARCH)
                    ] = _default(GeneratorOptions, "norm"),
    ngf: Annotated[int, typer.Option(help="Generator width.", rich_help_panel=PANEL_P2P_ARCH)
                   ] = _default(GeneratorOptions, "ngf"),
    ndf: Annotated[int, typer.Option(help="Discriminator width.", rich_help_panel=PANEL_P2P_ARCH)
                   ] = _default(DiscriminatorOptions, "ndf"),
    no_dropout: Annotated[bool, typer.Option("--no-dropout", help="No dropout in the generator.",
                                             rich_help_panel=PANEL_P2P_ARCH)] = not _default(GeneratorOptions,
                                                                                             "dropout"),
    epochs: Annotated[int, typer.Option(help="Epochs at the initial learning rate.",
                                        rich_help_panel=PANEL_P2P_OPT)] = _default(Pix2PixConfig, "epochs"),
    epochs_decay: Annotated[int, typer.Option(help="Then epochs of linear decay to 0.",
                                              rich_help_panel=PANEL_P2P_OPT)] = _default(Pix2PixConfig,
                                                                                         "epochs_decay"),
    batch_size: Annotated[int, typer.Option(help="Pairs per step (per process).",
                                            rich_help_panel=PANEL_P2P_OPT)] = _default(TrainConfig, "batch_size"),
    lr: Annotated[float, typer.Option(help="Adam learning rate.", rich_help_panel=PANEL_P2P_OPT)
                  ] = _default(Pix2PixConfig, "lr"),
    beta1: Annotated[float, typer.Option(help="Adam β1.", rich_help_panel=PANEL_P2P_OPT)
                     ] = _default(Pix2PixConfig, "beta1"),
    lambda_l1: Annotated[float, typer.Option("--lambda-l1", help="Weight of the L1 loss.",
                                             rich_help_panel=PANEL_P2P_OPT)] = _default(Pix2PixConfig, "lambda_l1"),
    gan_weight: Annotated[float, typer.Option(help="Weight of the cGAN loss; 0 = L1-only baseline.",
                                              rich_help_panel=PANEL_P2P_OPT)] = _default(Pix2PixConfig, "gan_weight"),
    seed: Annotated[int, typer.Option(help="Seed (same seed → same run on CPU).",
                                      rich_help_panel=PANEL_P2P_RUN)] = _default(TrainConfig, "seed"),
    checkpoint_every: Annotated[int, typer.Option(help="Epochs between checkpoints.",
                                                  rich_help_panel=PANEL_P2P_RUN)
                                ] = _default(TrainConfig, "checkpoint_every_epochs"),
    sample_every: Annotated[int, typer.Option(help="Iterations between sample sheets (0: every epoch).",
                                              rich_help_panel=PANEL_P2P_RUN)] = _default(TrainConfig, "sample_every"),
    val_limit: Annotated[int, typer.Option(help="Validate on at most this many pairs (0 = all).",
                                           rich_help_panel=PANEL_P2P_RUN)] = _default(Pix2PixConfig, "val_limit"),
    workers: Annotated[Optional[int], typer.Option(help="Data loader processes.",
                                                   rich_help_panel=PANEL_P2P_RUN)] = None,
    threads: Annotated[Optional[int], typer.Option(help="torch CPU threads (0 = torch's default).",
                                                   rich_help_panel=PANEL_P2P_RUN)] = None,
    device: Annotated[str, typer.Option(help="auto | cpu | cuda | mps.", rich_help_panel=PANEL_P2P_RUN)
                      ] = _default(TrainConfig, "device"),
    tensorboard: Annotated[bool, typer.Option("--tensorboard", help="Also log to RUN/tb (if installed).",
                                              rich_help_panel=PANEL_P2P_RUN)] = _default(TrainConfig, "tensorboard"),
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.",
                                        rich_help_panel=PANEL_P2P_RUN)] = False,
) -> None:
    """Train pix2pix (cGAN + λ·L1, PatchGAN) on paired images; writes checkpoints you can --resume."""
    from ..methods import pix2pix as p2p
    from ..train.config import resume_configs

    loop_opts = {"batch_size": batch_size, "seed": seed, "checkpoint_every": checkpoint_every,
                 "sample_every": sample_every, "device": device, "tensorboard": tensorboard, "workers": workers,
                 "threads": threads}
    loop_given = {**_from_command_line(ctx, loop_opts, rename={"checkpoint_every": "checkpoint_every_epochs"}),
                  "progress": not quiet}
    if resume is not None:
        # the recipe and architecture are the run's: a given one that differs is an error, epochs extend
        recipe_given = _from_command_line(ctx, dict(
            direction=direction, load_size=load_size, crop_size=crop_size, no_flip=no_flip, netG=netG, netD=netD,
            n_layers_D=n_layers_D, norm=norm, ngf=ngf, ndf=ndf, no_dropout=no_dropout, epochs=epochs,
            epochs_decay=epochs_decay, lr=lr, beta1=beta1, lambda_l1=lambda_l1, gan_weight=gan_weight,
            val_limit=val_limit))
        cfg, loop = resume_configs(resume, "pix2pix", Pix2PixConfig, loop_given, recipe_given,
                                   extendable=("epochs", "epochs_decay"))
        if data is not None:  # the data moved: same pairs, new place
            cfg.data, cfg.val = p2p.resolve_data_dirs(data, val or cfg.val or None)
    else:
        out = _new_run_out(out, "--data DIR", data)
        assert data is not None
        train_dir, val_dir = p2p.resolve_data_dirs(data, val)
        g = GeneratorOptions(netG=netG, norm=norm, ngf=ngf, dropout=not no_dropout, direction=direction,
                             crop_size=crop_size)
        d = DiscriminatorOptions(netD=netD, n_layers=n_layers_D, norm=norm, ndf=ndf)
        cfg = Pix2PixConfig(data=train_dir, val=val_dir, generator=g.to_dict(), discriminator=d.to_dict(),
                            load_size=load_size, crop_size=crop_size, flip=not no_flip, epochs=epochs,
                            epochs_decay=epochs_decay, lr=lr, beta1=beta1, lambda_l1=lambda_l1,
                            gan_weight=gan_weight, val_limit=val_limit)
        loop = TrainConfig(**{**loop_given, "out": str(out)})
    _report(p2p.train(cfg, loop, resume=resume is not None), "pix2pix", epochs=True)
