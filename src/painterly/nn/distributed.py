"""The few torch.distributed calls batch jobs need (the api layer reaches torch only through here)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import torch.distributed as dist


def join(hours: float) -> None:
    """Join the gloo process group torchrun set up (gloo: works on CPU-only and GPU machines alike)."""
    if not dist.is_initialized():
        dist.init_process_group("gloo", timeout=timedelta(hours=hours))


def gather(obj: Any, rank: int, world: int) -> list[Any] | None:
    out: list[Any] | None = [None] * world if rank == 0 else None
    dist.gather_object(obj, out, dst=0)
    return out


def broadcast(obj: Any) -> Any:
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def leave() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()
