"""Training machinery shared by every trainable method: the loop (loop.py) and datasets (data.py)."""

from __future__ import annotations

from .data import ImageFolderDataset, InfiniteSampler, PairedConfig, PairedDataset
from .loop import Task, TrainConfig, TrainContext, Trainer, TrainResult, read_checkpoint, unwrap

__all__ = ["ImageFolderDataset", "InfiniteSampler", "PairedConfig", "PairedDataset", "Task", "TrainConfig",
           "TrainContext", "TrainResult", "Trainer", "read_checkpoint", "unwrap"]
