"""Video quality numbers, one definition for the tests, ``benchmarks/bench_video.py`` and ``--report``.

* **Warping error** (motion-compensated flicker; Lai et al. 2018 measure the same thing): the mean
  absolute difference, in levels of 255 averaged over R, G, B, between output frame t and output frame
  t−1 warped into frame t, over the pixels the mask trusts (visible in both frames), averaged over the
  frame pairs. The flow and mask come from the *input* frames (DIS, ``temporal.Motion``) or, for a
  synthetic clip, from the known motion.
* **Detail**: the mean gradient magnitude of the grey frame, sqrt(∂x² + ∂y²) with forward differences,
  in levels, averaged over the frames. Blending or blur lowers it.

numpy + OpenCV only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import temporal


def detail(frame: np.ndarray) -> float:
    """Mean gradient magnitude of one RGB frame's luminance (levels of 255)."""
    f = np.asarray(frame, np.float32)
    y = f[..., 0] * 0.299 + f[..., 1] * 0.587 + f[..., 2] * 0.114
    gx = y[:-1, 1:] - y[:-1, :-1]
    gy = y[1:, :-1] - y[:-1, :-1]
    return float(np.sqrt(gx * gx + gy * gy).mean())


def pair_error(cur: np.ndarray, prev: np.ndarray, backward: np.ndarray, mask: np.ndarray) -> float | None:
    """Warping error of one frame pair (None when the mask trusts no pixel)."""
    m = np.asarray(mask, bool)
    if not m.any():
        return None
    warped = temporal.warp(np.asarray(prev, np.float32), backward)
    diff = np.abs(np.asarray(cur, np.float32) - warped).mean(axis=-1)
    return float(diff[m].mean())


@dataclass
class ClipMeter:
    """Streams a clip's frames in and accumulates warping error and detail (frames are not kept)."""

    errors: list[float] = field(default_factory=list)
    details: list[float] = field(default_factory=list)
    trusted: list[float] = field(default_factory=list)
    prev: np.ndarray | None = None

    def add(self, frame: np.ndarray, step: temporal.Step | None) -> None:
        """``step``: the motion from the previous frame (None for the first frame or after a cut)."""
        f = np.asarray(frame, np.float32)
        self.details.append(detail(f))
        if step is not None and not step.cut and self.prev is not None and self.prev.shape == f.shape:
            e = pair_error(f, self.prev, step.backward, step.mask)
            if e is not None:
                self.errors.append(e)
                self.trusted.append(step.trusted)
        self.prev = f

    @property
    def warping_error(self) -> float | None:
        return float(np.mean(self.errors)) if self.errors else None

    @property
    def mean_detail(self) -> float | None:
        return float(np.mean(self.details)) if self.details else None

    def as_dict(self) -> dict[str, Any]:
        we, d = self.warping_error, self.mean_detail
        return {"warping_error": None if we is None else round(we, 4),
                "detail": None if d is None else round(d, 4),
                "pairs": len(self.errors),
                "trusted": None if not self.trusted else round(float(np.mean(self.trusted)), 4)}


def measure(frames: list[np.ndarray], steps: list[temporal.Step | None]) -> ClipMeter:
    """Warping error and detail of a whole clip; ``steps[t]`` is the motion from frame t−1 to t."""
    meter = ClipMeter()
    for f, s in zip(frames, steps, strict=True):
        meter.add(f, s)
    return meter
