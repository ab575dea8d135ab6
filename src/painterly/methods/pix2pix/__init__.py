"""pix2pix (Isola et al. 2017): paired image-to-image translation with a U-Net/ResNet generator and a
PatchGAN discriminator.

Modules, bottom to top: ``options`` and ``config`` (plain dataclasses, no torch) → ``nets`` (the
reference's exact module layout) → ``checkpoint`` (generator.pt, reference files) → ``infer`` (pad,
translate, crop back; sheets) → ``data`` (paired datasets) → ``metrics`` (L1/PSNR/SSIM) → ``task`` (the
training task for painterly.train.loop). File-level translation is ``painterly.api.translate_files``;
ONNX export is ``painterly.export.export_pix2pix``.

Names are re-exported lazily (PEP 562) so that importing the torch-free ``config`` — the CLI does, for
its option defaults — does not load torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ... import lazy

_EXPORTS: dict[str, str] = {
    **dict.fromkeys(("GENERATORS", "DISCRIMINATORS", "NORMS", "DIRECTIONS", "GeneratorOptions",
                     "DiscriminatorOptions", "unet_levels", "check_direction"), "options"),
    **dict.fromkeys(("Pix2PixConfig", "check_config", "resolve_data_dirs"), "config"),
    **dict.fromkeys(("UnetBlock", "UnetGenerator", "ResnetBlock", "ResnetGenerator", "NLayerDiscriminator",
                     "PixelDiscriminator", "init_weights", "build_generator", "build_discriminator",
                     "generator_layout"), "nets"),
    **dict.fromkeys(("CHECKPOINT_FORMAT", "generator_checkpoint", "load_generator"), "checkpoint"),
    **dict.fromkeys(("pad_to_multiple", "set_mode", "translate_tensor", "translate_image", "to_unit",
                     "from_unit", "split_pair", "image_sheet", "make_sheet"), "infer"),
    **dict.fromkeys(("PairedConfig", "PairedDataset", "paired_config"), "data"),
    **dict.fromkeys(("l1", "psnr", "ssim", "Scores", "evaluate_generator", "evaluate_checkpoint"), "metrics"),
    **dict.fromkeys(("Pix2PixTask", "make_task", "train_datasets", "train"), "task"),
}

__all__ = sorted(_EXPORTS)

if TYPE_CHECKING:  # the static view of the lazy names below
    from .checkpoint import CHECKPOINT_FORMAT, generator_checkpoint, load_generator
    from .config import Pix2PixConfig, check_config, resolve_data_dirs
    from .data import PairedConfig, PairedDataset, paired_config
    from .infer import (from_unit, image_sheet, make_sheet, pad_to_multiple, set_mode, split_pair, to_unit,
                        translate_image, translate_tensor)
    from .metrics import Scores, evaluate_checkpoint, evaluate_generator, l1, psnr, ssim
    from .nets import (NLayerDiscriminator, PixelDiscriminator, ResnetBlock, ResnetGenerator, UnetBlock,
                       UnetGenerator, build_discriminator, build_generator, generator_layout, init_weights)
    from .options import (DIRECTIONS, DISCRIMINATORS, GENERATORS, NORMS, DiscriminatorOptions, GeneratorOptions,
                          check_direction, unet_levels)
    from .task import Pix2PixTask, make_task, train, train_datasets

__getattr__, __dir__ = lazy.exports(__name__, _EXPORTS, globals())
