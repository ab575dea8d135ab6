"""Random-weight checkpoints in the published AdaIN / SANet layouts, and an independent implementation of
the published networks written from the papers' formulas and the reference repositories' layer lists
(plain nn.Sequential / nn.Module, nothing imported from painterly).

The checkpoints are written once per test process (VGG-19 is 80 MB even with random weights).
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from functools import cache
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

EPS = 1e-5


# ----------------------------------------------------------------------------------------------------
# the published shapes, written out independently
# ----------------------------------------------------------------------------------------------------

def published_vgg() -> nn.Sequential:
    """vgg_normalised.pth's nn.Sequential: 1x1 conv, then (reflection pad, 3x3 conv, ReLU)* with ceil-mode
    max pooling, up to relu5_4 (indices 0…52)."""
    cfg = [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512]
    layers: list[nn.Module] = [nn.Conv2d(3, 3, 1)]
    cin = 3
    for v in cfg:
        if v == "M":
            layers.append(nn.MaxPool2d(2, 2, 0, ceil_mode=True))
        else:
            layers += [nn.ReflectionPad2d(1), nn.Conv2d(cin, int(v), 3), nn.ReLU()]
            cin = int(v)
    return nn.Sequential(*layers)


def published_decoder() -> nn.Sequential:
    """decoder.pth's nn.Sequential (indices 0…28)."""
    def block(cin: int, cout: int, relu: bool = True) -> list[nn.Module]:
        return [nn.ReflectionPad2d(1), nn.Conv2d(cin, cout, 3)] + ([nn.ReLU()] if relu else [])

    up = nn.Upsample(scale_factor=2, mode="nearest")
    return nn.Sequential(
        *block(512, 256), up,
        *block(256, 256), *block(256, 256), *block(256, 256), *block(256, 128), up,
        *block(128, 128), *block(128, 64), up,
        *block(64, 64), *block(64, 3, relu=False),
    )


class RefSANet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.f, self.g, self.h, self.out_conv = (nn.Conv2d(512, 512, 1) for _ in range(4))

    def forward(self, fc: torch.Tensor, fs: torch.Tensor) -> torch.Tensor:
        b, c, hh, ww = fc.shape
        q = self.f(mvn(fc)).reshape(b, c, -1)          # [b, c, Nc]
        k = self.g(mvn(fs)).reshape(b, c, -1)          # [b, c, Ns]
        v = self.h(fs).reshape(b, c, -1)
        logits = torch.einsum("bcn,bcm->bnm", q, k)    # [b, Nc, Ns]
        e = torch.exp(logits - logits.amax(-1, keepdim=True))
        s = e / e.sum(-1, keepdim=True)                # softmax over style positions
        o = torch.einsum("bcm,bnm->bcn", v, s).reshape(b, c, hh, ww)
        return self.out_conv(o) + fc


class RefTransform(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.sanet4_1 = RefSANet()
        self.sanet5_1 = RefSANet()
        self.merge_conv = nn.Conv2d(512, 512, 3)

    def forward(self, c4: torch.Tensor, s4: torch.Tensor, c5: torch.Tensor, s5: torch.Tensor) -> torch.Tensor:
        o4 = self.sanet4_1(c4, s4)
        up = self.sanet5_1(c5, s5).repeat_interleave(2, dim=2).repeat_interleave(2, dim=3)
        up = up[:, :, : o4.shape[2], : o4.shape[3]]    # odd relu4_1 sides: drop the extra row/column
        return self.merge_conv(F.pad(o4 + up, (1, 1, 1, 1), mode="reflect"))


def mean_std(f: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    n, c = f.shape[:2]
    flat = f.reshape(n, c, -1)
    m = flat.mean(2)
    var = ((flat - m[..., None]) ** 2).sum(2) / (flat.shape[2] - 1)   # unbiased, as calc_mean_std
    return m.reshape(n, c, 1, 1), (var + EPS).sqrt().reshape(n, c, 1, 1)


def mvn(f: torch.Tensor) -> torch.Tensor:
    m, s = mean_std(f)
    return (f - m) / s


def adain_formula(fc: torch.Tensor, fs: torch.Tensor) -> torch.Tensor:
    mc, sc = mean_std(fc)
    ms, ss = mean_std(fs)
    return (fc - mc) / sc * ss + ms


def relu4_1(vgg: nn.Sequential, x: torch.Tensor) -> torch.Tensor:
    return vgg[:31](x)


def relu5_1(vgg: nn.Sequential, f4: torch.Tensor) -> torch.Tensor:
    return vgg[31:44](f4)


# ----------------------------------------------------------------------------------------------------
# random checkpoints
# ----------------------------------------------------------------------------------------------------

class Weights:
    """Paths of the four random checkpoints and the reference modules loaded from them."""

    def __init__(self, root: Path) -> None:
        g = torch.Generator().manual_seed(1234)

        def he(mod: nn.Module, attention: bool = False) -> nn.Module:
            for m in mod.modules():
                if isinstance(m, nn.Conv2d):
                    fan_in = m.in_channels * m.kernel_size[0] * m.kernel_size[1]
                    std = 0.03 if attention else (2.0 / fan_in) ** 0.5
                    with torch.no_grad():
                        m.weight.copy_(torch.randn(m.weight.shape, generator=g) * std)
                        m.bias.copy_(torch.randn(m.bias.shape, generator=g) * 0.01)
            return mod.eval().requires_grad_(False)

        self.vgg = he(published_vgg())
        with torch.no_grad():  # like the real 1x1 conv: RGB -> BGR and a shift/scale (here to [-1, 1])
            self.vgg[0].weight.copy_(torch.eye(3).flip(0).reshape(3, 3, 1, 1) * 2.0)
            self.vgg[0].bias.fill_(-1.0)
        self.decoder = he(published_decoder())
        self.sanet_decoder = he(published_decoder())
        self.transform = RefTransform()
        he(self.transform, attention=True)
        he(self.transform.merge_conv)
        self.paths = {
            "vgg-normalised": root / "vgg_normalised.pth",
            "adain-decoder": root / "decoder.pth",
            "sanet-decoder": root / "decoder_iter_500000.pth",
            "sanet-transformer": root / "transformer_iter_500000.pth",
        }
        torch.save(self.vgg.state_dict(), self.paths["vgg-normalised"])
        torch.save(self.decoder.state_dict(), self.paths["adain-decoder"])
        torch.save(self.sanet_decoder.state_dict(), self.paths["sanet-decoder"])
        torch.save(self.transform.state_dict(), self.paths["sanet-transformer"])

    def adain_options(self) -> dict[str, str]:
        return {"vgg_weights": str(self.paths["vgg-normalised"]),
                "decoder_weights": str(self.paths["adain-decoder"])}

    def sanet_options(self) -> dict[str, str]:
        return {"vgg_weights": str(self.paths["vgg-normalised"]),
                "decoder_weights": str(self.paths["sanet-decoder"]),
                "transformer_weights": str(self.paths["sanet-transformer"])}


@cache
def weights() -> Weights:
    root = Path(tempfile.mkdtemp(prefix="painterly-ff-"))
    atexit.register(shutil.rmtree, root, True)
    return Weights(root)


@cache
def home_with_weights() -> Path:
    """A PAINTERLY_HOME whose cache holds the four random checkpoints (for CLI subprocess tests)."""
    import os

    from painterly import hub

    root = Path(tempfile.mkdtemp(prefix="painterly-ff-home-"))
    atexit.register(shutil.rmtree, root, True)
    old = os.environ.get("PAINTERLY_HOME")
    os.environ["PAINTERLY_HOME"] = str(root)
    try:
        for name, p in weights().paths.items():
            hub.import_file(name, p, verify=False)
    finally:
        if old is None:
            os.environ.pop("PAINTERLY_HOME")
        else:
            os.environ["PAINTERLY_HOME"] = old
    return root
