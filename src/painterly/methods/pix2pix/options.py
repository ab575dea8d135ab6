"""pix2pix architecture options: plain dataclasses, no torch, so the CLI can read their defaults cheaply."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ...errors import PainterlyError

GENERATORS = ("unet_256", "unet_128", "resnet_9blocks")
DISCRIMINATORS = ("basic", "n_layers", "pixel")
NORMS = ("batch", "instance", "none")
DIRECTIONS = ("AtoB", "BtoA")


def check_direction(direction: str) -> None:
    if direction not in DIRECTIONS:
        raise PainterlyError(f"direction must be AtoB or BtoA, got {direction!r}.")


def unet_levels(netG: str) -> int:
    return {"unet_256": 8, "unet_128": 7}[netG]


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
        check_direction(self.direction)

    @property
    def multiple(self) -> int:
        """Input sides must be a multiple of this (2^levels); translation pads to it."""
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

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)
