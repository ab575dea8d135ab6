"""pix2pix (Isola et al. 2017): paired image-to-image translation with a U-Net/ResNet generator and a
PatchGAN discriminator.

Read top-down: options → networks (exact junyanz/pytorch-CycleGAN-and-pix2pix module layout, so its
published ``latest_net_G.pth`` files load) → checkpoints → inference (pad, translate, crop back) →
metrics (L1, PSNR, SSIM) → the training task for ``painterly.train.loop.Trainer`` → ONNX export.
Paired data loading (A|B or A/ + B/) is ``painterly.train.data.PairedDataset``.

Tensors are ``[N, 3, H, W]`` in ``[-1, 1]`` inside this module (the networks' range); the public
functions that take or return images say so.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from PIL.Image import Resampling
from torch import nn

from ..errors import PainterlyError

GENERATORS = ("unet_256", "unet_128", "resnet_9blocks")
DISCRIMINATORS = ("basic", "n_layers", "pixel")
NORMS = ("batch", "instance", "none")
CHECKPOINT_FORMAT = "painterly-pix2pix"


# ----------------------------------------------------------------------------------------------------
# options
# ----------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class GeneratorOptions:
    """Everything needed to rebuild the generator; stored inside every checkpoint we write."""

    netG: str = "unet_256"
    norm: str = "batch"
    ngf: int = 64
    input_nc: int = 3
    output_nc: int = 3
    dropout: bool = True          # pix2pix trains with dropout (the reference's --no_dropout is off)
    direction: str = "AtoB"       # informational: which side of the training pairs was the input
    crop_size: int = 256          # informational: the training resolution

    def __post_init__(self) -> None:
        if self.netG not in GENERATORS:
            raise PainterlyError(f"unknown generator {self.netG!r}; use one of {', '.join(GENERATORS)}.")
        if self.norm not in NORMS:
            raise PainterlyError(f"unknown norm {self.norm!r}; use one of {', '.join(NORMS)}.")
        if self.ngf < 1 or self.input_nc < 1 or self.output_nc < 1:
            raise PainterlyError("ngf and channel counts must be positive.")
        if self.direction not in ("AtoB", "BtoA"):
            raise PainterlyError(f"direction must be AtoB or BtoA, got {self.direction!r}.")

    @property
    def multiple(self) -> int:
        """Input sides must be a multiple of this (2^levels); translate() pads to it."""
        return 2 ** unet_levels(self.netG) if self.netG.startswith("unet") else 4

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> GeneratorOptions:
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})


@dataclass(frozen=True)
class DiscriminatorOptions:
    netD: str = "basic"
    n_layers: int = 3             # used by netD=n_layers (basic is n_layers 3 = 70x70 PatchGAN)
    norm: str = "batch"
    ndf: int = 64
    input_nc: int = 6             # concat(A, B): the discriminator is conditional

    def __post_init__(self) -> None:
        if self.netD not in DISCRIMINATORS:
            raise PainterlyError(f"unknown discriminator {self.netD!r}; use one of {', '.join(DISCRIMINATORS)}.")
        if self.norm not in NORMS:
            raise PainterlyError(f"unknown norm {self.norm!r}; use one of {', '.join(NORMS)}.")
        if self.n_layers < 1 or self.ndf < 1:
            raise PainterlyError("n_layers and ndf must be positive.")


def unet_levels(netG: str) -> int:
    return {"unet_256": 8, "unet_128": 7}[netG]


# ----------------------------------------------------------------------------------------------------
# networks — module nesting and Sequential indices mirror the reference so state_dict keys match
# ----------------------------------------------------------------------------------------------------

def _norm(kind: str, channels: int) -> nn.Module:
    if kind == "batch":
        return nn.BatchNorm2d(channels, affine=True, track_running_stats=True)
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=False, track_running_stats=False)
    return nn.Identity()


def _use_bias(norm: str) -> bool:
    # The reference gives convs a bias only with instance norm (batch norm's shift makes it redundant).
    # With norm=none it has no bias either (a quirk we keep so its files load).
    return norm == "instance"


class UnetBlock(nn.Module):
    """One U-Net level: down → inner levels → up, with the input concatenated to the output (skip).

    The reference's ``UnetSkipConnectionBlock``; Sequential positions (and so keys) are identical:
    outermost [down, inner, relu, up, tanh]; innermost [lrelu, down, relu, up, norm];
    middle [lrelu, down, norm, inner, relu, up, norm, (dropout)].
    """

    def __init__(self, outer_nc: int, inner_nc: int, norm: str, input_nc: int | None = None,
                 inner: nn.Module | None = None, outermost: bool = False, dropout: bool = False) -> None:
        super().__init__()
        self.outermost = outermost
        bias = _use_bias(norm)
        input_nc = outer_nc if input_nc is None else input_nc
        down = nn.Conv2d(input_nc, inner_nc, 4, stride=2, padding=1, bias=bias)
        if outermost:
            assert inner is not None
            up = nn.ConvTranspose2d(inner_nc * 2, outer_nc, 4, stride=2, padding=1)
            layers: list[nn.Module] = [down, inner, nn.ReLU(True), up, nn.Tanh()]
        elif inner is None:  # innermost: no norm on the 1x1 bottleneck, nothing to concatenate below
            up = nn.ConvTranspose2d(inner_nc, outer_nc, 4, stride=2, padding=1, bias=bias)
            layers = [nn.LeakyReLU(0.2, True), down, nn.ReLU(True), up, _norm(norm, outer_nc)]
        else:
            up = nn.ConvTranspose2d(inner_nc * 2, outer_nc, 4, stride=2, padding=1, bias=bias)
            layers = [nn.LeakyReLU(0.2, True), down, _norm(norm, inner_nc), inner, nn.ReLU(True), up,
                      _norm(norm, outer_nc)]
            if dropout:
                layers.append(nn.Dropout(0.5))
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.outermost:
            return self.model(x)
        return torch.cat([x, self.model(x)], 1)


class UnetGenerator(nn.Module):
    """U-Net with ``levels`` stride-2 downsamplings (8 for unet_256, 7 for unet_128).

    Channels ngf, 2ngf, 4ngf, then 8ngf for the rest. Dropout 0.5 sits in the decoder blocks of the
    8ngf middle levels: levels−5 of them (3 for unet_256 — the paper's CD512 ×3 — and 2 for unet_128,
    as in the reference).
    """

    def __init__(self, input_nc: int, output_nc: int, levels: int, ngf: int = 64, norm: str = "batch",
                 dropout: bool = True) -> None:
        super().__init__()
        if levels < 5:
            raise PainterlyError("a U-Net needs at least 5 levels.")
        block = UnetBlock(ngf * 8, ngf * 8, norm)
        for _ in range(levels - 5):
            block = UnetBlock(ngf * 8, ngf * 8, norm, inner=block, dropout=dropout)
        block = UnetBlock(ngf * 4, ngf * 8, norm, inner=block)
        block = UnetBlock(ngf * 2, ngf * 4, norm, inner=block)
        block = UnetBlock(ngf, ngf * 2, norm, inner=block)
        self.model = UnetBlock(output_nc, ngf, norm, input_nc=input_nc, inner=block, outermost=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class ResnetBlock(nn.Module):
    def __init__(self, dim: int, norm: str, dropout: bool) -> None:
        super().__init__()
        bias = _use_bias(norm)
        layers: list[nn.Module] = [nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3, bias=bias), _norm(norm, dim),
                                   nn.ReLU(True)]
        if dropout:
            layers.append(nn.Dropout(0.5))
        layers += [nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3, bias=bias), _norm(norm, dim)]
        self.conv_block = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv_block(x)


class ResnetGenerator(nn.Module):
    """Johnson et al.'s generator: 7x7 conv, 2 stride-2 downsamplings, n residual blocks, 2 transposed
    convs, 7x7 conv, tanh (the reference's ``ResnetGenerator``, same keys)."""

    def __init__(self, input_nc: int, output_nc: int, ngf: int = 64, norm: str = "batch",
                 dropout: bool = True, n_blocks: int = 9) -> None:
        super().__init__()
        bias = _use_bias(norm)
        layers: list[nn.Module] = [nn.ReflectionPad2d(3), nn.Conv2d(input_nc, ngf, 7, bias=bias),
                                   _norm(norm, ngf), nn.ReLU(True)]
        for i in range(2):
            m = 2 ** i
            layers += [nn.Conv2d(ngf * m, ngf * m * 2, 3, stride=2, padding=1, bias=bias),
                       _norm(norm, ngf * m * 2), nn.ReLU(True)]
        layers += [ResnetBlock(ngf * 4, norm, dropout) for _ in range(n_blocks)]
        for i in range(2):
            m = 2 ** (2 - i)
            layers += [nn.ConvTranspose2d(ngf * m, ngf * m // 2, 3, stride=2, padding=1, output_padding=1,
                                          bias=bias),
                       _norm(norm, ngf * m // 2), nn.ReLU(True)]
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, output_nc, 7), nn.Tanh()]
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class NLayerDiscriminator(nn.Module):
    """PatchGAN: 4x4 convs, stride 2 for the first n_layers, then stride 1, ending in a 1-channel map of
    logits. n_layers 3 (``basic``) sees 70x70-pixel patches."""

    def __init__(self, input_nc: int, ndf: int = 64, n_layers: int = 3, norm: str = "batch") -> None:
        super().__init__()
        bias = _use_bias(norm)
        layers: list[nn.Module] = [nn.Conv2d(input_nc, ndf, 4, stride=2, padding=1), nn.LeakyReLU(0.2, True)]
        mult = 1
        for n in range(1, n_layers):
            prev, mult = mult, min(2 ** n, 8)
            layers += [nn.Conv2d(ndf * prev, ndf * mult, 4, stride=2, padding=1, bias=bias),
                       _norm(norm, ndf * mult), nn.LeakyReLU(0.2, True)]
        prev, mult = mult, min(2 ** n_layers, 8)
        layers += [nn.Conv2d(ndf * prev, ndf * mult, 4, stride=1, padding=1, bias=bias),
                   _norm(norm, ndf * mult), nn.LeakyReLU(0.2, True),
                   nn.Conv2d(ndf * mult, 1, 4, stride=1, padding=1)]
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class PixelDiscriminator(nn.Module):
    """1x1 PixelGAN: judges each pixel's colour on its own (no spatial statistics)."""

    def __init__(self, input_nc: int, ndf: int = 64, norm: str = "batch") -> None:
        super().__init__()
        bias = _use_bias(norm)
        self.net = nn.Sequential(
            nn.Conv2d(input_nc, ndf, 1), nn.LeakyReLU(0.2, True),
            nn.Conv2d(ndf, ndf * 2, 1, bias=bias), _norm(norm, ndf * 2), nn.LeakyReLU(0.2, True),
            nn.Conv2d(ndf * 2, 1, 1, bias=bias),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def init_weights(net: nn.Module, gain: float = 0.02) -> nn.Module:
    """The paper's init: conv weights ~ N(0, 0.02), biases 0; batch-norm scales ~ N(1, 0.02), shifts 0."""
    for m in net.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, gain)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, gain)
            nn.init.zeros_(m.bias)
    return net


def build_generator(opts: GeneratorOptions, init: bool = True) -> nn.Module:
    if opts.netG.startswith("unet"):
        net: nn.Module = UnetGenerator(opts.input_nc, opts.output_nc, unet_levels(opts.netG), opts.ngf,
                                       opts.norm, opts.dropout)
    else:
        net = ResnetGenerator(opts.input_nc, opts.output_nc, opts.ngf, opts.norm, opts.dropout, n_blocks=9)
    return init_weights(net) if init else net


def build_discriminator(opts: DiscriminatorOptions, init: bool = True) -> nn.Module:
    if opts.netD == "pixel":
        net: nn.Module = PixelDiscriminator(opts.input_nc, opts.ndf, opts.norm)
    else:
        n = 3 if opts.netD == "basic" else opts.n_layers
        net = NLayerDiscriminator(opts.input_nc, opts.ndf, n, opts.norm)
    return init_weights(net) if init else net


def generator_layout(opts: GeneratorOptions) -> dict[str, tuple[int, ...]]:
    """Expected {key: shape} of a generator state_dict with these options (the reference's keys)."""
    return {k: tuple(v.shape) for k, v in build_generator(opts, init=False).state_dict().items()}


# ----------------------------------------------------------------------------------------------------
# checkpoints
# ----------------------------------------------------------------------------------------------------

def generator_checkpoint(G: nn.Module, opts: GeneratorOptions, extra: Mapping[str, Any] | None = None
                         ) -> dict[str, Any]:
    """What we save: the weights plus the options that rebuild the architecture (never a mismatch)."""
    sd = {k: v.detach().cpu().clone() for k, v in G.state_dict().items()}
    return {"format": CHECKPOINT_FORMAT, "version": 1, "options": opts.to_dict(), "state_dict": sd,
            **(dict(extra) if extra else {})}


def _fit_reference_keys(sd: dict[str, torch.Tensor], G: nn.Module) -> dict[str, torch.Tensor]:
    """Tolerate what old reference files carry: no num_batches_tracked (PyTorch < 0.4.1), running stats
    for InstanceNorm layers (saved before track_running_stats existed), a DataParallel ``module.`` prefix."""
    if sd and all(k.startswith("module.") for k in sd):
        sd = {k[len("module."):]: v for k, v in sd.items()}
    ours = G.state_dict()
    out = {}
    for k, v in sd.items():
        if k not in ours and k.rsplit(".", 1)[-1] in ("running_mean", "running_var", "num_batches_tracked"):
            continue
        out[k] = v
    for k, v in ours.items():
        if k.endswith("num_batches_tracked") and k not in out:
            out[k] = v.clone()
    return out


def load_generator(path: str | Path, netG: str | None = None, norm: str | None = None, ngf: int | None = None,
                   dropout: bool | None = None) -> tuple[nn.Module, GeneratorOptions]:
    """Load a generator from one of our checkpoints (options inside; the arguments must agree if given),
    from a training-run checkpoint (``checkpoint.pt``), or from a reference ``latest_net_G.pth`` /
    published ``facades_label2photo.pth`` plain state_dict given its ``netG`` and ``norm``."""
    from ..nn.weights import check_layout, load_checkpoint

    obj = load_checkpoint(path, "pix2pix checkpoint")
    what = f"pix2pix checkpoint {path}"
    if isinstance(obj, Mapping) and obj.get("format") == "painterly-train":
        if obj.get("task") != "pix2pix":
            raise PainterlyError(f"{path} is a training checkpoint of {obj.get('task')!r}, not pix2pix.")
        obj = {"format": CHECKPOINT_FORMAT, "options": obj["task_config"]["generator"],
               "state_dict": obj["models"]["G"]}
    if isinstance(obj, Mapping) and obj.get("format") == CHECKPOINT_FORMAT:
        opts = GeneratorOptions.from_dict(obj["options"])
        given = {"netG": netG, "norm": norm, "ngf": ngf}
        for name, val in given.items():
            if val is not None and val != getattr(opts, name):
                raise PainterlyError(f"{what} was trained with --{name} {getattr(opts, name)}, "
                                     f"not {val}; drop the option (the checkpoint knows its architecture).")
        sd = dict(obj["state_dict"])
    elif isinstance(obj, Mapping) and obj and all(isinstance(v, torch.Tensor) for v in obj.values()):
        if netG is None or norm is None:
            raise PainterlyError(f"{path} is a plain state_dict without architecture options (a reference "
                                 "latest_net_G.pth?); pass --netG and --norm (e.g. --netG unet_256 --norm batch).")
        opts = GeneratorOptions(netG=netG, norm=norm, ngf=ngf or 64, dropout=True if dropout is None else dropout)
        sd = dict(obj)
    else:
        raise PainterlyError(f"{what} is neither a painterly pix2pix checkpoint nor a generator state_dict.")
    if dropout is not None and dropout != opts.dropout:
        opts = dataclasses.replace(opts, dropout=dropout)
    G = build_generator(opts, init=False)
    sd = _fit_reference_keys(sd, G)
    check_layout(sd, {k: tuple(v.shape) for k, v in G.state_dict().items()}, what,
                 f"the {opts.netG} generator with --norm {opts.norm} --ngf {opts.ngf} "
                 "(keys model.model.0.weight, model.model.1.model.1.weight, …); check --netG/--norm/--ngf")
    G.load_state_dict(sd)
    return G, opts


# ----------------------------------------------------------------------------------------------------
# inference
# ----------------------------------------------------------------------------------------------------

def pad_to_multiple(x: torch.Tensor, multiple: int) -> tuple[torch.Tensor, tuple[int, int]]:
    """Pad (reflect where possible, else replicate) bottom/right to a multiple; returns (padded, (h, w))."""
    h, w = x.shape[-2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    if ph == 0 and pw == 0:
        return x, (h, w)
    mode = "reflect" if ph < h and pw < w else "replicate"
    return F.pad(x, (0, pw, 0, ph), mode=mode), (h, w)


def set_mode(G: nn.Module, eval_mode: bool) -> None:
    """eval_mode: running BN statistics, no dropout. Otherwise the paper's test-time setting: batch
    statistics and dropout stay on (the noise source of pix2pix), without touching the running stats."""
    G.train(not eval_mode)
    for m in G.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            # in train mode, track_running_stats=False means: normalise by batch statistics and leave the
            # running averages (and their counter) alone; eval mode uses the running averages either way
            m.track_running_stats = eval_mode


@torch.no_grad()
def translate_tensor(G: nn.Module, x: torch.Tensor, multiple: int) -> torch.Tensor:
    """[N,3,H,W] in [-1,1] of any size → same size output in [-1,1] (padded for the network, cropped back)."""
    xp, (h, w) = pad_to_multiple(x, multiple)
    return G(xp)[..., :h, :w]


def to_unit(x: torch.Tensor) -> torch.Tensor:
    return (x.clamp(-1, 1) + 1) / 2


def from_unit(x: torch.Tensor) -> torch.Tensor:
    return x * 2 - 1


# ----------------------------------------------------------------------------------------------------
# metrics (images in [0, 1])
# ----------------------------------------------------------------------------------------------------

def l1(a: torch.Tensor, b: torch.Tensor) -> float:
    """Mean absolute error in [0, 1] units."""
    return float((a - b).abs().mean())


def psnr(a: torch.Tensor, b: torch.Tensor, data_range: float = 1.0) -> float:
    """10·log10(range² / MSE) in dB (inf for identical images)."""
    mse = float(((a.double() - b.double()) ** 2).mean())
    return math.inf if mse == 0 else 10 * math.log10(data_range ** 2 / mse)


def _gaussian_1d(size: int = 11, sigma: float = 1.5) -> torch.Tensor:
    r = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g = torch.exp(-(r ** 2) / (2 * sigma ** 2))
    return g / g.sum()


def ssim(a: torch.Tensor, b: torch.Tensor, data_range: float = 1.0, win: int = 11, sigma: float = 1.5) -> float:
    """Mean SSIM (Wang et al. 2004): 11x11 Gaussian window σ 1.5, K1 0.01, K2 0.03, per channel, averaged
    over the positions where the window fits (as scikit-image's structural_similarity with
    gaussian_weights=True, use_sample_covariance=False). Float64 throughout."""
    if a.shape != b.shape:
        raise ValueError(f"ssim: shapes differ {tuple(a.shape)} vs {tuple(b.shape)}")
    x = a.double().reshape(-1, 1, *a.shape[-2:])
    y = b.double().reshape(-1, 1, *b.shape[-2:])
    if min(x.shape[-2:]) < win:
        raise PainterlyError(f"SSIM needs images of at least {win}x{win} px.")
    g = _gaussian_1d(win, sigma)
    gh, gv = g.view(1, 1, 1, win), g.view(1, 1, win, 1)

    def blur(t: torch.Tensor) -> torch.Tensor:  # the separable 2-D Gaussian, 'valid' positions only
        return F.conv2d(F.conv2d(t, gh), gv)

    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    mx, my = blur(x), blur(y)
    sxx = blur(x * x) - mx * mx
    syy = blur(y * y) - my * my
    sxy = blur(x * y) - mx * my
    s = ((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx * mx + my * my + c1) * (sxx + syy + c2))
    return float(s.mean())


# ----------------------------------------------------------------------------------------------------
# evaluation and sheets
# ----------------------------------------------------------------------------------------------------

@dataclass
class Scores:
    l1: float
    psnr: float
    ssim: float
    n: int

    def to_dict(self) -> dict[str, float]:
        return {"l1": self.l1, "psnr": self.psnr, "ssim": self.ssim, "n": self.n}


def evaluate_generator(G: nn.Module, dataset: Any, multiple: int, eval_mode: bool = False, seed: int = 0,
                       device: torch.device | str = "cpu", limit: int = 0, progress: bool = False) -> Scores:
    """Mean per-image L1 / PSNR / SSIM (images in [0, 1]) of G over a PairedDataset (train=False).

    G is copied, so a model being trained is left untouched (its BN running stats and RNG stream too).
    """
    import copy

    from tqdm import tqdm

    Gv = copy.deepcopy(G).to(device)
    set_mode(Gv, eval_mode)
    n = len(dataset) if not limit else min(limit, len(dataset))
    sums = [0.0, 0.0, 0.0]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for i in tqdm(range(n), desc="evaluate", unit="img", disable=not progress):
            x, y = dataset[i]
            out = to_unit(translate_tensor(Gv, x[None].to(device), multiple)).cpu()
            tgt = to_unit(y[None])
            sums[0] += l1(out, tgt)
            sums[1] += psnr(out, tgt)
            sums[2] += ssim(out, tgt)
    return Scores(sums[0] / n, sums[1] / n, sums[2] / n, n)


def make_sheet(rows: list[list[torch.Tensor]]) -> Any:
    """A PIL image of rows of [-1,1] tensors [3,H,W] (input | output | target), 2 px white gaps."""
    from PIL import Image

    from ..nn.convert import to_pil

    gap = 2
    h = max(t.shape[-2] for r in rows for t in r)
    w = max(t.shape[-1] for r in rows for t in r)
    ncol = max(len(r) for r in rows)
    canvas = Image.new("RGB", (ncol * w + (ncol - 1) * gap, len(rows) * h + (len(rows) - 1) * gap), "white")
    for i, r in enumerate(rows):
        for j, t in enumerate(r):
            canvas.paste(to_pil(to_unit(t)), (j * (w + gap), i * (h + gap)))
    return canvas


# ----------------------------------------------------------------------------------------------------
# file-level API (the CLI's translate / evaluate)
# ----------------------------------------------------------------------------------------------------

def _split_pair(img: Any, path: Path, direction: str) -> tuple[Any, Any]:
    w, h = img.size
    if w % 2:
        raise PainterlyError(f"{path} is {w}x{h}: an A|B side-by-side pair needs an even width.")
    a, b = img.crop((0, 0, w // 2, h)), img.crop((w // 2, 0, w, h))
    return (a, b) if direction == "AtoB" else (b, a)


def translate_files(inputs: list[str], checkpoint: str | Path, output: str | Path | None = None,
                    eval_mode: bool = False, seed: int = 0, pairs: bool = False, direction: str = "AtoB",
                    size: int = 0, sheet: str | Path | None = None, netG: str | None = None,
                    norm: str | None = None, ngf: int | None = None, device: str = "auto",
                    progress: bool = True, allow_large: bool = False) -> list[tuple[Path, Path]]:
    """Translate image files; returns [(input, written file)]. See ``painterly translate --help``."""
    from tqdm import tqdm

    from .. import image as im
    from ..api import expand_inputs
    from ..nn.convert import to_pil as _to_pil, to_tensor as _to_tensor
    from ..nn.device import pick

    if direction not in ("AtoB", "BtoA"):
        raise PainterlyError(f"direction must be AtoB or BtoA, got {direction!r}.")
    files = expand_inputs(inputs, "input")
    many = len(files) > 1
    out = Path(output) if output is not None else (Path("translated") if many else
                                                    Path(f"{files[0].stem}-pix2pix.png"))
    if many and out.suffix.lower() in im.SAVE_FORMATS:
        raise PainterlyError(f"{len(files)} inputs need an output folder, but -o {out} looks like a file name.")
    if not many and out.suffix.lower() not in im.SAVE_FORMATS:
        raise PainterlyError(f"cannot save {out}: unknown extension {out.suffix or '(none)'}; use one of "
                             + ", ".join(sorted(im.SAVE_FORMATS)))
    if sheet is not None and Path(sheet).suffix.lower() not in im.SAVE_FORMATS:
        raise PainterlyError(f"cannot save sheet {sheet}: unknown extension {Path(sheet).suffix or '(none)'}.")
    from ..checks import check_outputs  # no output may overwrite an input; all writable, before any work
    check_outputs([*([out / f"{f.stem}.png" for f in files] if many else [out]), sheet],
                  [*(("input image", f) for f in files), ("checkpoint", checkpoint)], out if many else None)
    dev = pick(device)
    G, opts = load_generator(checkpoint, netG=netG, norm=norm, ngf=ngf)
    G.to(dev)
    set_mode(G, eval_mode)
    torch.manual_seed(seed)
    done: list[tuple[Path, Path]] = []
    rows: list[list[torch.Tensor]] = []
    for f in tqdm(files, desc="translate", unit="img", disable=not (progress and many)):
        pic = im.load_image(f, "input image", allow_large=allow_large)
        src, tgt = _split_pair(pic.rgb, f, direction) if pairs else (pic.rgb, None)
        src = im.resize_long(src, size, allow_large=allow_large, what="the output")
        x = from_unit(_to_tensor(src)).to(dev)
        y = translate_tensor(G, x, opts.multiple)
        dest = out / f"{f.stem}.png" if many else out
        im.save_image(_to_pil(to_unit(y).cpu()), dest)
        done.append((f, dest))
        if sheet is not None:
            row = [x[0].cpu(), y[0].cpu()]
            if tgt is not None:
                row.append(from_unit(_to_tensor(tgt.resize(src.size, Resampling.BICUBIC)))[0])
            rows.append(row)
    if sheet is not None and rows:
        im.save_image(make_sheet(rows), sheet)
    return done


def evaluate_checkpoint(checkpoint: str | Path, data: str | Path, direction: str | None = None,
                        size: int | None = None, eval_mode: bool = False, seed: int = 0,
                        netG: str | None = None, norm: str | None = None, ngf: int | None = None,
                        device: str = "auto", progress: bool = False) -> dict[str, Any]:
    """L1 / PSNR / SSIM over a folder of pairs (see ``evaluate_generator``) as a JSON-able report."""
    from ..nn.convert import to_pil as _to_pil, to_tensor as _to_tensor
    from ..nn.device import pick
    from ..train.data import PairedConfig, PairedDataset

    G, opts = load_generator(checkpoint, netG=netG, norm=norm, ngf=ngf)
    direction = direction or opts.direction
    size = size or opts.crop_size
    ds = PairedDataset(data, PairedConfig(direction=direction, crop_size=size, train=False))
    sc = evaluate_generator(G, ds, opts.multiple, eval_mode=eval_mode, seed=seed, device=pick(device),
                            progress=progress)
    return {**sc.to_dict(), "mode": "eval" if eval_mode else "train", "size": size, "direction": direction,
            "netG": opts.netG, "checkpoint": str(checkpoint), "data": str(data)}


# ----------------------------------------------------------------------------------------------------
# training task (the loop itself is painterly.train.loop)
# ----------------------------------------------------------------------------------------------------

@dataclass
class Pix2PixConfig:
    """The pix2pix recipe (Isola et al. 2017; design.md §6). Stored in every training checkpoint."""

    data: str = ""
    val: str = ""                 # held-out pairs for per-epoch L1/PSNR/SSIM ("" = none)
    generator: dict[str, Any] = dataclasses.field(default_factory=lambda: GeneratorOptions().to_dict())
    discriminator: dict[str, Any] = dataclasses.field(default_factory=lambda: dataclasses.asdict(
        DiscriminatorOptions()))
    load_size: int = 286
    crop_size: int = 256
    flip: bool = True
    epochs: int = 100             # at the initial learning rate
    epochs_decay: int = 100       # then linearly down to 0
    lr: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    lambda_l1: float = 100.0
    gan_weight: float = 1.0       # 0: L1-only baseline (no discriminator at all)
    val_limit: int = 0            # evaluate at most this many validation pairs per epoch (0 = all)
    sample_count: int = 4         # rows of the per-epoch sample sheet

    @property
    def g_opts(self) -> GeneratorOptions:
        return GeneratorOptions.from_dict(self.generator)

    @property
    def d_opts(self) -> DiscriminatorOptions:
        return DiscriminatorOptions(**self.discriminator)

    def lr_factor(self, epoch: int) -> float:
        """LR multiplier while training epoch ``epoch`` (0-based): 1 for the first ``epochs``, then
        linear towards 0 over ``epochs_decay`` (the reference's 'linear' policy)."""
        return 1.0 - max(0, epoch + 1 - self.epochs) / float(self.epochs_decay + 1)


def paired_config(cfg: Pix2PixConfig, train: bool) -> Any:
    from ..train.data import PairedConfig

    return PairedConfig(direction=cfg.g_opts.direction, load_size=cfg.load_size, crop_size=cfg.crop_size,
                        flip=cfg.flip, train=train)


def _set_requires_grad(net: nn.Module, flag: bool) -> None:
    for p in net.parameters():
        p.requires_grad_(flag)


def make_task(cfg: Pix2PixConfig) -> Any:
    """The pix2pix Task for painterly.train.loop.Trainer."""
    from ..train.data import PairedDataset
    from ..train.loop import Task, TrainContext, unwrap

    class _Pix2Pix(Task):
        name = "pix2pix"

        def __init__(self) -> None:
            self.cfg = cfg
            self.val = PairedDataset(cfg.val, paired_config(cfg, train=False)) if cfg.val else None

        def setup(self, ctx: TrainContext) -> None:
            self.ctx = ctx
            g, d = cfg.g_opts, cfg.d_opts
            self.G = ctx.ddp(build_generator(g).to(ctx.device))
            # fused Adam: one kernel per step on CPU too (~15% faster pix2pix steps here)
            adam = {"lr": cfg.lr, "betas": (cfg.beta1, cfg.beta2), "fused": ctx.device.type in ("cpu", "cuda")}
            self.opt_G = torch.optim.Adam(self.G.parameters(), **adam)
            self.sched_G = torch.optim.lr_scheduler.LambdaLR(self.opt_G, cfg.lr_factor)
            self.use_gan = cfg.gan_weight > 0
            if self.use_gan:
                self.D_raw = build_discriminator(d).to(ctx.device)
                self.D = ctx.ddp(self.D_raw)
                self.opt_D = torch.optim.Adam(self.D.parameters(), **adam)
                self.sched_D = torch.optim.lr_scheduler.LambdaLR(self.opt_D, cfg.lr_factor)

        def models(self) -> dict[str, nn.Module]:
            return {"G": unwrap(self.G), **({"D": self.D_raw} if self.use_gan else {})}

        def optimizers(self) -> dict[str, torch.optim.Optimizer]:
            return {"G": self.opt_G, **({"D": self.opt_D} if self.use_gan else {})}

        def schedulers(self) -> dict[str, Any]:
            return {"G": self.sched_G, **({"D": self.sched_D} if self.use_gan else {})}

        def step(self, batch: Any, it: int) -> dict[str, float]:
            A, B = batch
            fake = self.G(A)
            out: dict[str, float] = {}
            if self.use_gan:
                # D: real pairs → 1, fake pairs → 0, loss halved (slows D relative to G)
                _set_requires_grad(self.D_raw, True)
                self.opt_D.zero_grad(set_to_none=True)
                pf = self.D(torch.cat([A, fake.detach()], 1))
                pr = self.D(torch.cat([A, B], 1))
                d_fake = F.binary_cross_entropy_with_logits(pf, torch.zeros_like(pf))
                d_real = F.binary_cross_entropy_with_logits(pr, torch.ones_like(pr))
                ((d_fake + d_real) * 0.5).backward()
                self.opt_D.step()
                _set_requires_grad(self.D_raw, False)
                out.update(D_real=d_real.item(), D_fake=d_fake.item())
            self.opt_G.zero_grad(set_to_none=True)
            g_l1 = (fake - B).abs().mean()
            loss = cfg.lambda_l1 * g_l1
            if self.use_gan:
                # non-saturating G loss: maximise log D(A, G(A)); the un-wrapped D, whose weights are
                # frozen here, so DDP only synchronises G's gradients
                pg = self.D_raw(torch.cat([A, fake], 1))
                g_gan = F.binary_cross_entropy_with_logits(pg, torch.ones_like(pg))
                loss = loss + cfg.gan_weight * g_gan
                out["G_GAN"] = g_gan.item()
            loss.backward()
            self.opt_G.step()
            out["G_L1"] = g_l1.item()
            return out

        def end_epoch(self, epoch: int) -> dict[str, float]:
            for s in self.schedulers().values():
                s.step()
            metrics: dict[str, float] = {"lr": self.opt_G.param_groups[0]["lr"]}
            if self.val is not None and self.ctx.is_main:
                sc = evaluate_generator(unwrap(self.G), self.val, cfg.g_opts.multiple, device=self.ctx.device,
                                        limit=cfg.val_limit)
                metrics.update(val_l1=sc.l1, val_psnr=sc.psnr, val_ssim=sc.ssim)
            return metrics

        def sample(self, it: int) -> Any:
            import copy

            ds = self.val
            if ds is None:
                from ..train.data import PairedDataset

                ds = PairedDataset(cfg.data, paired_config(cfg, train=False))
            Gv = copy.deepcopy(unwrap(self.G))
            set_mode(Gv, eval_mode=False)
            rows = []
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(0)
                for i in range(min(cfg.sample_count, len(ds))):
                    x, y = ds[i]
                    o = translate_tensor(Gv, x[None].to(self.ctx.device), cfg.g_opts.multiple)[0].cpu()
                    rows.append([x, o, y])
            return make_sheet(rows)

        def config(self) -> dict[str, Any]:
            return dataclasses.asdict(cfg)

        def export(self, out: Path) -> list[Path]:
            from ..nn.weights import atomic_torch_save

            p = out / "generator.pt"
            atomic_torch_save(generator_checkpoint(unwrap(self.G), cfg.g_opts,
                                                   {"train": {"gan_weight": cfg.gan_weight,
                                                              "epochs": cfg.epochs + cfg.epochs_decay}}), p)
            return [p]

    return _Pix2Pix()


def train_datasets(cfg: Pix2PixConfig) -> Any:
    """The training PairedDataset (``data`` or ``data/train``); every pair opened once up front."""
    from ..train.data import PairedDataset

    ds = PairedDataset(cfg.data, paired_config(cfg, train=True))
    ds.check()
    return ds


def resolve_data_dirs(data: str | Path, val: str | Path | None) -> tuple[str, str]:
    """``--data DIR``: DIR/train (+ DIR/val or DIR/test for validation) when present, else DIR itself."""
    d = Path(data)
    if not d.exists():
        raise PainterlyError(f"training data folder not found: {d}")
    if (d / "train").is_dir():
        v = val or next((str(d / s) for s in ("val", "test") if (d / s).is_dir()), "")
        return str(d / "train"), str(v) if v else ""
    return str(d), str(val) if val else ""


def check_config(cfg: Pix2PixConfig) -> None:
    """Settings that would otherwise fail deep inside a conv or an hour into training."""
    g = cfg.g_opts
    cfg.d_opts  # noqa: B018 - validates the discriminator options
    m = g.multiple
    if cfg.crop_size % m:
        raise PainterlyError(f"crop size {cfg.crop_size} is not a multiple of {m}, which {g.netG} needs "
                             f"(it halves the image {int(math.log2(m))} times); use e.g. {m * max(1, cfg.crop_size // m)}.")
    if cfg.epochs < 0 or cfg.epochs_decay < 0:
        raise PainterlyError("epochs and epochs-decay must not be negative.")
    if cfg.lr <= 0 or not 0 <= cfg.beta1 < 1 or not 0 <= cfg.beta2 < 1:
        raise PainterlyError("lr must be positive and the Adam betas in [0, 1).")
    if cfg.gan_weight < 0 or cfg.lambda_l1 < 0:
        raise PainterlyError("gan-weight and lambda-l1 must not be negative.")


def train(cfg: Pix2PixConfig, loop: Any, resume: bool = False) -> Any:
    """Train pix2pix with the shared loop (``loop`` is a painterly.train.TrainConfig; epochs are taken
    from ``cfg``). Returns the loop's TrainResult."""
    from ..train.loop import Trainer

    check_config(cfg)
    loop.epochs, loop.iterations = cfg.epochs + cfg.epochs_decay, 0
    task = make_task(cfg)
    return Trainer(task, train_datasets(cfg), loop, resume=resume).run()


def export_onnx(checkpoint: str | Path, out_path: str | Path, eval_mode: bool = True, opset: int = 17,
                netG: str | None = None, norm: str | None = None) -> Path:
    """Export the generator to ONNX: [N,3,H,W] in [-1,1] → same shape, H and W dynamic (multiples of
    ``2^levels`` for U-Nets — pad like ``translate`` does). Exported in eval mode (running BN stats,
    no dropout), since ONNX graphs are deterministic; ``eval_mode=False`` bakes in instance-style batch
    statistics without dropout."""
    from ..files import atomic_path

    G, opts = load_generator(checkpoint, netG=netG, norm=norm)
    G.eval()
    if not eval_mode:
        G = _BatchStatsNoDropout(G)
    side = max(opts.multiple, 256)
    x = torch.zeros(1, opts.input_nc, side, side)
    out_path = Path(out_path)
    with atomic_path(out_path) as tmp, warnings.catch_warnings():
        # the TorchScript exporter: dynamic H/W without extra dependencies; it warns that it is legacy
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(G, (x,), str(tmp), input_names=["input"], output_names=["output"], opset_version=opset,
                          dynamic_axes={"input": {0: "batch", 2: "height", 3: "width"},
                                        "output": {0: "batch", 2: "height", 3: "width"}}, dynamo=False)
    return out_path


class _BatchStatsNoDropout(nn.Module):
    def __init__(self, G: nn.Module) -> None:
        super().__init__()
        self.G = G
        for mod in G.modules():
            if isinstance(mod, nn.BatchNorm2d):
                mod.track_running_stats = False
                mod.running_mean = None
                mod.running_var = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.G(x)
