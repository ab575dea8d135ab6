"""Temporal consistency for video: optical flow, warping, occlusion masks and the combine step.

numpy + OpenCV only (``opencv-python-headless``, in the ``video`` extra); no torch, no weights.

Conventions. Frames are H×W×3 arrays (uint8 inputs, float32 0..255 outputs). A *flow* from frame a to
frame b is an H×W×2 float32 array f (dx, dy) with a(x) ≈ b(x + f(x)); ``warp(b, f)`` samples b at x + f(x)
and so brings b into a's pixel grid. The flow of frame t back to t−1 is the *backward* flow; t−1 to t the
*forward* flow.

* Flow: OpenCV's DIS optical flow (Kroeger et al. 2016) on the grey input frames, both directions.
* Mask (Ruder et al. 2016, "Artistic style transfer for videos", §3.1): a pixel of frame t is trusted only
  where the forward-backward check holds, |b + f(x+b)|² ≤ 0.01(|b|² + |f(x+b)|²) + 0.5, where it is not on
  a motion boundary, |∇b_x|² + |∇b_y|² ≤ 0.01|b|² + 0.002, where x + b(x) lands inside frame t−1, and (our
  addition, catches flow that is consistent but wrong) where the warped previous *input* matches the
  current input within ``photo_tol`` grey levels.
* Scene cut: fewer than ``cut_fraction`` of the pixels trusted — the history is dropped.
* Combine (``Temporal``, feed-forward methods): a window of the last ``window`` stylised frames, each
  brought into the current frame by the *composed* flow and sampled **once** from the frame it was
  stylised in, averaged where the mask chain says the pixel was visible all along:
  out_t(x) = Σ_k w_k·m_k(x)·y_{t−k}(x + P_k(x)) / Σ_k w_k·m_k(x), with k = 0 the fresh frame (m_0 = 1).
  Warping the previous *output* again and again (out_t = M·W(out_{t−1}) + …) would resample the same
  pixels every frame and blur them a little more each time; here no pixel is ever resampled twice and
  the fresh frame is always part of the average (it re-anchors the result, no drift).
  Averaging n frames whose fine texture differs (what a feed-forward net's flicker is) lowers that
  texture's contrast, so the high-pass part of the average (average − Gaussian(σ=2)) is scaled back to the
  fresh frame's high-pass energy (one gain per frame, between 1 and √n per pixel, n = frames averaged
  there) — the variance-preserving blend of Heitz & Neyret 2018 with a measured rather than assumed gain.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .errors import PainterlyError

PRESETS = {"ultrafast": 0, "fast": 1, "medium": 2}


@dataclass
class Hint:
    """What an optimisation method gets from the previous frame (gatys, Ruder et al.): the previous output
    warped into this frame (float32 [1,3,H,W] in [0,1], at the frame size), the trusted-pixel mask
    (float32 [H,W]), the temporal-loss weight and the step budget for this frame."""

    init: np.ndarray
    mask: np.ndarray
    weight: float
    steps: int


def _cv2() -> Any:
    try:
        import cv2
    except ImportError:
        raise PainterlyError("optical-flow video consistency needs OpenCV: pip install 'painterly[video]' "
                             "(or: pip install opencv-python-headless).") from None
    return cv2


def gray(frame: np.ndarray) -> np.ndarray:
    """H×W×3 RGB (uint8 or float 0..255) -> H×W uint8 luminance (OpenCV weights)."""
    cv2 = _cv2()
    u8 = frame if frame.dtype == np.uint8 else np.clip(frame + 0.5, 0, 255).astype(np.uint8)
    return cv2.cvtColor(np.ascontiguousarray(u8), cv2.COLOR_RGB2GRAY)


class FlowEstimator:
    """DIS optical flow (OpenCV) between grey frames; ``preset`` ultrafast | fast | medium."""

    def __init__(self, preset: str = "medium") -> None:
        if preset not in PRESETS:
            raise PainterlyError(f"flow preset must be one of {', '.join(PRESETS)}, got {preset!r}.")
        cv2 = _cv2()
        self.preset = preset
        self.dis = cv2.DISOpticalFlow_create(PRESETS[preset])

    def __call__(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Flow from grey frame a to grey frame b: a(x) ≈ b(x + f(x)); H×W×2 float32."""
        return self.dis.calc(a, b, None)


_GRIDS: dict[tuple[int, int], np.ndarray] = {}


def grid(h: int, w: int) -> np.ndarray:
    """H×W×2 float32 pixel coordinates (x, y) (cached; do not write into it)."""
    g = _GRIDS.get((h, w))
    if g is None:
        ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
        g = _GRIDS[(h, w)] = np.stack([xs, ys], axis=-1)
        g.setflags(write=False)
    return g


def warp(img: np.ndarray, flow: np.ndarray, interpolation: str = "linear") -> np.ndarray:
    """Sample ``img`` at x + flow(x) (cv2.remap; the border pixels repeat outside the frame)."""
    h, w = flow.shape[:2]
    pos = grid(h, w) + flow
    return remap(img, pos, interpolation)


def remap(img: np.ndarray, pos: np.ndarray, interpolation: str = "linear") -> np.ndarray:
    """Sample ``img`` at absolute positions ``pos`` (H×W×2, x then y)."""
    cv2 = _cv2()
    mode = {"linear": cv2.INTER_LINEAR, "cubic": cv2.INTER_CUBIC, "nearest": cv2.INTER_NEAREST}[interpolation]
    src = np.ascontiguousarray(img)
    xy = np.ascontiguousarray(pos[..., :2], dtype=np.float32)
    return cv2.remap(src, xy, None, mode, borderMode=cv2.BORDER_REPLICATE)


def inside(pos: np.ndarray, h: int, w: int) -> np.ndarray:
    """Boolean H×W: the position lies inside an h×w frame (pixel centres 0..w−1, 0..h−1)."""
    return (pos[..., 0] >= 0) & (pos[..., 0] <= w - 1) & (pos[..., 1] >= 0) & (pos[..., 1] <= h - 1)


def occlusion_mask(backward: np.ndarray, forward: np.ndarray) -> np.ndarray:
    """Ruder et al.'s mask for frame t: True where the pixel is visible in t−1 and t (trusted).

    ``backward``: flow t → t−1; ``forward``: flow t−1 → t. False on disocclusions (forward-backward check),
    on motion boundaries (flow gradient) and where x + backward(x) falls outside the previous frame.
    """
    h, w = backward.shape[:2]
    pos = grid(h, w) + backward
    fwd_at = remap(forward, pos)                       # forward flow at the matched point of t−1
    err = np.sum((backward + fwd_at) ** 2, axis=-1)
    consistent = err <= 0.01 * (np.sum(backward**2, -1) + np.sum(fwd_at**2, -1)) + 0.5
    gy_u, gx_u = np.gradient(backward[..., 0])
    gy_v, gx_v = np.gradient(backward[..., 1])
    grad2 = gx_u**2 + gy_u**2 + gx_v**2 + gy_v**2
    boundary = grad2 > 0.01 * np.sum(backward**2, -1) + 0.002
    return consistent & ~boundary & inside(pos, h, w)


@dataclass
class Step:
    """What the flow between the previous and the current input frame says about the current frame."""

    backward: np.ndarray          # flow t → t−1
    mask: np.ndarray              # bool H×W, trusted pixels
    cut: bool                     # a scene cut: too few trusted pixels

    @property
    def trusted(self) -> float:
        return float(self.mask.mean())


class Motion:
    """Flow + mask between consecutive input frames (the inputs, not the stylised frames, carry the
    motion). ``photo_tol``: grey levels the warped previous input may differ by; ``cut_fraction``: below
    this share of trusted pixels the frame is a scene cut."""

    def __init__(self, preset: str = "medium", photo_tol: float = 24.0, cut_fraction: float = 0.3) -> None:
        self.flow = FlowEstimator(preset)
        self.photo_tol = photo_tol
        self.cut_fraction = cut_fraction
        self.prev: np.ndarray | None = None

    def reset(self) -> None:
        self.prev = None

    def __call__(self, frame: np.ndarray) -> Step | None:
        """Feed the next input frame; None for the first one."""
        g = gray(frame)
        prev, self.prev = self.prev, g
        if prev is None or prev.shape != g.shape:
            return None
        return self.between(prev, g)

    def between(self, prev: np.ndarray, cur: np.ndarray) -> Step:
        backward = self.flow(cur, prev)
        forward = self.flow(prev, cur)
        mask = occlusion_mask(backward, forward)
        if self.photo_tol > 0:
            diff = np.abs(warp(prev, backward).astype(np.float32) - cur.astype(np.float32))
            mask &= diff <= self.photo_tol
        return Step(backward, mask, float(mask.mean()) < self.cut_fraction)


@dataclass
class _Past:
    frame: np.ndarray             # stylised frame, float32 H×W×3, never resampled
    track: np.ndarray             # H×W×3: where each pixel of the current frame is in ``frame`` (x, y), and
                                  # 1 where it was visible all the way from that frame to now


@dataclass
class Temporal:
    """Combine each fresh stylised frame with the last ``window − 1`` ones, motion compensated.

    ``decay``: weight of a frame k steps back is decay**k (1 = a plain average over the window);
    ``restore``: give the average back the fresh frame's fine-texture contrast (see the module notes).
    """

    window: int = 8
    decay: float = 1.0
    restore: bool = True
    sigma: float = 2.0
    history: deque[_Past] = field(default_factory=deque)

    def __post_init__(self) -> None:
        if self.window < 1:
            raise PainterlyError(f"--window must be at least 1 frame, got {self.window}.")
        if not 0.0 < self.decay <= 1.0:
            raise PainterlyError(f"the flow decay must be in (0, 1], got {self.decay}.")

    def reset(self) -> None:
        self.history.clear()

    def __call__(self, stylised: np.ndarray, step: Step | None) -> np.ndarray:
        """The output frame for a fresh stylised frame (float32 H×W×3, 0..255)."""
        y = np.asarray(stylised, np.float32)
        h, w = y.shape[:2]
        if step is None or step.cut or step.mask.shape != (h, w):
            self.history.clear()
        else:
            # compose: a pixel x of frame t was at x + b(x) in t−1, which was at pos there in frame t−k
            at = grid(h, w) + step.backward
            m = step.mask.astype(np.float32)
            for p in self.history:          # one remap carries position and visibility together
                p.track = remap(p.track, at)
                p.track[..., 2] *= m
        acc = y.copy()
        norm = np.ones((h, w, 1), np.float32)
        count = np.ones((h, w), np.float32)
        for k, p in enumerate(reversed(self.history), start=1):
            seen = (p.track[..., 2] >= 0.999).astype(np.float32)
            wk = (self.decay**k * seen)[..., None] if self.decay != 1.0 else seen[..., None]
            acc += wk * remap(p.frame, p.track[..., :2])
            norm += wk
            count += seen
        out = acc / norm
        if self.restore and self.history:
            out = self._restore(out, y, count)
        self.history.append(_Past(y, np.concatenate([grid(h, w), np.ones((h, w, 1), np.float32)], axis=-1)))
        while len(self.history) > self.window - 1:
            self.history.popleft()
        return out

    def _restore(self, avg: np.ndarray, fresh: np.ndarray, count: np.ndarray) -> np.ndarray:
        cv2 = _cv2()
        base = cv2.GaussianBlur(avg, (0, 0), self.sigma)
        hp = avg - base
        hp_fresh = fresh - cv2.GaussianBlur(fresh, (0, 0), self.sigma)
        sel = count > 1
        if not sel.any():
            return avg
        e_avg = float(np.mean(hp[sel] ** 2))
        e_fresh = float(np.mean(hp_fresh[sel] ** 2))
        gain = float(np.sqrt(e_fresh / e_avg)) if e_avg > 1e-6 else 1.0
        per_pixel = np.clip(np.minimum(gain, np.sqrt(count)), 1.0, None)[..., None]
        return base + per_pixel * hp


def warp_previous(prev_out: np.ndarray, step: Step) -> tuple[np.ndarray, np.ndarray]:
    """The previous output brought into the current frame, and the mask where that is trustworthy
    (gatys's warped initialisation and temporal loss)."""
    return warp(np.asarray(prev_out, np.float32), step.backward), step.mask
