"""AdaIN / SANet training networks whose forward returns the losses (one module, so DDP sees a single
forward per step), and the published-layout weights they load and write."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ... import hub
from ...errors import WeightsMissingError
from ...nn import weights
from ...nn.blocks import adain, make_decoder
from ...nn.losses import mean_std_loss, mvn
from ...nn.vgg import VGG19
from .config import LAYERS, FFTrainConfig


def load_encoder(method: str, vgg: str | None) -> VGG19:
    """The frozen vgg_normalised encoder up to the deepest layer the method's losses use."""
    try:
        sd = weights.load("vgg-normalised", vgg)
    except WeightsMissingError:
        e = hub.entry("vgg-normalised")
        raise WeightsMissingError(
            f"training {method} needs the frozen encoder '{e.name}' ({e.filename}), which is not in the cache "
            f"{hub.weights_dir()}; {hub.import_hint(e.name)}; or pass --vgg FILE.") from None
    return VGG19("normalised", last=LAYERS[method][-1]).load_published(sd)


def load_init(module: nn.Module, hub_name: str, path: str, what: str) -> None:
    """Load published-layout weights (layout-checked, one-line errors) into ``module``."""
    sd = weights.prepare_state_dict(hub_name, weights.as_state_dict(weights.load_checkpoint(path, what), what),
                                f"{what} {path}")
    module.load_state_dict(sd)


def published_state_dict(module: nn.Module) -> dict[str, torch.Tensor]:
    """A plain CPU state_dict (what decoder.pth / transformer_iter_N.pth hold)."""
    return {k: v.detach().to("cpu", copy=True).contiguous() for k, v in module.state_dict().items()}


def style_loss(out: Mapping[str, torch.Tensor], target: Mapping[str, torch.Tensor], layers: Sequence[str]
               ) -> torch.Tensor:
    return sum((mean_std_loss(out[k], target[k]) for k in layers), torch.zeros(()))


class AdaINLosses(nn.Module):
    """Frozen encoder + trained decoder; forward(content, style) → {"content": Lc, "style": Ls}."""

    def __init__(self, encoder: VGG19, decoder: nn.Sequential) -> None:
        super().__init__()
        self.encoder, self.decoder = encoder, decoder
        self.layers = LAYERS["adain"]

    def forward(self, content: torch.Tensor, style: torch.Tensor) -> dict[str, torch.Tensor]:
        n = content.shape[0]
        feats = self.encoder(torch.cat([content, style]), self.layers)  # one pass for both
        fc = feats["relu4_1"][:n]
        fs = {k: v[n:] for k, v in feats.items()}
        t = adain(fc, fs["relu4_1"])
        g = self.decoder(t)
        out = self.encoder(g, self.layers)
        return {"content": F.mse_loss(out["relu4_1"], t), "style": style_loss(out, fs, self.layers)}

    @torch.no_grad()
    def stylise(self, content: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        enc = self.encoder
        return self.decoder(adain(enc(content, ("relu4_1",))["relu4_1"], enc(style, ("relu4_1",))["relu4_1"]))


class SANetLosses(nn.Module):
    """Frozen encoder + trained transformer and decoder; forward → content, style, identity1, identity2."""

    def __init__(self, encoder: VGG19, transformer: nn.Module, decoder: nn.Sequential) -> None:
        super().__init__()
        self.encoder, self.transformer, self.decoder = encoder, transformer, decoder
        self.layers = LAYERS["sanet"]

    def transform(self, a: Mapping[str, torch.Tensor], b: Mapping[str, torch.Tensor]) -> torch.Tensor:
        # full attention: training crops are small (32² positions at relu4_1 for 256² crops)
        return self.transformer(a["relu4_1"], b["relu4_1"], a["relu5_1"], b["relu5_1"], chunk=0)

    def forward(self, content: torch.Tensor, style: torch.Tensor) -> dict[str, torch.Tensor]:
        n = content.shape[0]
        both = torch.cat([content, style])
        f = self.encoder(both, self.layers)
        fc = {k: v[:n] for k, v in f.items()}
        fs = {k: v[n:] for k, v in f.items()}
        g = self.decoder(self.transform(fc, fs))
        out = self.encoder(g, self.layers)
        lc = F.mse_loss(mvn(out["relu4_1"]), mvn(fc["relu4_1"])) + F.mse_loss(mvn(out["relu5_1"]),
                                                                              mvn(fc["relu5_1"]))
        ls = style_loss(out, fs, self.layers)
        # identity: each image attending to itself must come back (I_cc = c, I_ss = s); content and style
        # go through together (attention never mixes batch items), the losses are taken per half
        ident = self.decoder(self.transform(f, f))
        f_ident = self.encoder(ident, self.layers)
        lid1 = F.mse_loss(ident[:n], content) + F.mse_loss(ident[n:], style)
        lid2 = sum((F.mse_loss(f_ident[k][:n], fc[k]) + F.mse_loss(f_ident[k][n:], fs[k]) for k in self.layers),
                   torch.zeros(()))
        return {"content": lc, "style": ls, "identity1": lid1, "identity2": lid2}

    @torch.no_grad()
    def stylise(self, content: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        layers = ("relu4_1", "relu5_1")
        return self.decoder(self.transform(self.encoder(content, layers), self.encoder(style, layers)))


def build_losses(cfg: FFTrainConfig, device: torch.device | str = "cpu", resume: bool = False
                 ) -> AdaINLosses | SANetLosses:
    """The loss network of ``cfg.method`` (decoder / transformer from --init unless resuming)."""
    from ..sanet import SANetTransformer

    enc = load_encoder(cfg.method, cfg.vgg)
    dec = make_decoder()
    hub_dec = "adain-decoder" if cfg.method == "adain" else "sanet-decoder"
    if cfg.init_decoder and not resume:
        load_init(dec, hub_dec, cfg.init_decoder, "--init decoder")
    if cfg.method == "adain":
        net: AdaINLosses | SANetLosses = AdaINLosses(enc, dec)
    else:
        tr = SANetTransformer()
        if cfg.init_transformer and not resume:
            load_init(tr, "sanet-transformer", cfg.init_transformer, "--init-transformer")
        net = SANetLosses(enc, tr, dec)
    return net.to(device)


def weighted_total(cfg: FFTrainConfig, losses: Mapping[str, torch.Tensor]) -> torch.Tensor:
    w = {"content": cfg.content_weight, "style": cfg.style_weight, "identity1": cfg.identity1_weight,
         "identity2": cfg.identity2_weight}
    return sum((w[k] * v for k, v in losses.items()), torch.zeros((), device=next(iter(losses.values())).device))
