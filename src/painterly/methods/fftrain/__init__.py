"""Training for the feed-forward methods (AdaIN, SANet; design.md §4–5): the recipe (``config``, no
torch), the content/style data (``data``), the loss networks and published-layout weights (``losses``)
and the task for painterly.train.loop (``task``). It sits beside adain.py / sanet.py because it is
theirs: the generic loop in painterly.train knows no method.

Names are re-exported lazily (PEP 562) so that the CLI can read ``config`` defaults without torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ... import lazy

_EXPORTS: dict[str, str] = {
    **dict.fromkeys(("METHODS", "LAYERS", "CROP_MULTIPLE", "MIN_CROP", "FFTrainConfig", "recipe"), "config"),
    **dict.fromkeys(("ContentStyleDataset", "image_folder", "datasets"), "data"),
    **dict.fromkeys(("load_encoder", "load_init", "published_state_dict", "style_loss", "AdaINLosses",
                     "SANetLosses", "build_losses", "weighted_total"), "losses"),
    **dict.fromkeys(("FFTask", "sheet", "train"), "task"),
}

__all__ = sorted(_EXPORTS)

if TYPE_CHECKING:
    from .config import CROP_MULTIPLE, LAYERS, METHODS, MIN_CROP, FFTrainConfig, recipe
    from .data import ContentStyleDataset, datasets, image_folder
    from .losses import (AdaINLosses, SANetLosses, build_losses, load_encoder, load_init, published_state_dict,
                         style_loss, weighted_total)
    from .task import FFTask, sheet, train

__getattr__, __dir__ = lazy.exports(__name__, _EXPORTS, globals())
