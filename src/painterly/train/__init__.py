"""Generic training machinery shared by every trainable method: the loop (loop.py), its settings and the
one resume merge (config.py), and generic datasets (data.py). It imports no method: methods own their
tasks and data (methods/pix2pix/task.py, methods/fftrain/) and plug into ``Trainer``.

Names are re-exported lazily (PEP 562) so that ``painterly.train.config`` loads without torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import lazy

_EXPORTS: dict[str, str] = {
    **dict.fromkeys(("TrainConfig", "resume_configs"), "config"),
    **dict.fromkeys(("ImageFolderDataset", "InfiniteSampler", "list_images"), "data"),
    **dict.fromkeys(("Task", "TrainContext", "TrainResult", "Trainer", "read_checkpoint", "unwrap"), "loop"),
}

__all__ = sorted(_EXPORTS)

if TYPE_CHECKING:
    from .config import TrainConfig, resume_configs
    from .data import ImageFolderDataset, InfiniteSampler, list_images
    from .loop import Task, TrainContext, Trainer, TrainResult, read_checkpoint, unwrap

__getattr__, __dir__ = lazy.exports(__name__, _EXPORTS, globals())
