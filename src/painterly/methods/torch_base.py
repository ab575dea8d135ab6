"""What the torch methods (gatys, adain, sanet) share on top of the light-core Method: a torch device."""

from __future__ import annotations

import numpy as np
import torch

from ..nn.device import pick
from .base import Method


class TorchMethod(Method):
    """A Method that runs on a torch device (``--device``), picked before its options are configured."""

    device: torch.device

    def setup(self) -> None:
        self.device = pick(self.common.device)

    @staticmethod
    def tensor(content: np.ndarray) -> torch.Tensor:
        """The pipeline's content array as a CPU tensor (shares memory; callers move it)."""
        x = np.ascontiguousarray(content, dtype=np.float32)
        return torch.from_numpy(x if x.flags.writeable else x.copy())  # read-only views: no torch warning
