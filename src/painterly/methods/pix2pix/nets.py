"""pix2pix networks: U-Net / ResNet generators and PatchGAN / PixelGAN discriminators.

Module nesting and Sequential indices mirror junyanz/pytorch-CycleGAN-and-pix2pix exactly, so state_dict
keys match and its published ``latest_net_G.pth`` files load (tests/test_pix2pix.py pins the keys).
"""

from __future__ import annotations

import torch
from torch import nn

from ...errors import PainterlyError
from .options import DiscriminatorOptions, GeneratorOptions, unet_levels


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

