"""pix2pix generator files: our ``generator.pt`` (weights + the options that rebuild the architecture),
training-run ``checkpoint.pt`` files, and the reference's plain ``latest_net_G.pth`` state_dicts."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ...errors import PainterlyError
from .nets import build_generator
from .options import GeneratorOptions

CHECKPOINT_FORMAT = "painterly-pix2pix"


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
    from ...nn.weights import check_layout, load_checkpoint

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

