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
  out_t(x) = Σ_k m_k(x)·y_{t−k}(x + P_k(x)) / Σ_k m_k(x), with k = 0 the fresh frame (m_0 = 1).
  Warping the previous *output* again and again (out_t = M·W(out_{t−1}) + …) would resample the same
  pixels every frame and blur them a little more each time; here no pixel is ever resampled twice and
  the fresh frame is always part of the average (it re-anchors the result, no drift).
  Averaging n frames whose fine texture differs (what a feed-forward net's flicker is) lowers that
  texture's contrast, so the high-pass part of the average (average − Gaussian(σ=1.5)) is scaled back to
  the fresh frame's high-pass energy (one gain per frame, between 1 and √n per pixel, n = frames averaged
  there) — the variance-preserving blend of Heitz & Neyret 2018 with a measured rather than assumed gain.
"""

from __future__ import annotations

from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .errors import PainterlyError

# name -> (OpenCV DIS preset, setter overrides). "fine" is DIS's fast preset carried one pyramid level
# further (flow estimated at half rather than quarter resolution) with fewer iterations per level: on the
# benchmark zoom (256²) its end-point error is 0.15 px against fast's 0.36 (medium: 0.11) at about twice
# fast's time and a quarter of medium's. "balanced" (the video default) is fine with its patches 6 px
# apart instead of 4: end-point error 0.17 px at ~1.5× fast's time (benchmarks/RESULTS.md, fourth pass).
PRESETS: dict[str, tuple[int, dict[str, int]]] = {
    "ultrafast": (0, {}),
    "fast": (1, {}),
    "balanced": (1, {"FinestScale": 1, "GradientDescentIterations": 4, "VariationalRefinementIterations": 2,
                     "PatchStride": 6}),
    "fine": (1, {"FinestScale": 1, "GradientDescentIterations": 4, "VariationalRefinementIterations": 2}),
    "medium": (2, {}),
}


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


def _u8(frame: np.ndarray) -> np.ndarray:
    """H×W(×C) uint8 (rounded from float 0..255; the nets' frames are 8-bit already, so nothing is lost)."""
    if frame.dtype == np.uint8:
        return np.ascontiguousarray(frame)
    return np.clip(np.asarray(frame, np.float32) + 0.5, 0, 255).astype(np.uint8)


def gray(frame: np.ndarray) -> np.ndarray:
    """H×W×3 RGB (uint8 or float 0..255) -> H×W uint8 luminance (OpenCV weights)."""
    cv2 = _cv2()
    return cv2.cvtColor(_u8(frame), cv2.COLOR_RGB2GRAY)


# OpenCV's DIS refuses frames under 12 px and (5.1, measured) crashes the process on frames under 32 px
# high and wider than ~50; smaller frames are padded (edge pixels repeated) to this and the flow cropped.
_DIS_MIN = 32
# "balanced" and "fine" stop one pyramid level finer than DIS's fast preset with a shorter search; on frames
# under this many px (shorter side) that level is too small for it (measured, 3 px pan at 48 px: end-point
# error 1.3 px against fast's 0.01; at 128 px balanced is the better), so small frames get the fast preset.
_FINE_MIN = 96


class FlowEstimator:
    """DIS optical flow (OpenCV) between grey frames; ``preset`` one of ``PRESETS``."""

    def __init__(self, preset: str = "medium") -> None:
        if preset not in PRESETS:
            raise PainterlyError(f"flow preset must be one of {', '.join(PRESETS)}, got {preset!r}.")
        cv2 = _cv2()
        self.preset = preset
        base, overrides = PRESETS[preset]
        self.dis = cv2.DISOpticalFlow_create(base)
        for name, value in overrides.items():
            getattr(self.dis, "set" + name)(value)
        self.small = cv2.DISOpticalFlow_create(PRESETS["fast"][0]) if "FinestScale" in overrides else None

    def __call__(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Flow from grey frame a to grey frame b: a(x) ≈ b(x + f(x)); H×W×2 float32."""
        h, w = a.shape[:2]
        dis = self.small if self.small is not None and min(h, w) < _FINE_MIN else self.dis
        if h >= _DIS_MIN and w >= _DIS_MIN:
            return dis.calc(a, b, None)
        cv2 = _cv2()
        pad = (0, max(0, _DIS_MIN - h), 0, max(0, _DIS_MIN - w))
        a, b = (cv2.copyMakeBorder(g, *pad, cv2.BORDER_REPLICATE) for g in (a, b))
        return np.ascontiguousarray(dis.calc(a, b, None)[:h, :w])


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
    return _cv2().inRange(np.ascontiguousarray(pos, np.float32), (0.0, 0.0), (w - 1.0, h - 1.0)) > 0


class Scratch:
    """Named full-frame work arrays, reused call after call. A video step needs a few dozen of them, and a
    fresh one costs a page fault per 4 KiB on first touch (measured: a third of the combine's time at
    512²). Contents never outlive the call that wrote them."""

    def __init__(self) -> None:
        self.arrays: dict[tuple[str, tuple[int, ...], str], np.ndarray] = {}

    def __call__(self, name: str, shape: tuple[int, ...], dtype: Any = np.float32) -> np.ndarray:
        key = (name, shape, np.dtype(dtype).str)
        a = self.arrays.get(key)
        if a is None:
            if len(self.arrays) > 64:                  # the frame size changed: drop the old set
                self.arrays.clear()
            a = self.arrays[key] = np.empty(shape, dtype)
        return a


def occlusion_mask(backward: np.ndarray, forward: np.ndarray, pos: np.ndarray | None = None,
                   scratch: Scratch | None = None) -> np.ndarray:
    """Ruder et al.'s mask for frame t: True where the pixel is visible in t−1 and t (trusted).

    ``backward``: flow t → t−1; ``forward``: flow t−1 → t; ``pos``: grid + backward if already computed.
    False on disocclusions (forward-backward check), on motion boundaries (flow gradient, central
    differences) and where x + backward(x) falls outside the previous frame.
    """
    cv2 = _cv2()
    h, w = backward.shape[:2]
    S = scratch or Scratch()
    f1, f2, u8 = (h, w), (h, w, 2), np.uint8
    if pos is None:
        pos = cv2.add(grid(h, w), backward, dst=S("pos", f2))
    # forward flow at the matched point of t−1
    fwd_at = cv2.remap(forward, pos, None, cv2.INTER_LINEAR, dst=S("fwd_at", f2),
                       borderMode=cv2.BORDER_REPLICATE)

    def norm2(v: np.ndarray, name: str) -> np.ndarray:  # |v|² of a 2-channel field, as one channel
        sq = cv2.multiply(v, v, dst=S("sq", f2))
        return np.add(sq[..., 0], sq[..., 1], out=S(name, f1))

    b2 = norm2(backward, "b2")
    s2 = norm2(cv2.add(backward, fwd_at, dst=S("sum", f2)), "s2")
    rhs = cv2.addWeighted(b2, 0.01, norm2(fwd_at, "f2"), 0.01, 0.5, dst=S("rhs", f1))
    ok = cv2.compare(s2, rhs, cv2.CMP_LE, dst=S("ok", f1, u8))
    # central differences (np.gradient's interior; the border rows/columns use replicate, not one-sided)
    rep = cv2.BORDER_REPLICATE
    gx = cv2.Sobel(backward, cv2.CV_32F, 1, 0, dst=S("gx", f2), ksize=1, scale=0.5, borderType=rep)
    gy = cv2.Sobel(backward, cv2.CV_32F, 0, 1, dst=S("gy", f2), ksize=1, scale=0.5, borderType=rep)
    grad2 = cv2.add(norm2(gx, "gx2"), norm2(gy, "gy2"), dst=S("grad2", f1))
    smooth = cv2.compare(grad2, cv2.addWeighted(b2, 0.01, b2, 0.0, 0.002, dst=rhs), cv2.CMP_LE,
                         dst=S("smooth", f1, u8))
    cv2.bitwise_and(ok, smooth, dst=ok)
    cv2.bitwise_and(ok, cv2.inRange(pos, (0.0, 0.0), (w - 1.0, h - 1.0), dst=S("in", f1, u8)), dst=ok)
    return ok > 0


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
        self.flow = FlowEstimator(preset)             # backward
        self.flow_forward = FlowEstimator(preset)     # its own DIS object: it runs on a second thread
        self._pool: ThreadPoolExecutor | None = None
        self.photo_tol = photo_tol
        self.cut_fraction = cut_fraction
        self.prev: np.ndarray | None = None
        self.scratch = Scratch()

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
        cv2, S = _cv2(), self.scratch
        h, w = cur.shape[:2]
        # The two directions are independent: the forward one runs on a second thread (OpenCV releases the
        # GIL, and DIS keeps 2 cores only ~1.7x busy: both directions at 512² measured 14.6 -> 12.3 ms).
        # (no output array for DIS: it can read what it is given as an initial flow, garbage included)
        if self._pool is None:
            self._pool = ThreadPoolExecutor(1, thread_name_prefix="painterly-flow")
        pending = self._pool.submit(self.flow_forward, prev, cur)
        backward = self.flow(cur, prev)
        forward = pending.result()
        pos = cv2.add(grid(h, w), backward, dst=S("pos", (h, w, 2)))
        mask = occlusion_mask(backward, forward, pos, S)
        if self.photo_tol > 0:
            warped = cv2.remap(prev, pos, None, cv2.INTER_LINEAR, dst=S("warped", (h, w), np.uint8),
                               borderMode=cv2.BORDER_REPLICATE)
            diff = cv2.absdiff(warped, cur, dst=warped)  # uint8 grey levels
            mask &= diff <= self.photo_tol
        return Step(backward, mask, float(mask.mean()) < self.cut_fraction)


_TRACKS: dict[tuple[int, int], np.ndarray] = {}


def _identity(h: int, w: int) -> np.ndarray:
    """Two identity tracks side by side, (x, y, x, y), cached read-only (composing makes a new array)."""
    t = _TRACKS.get((h, w))
    if t is None:
        t = _TRACKS[(h, w)] = np.concatenate([grid(h, w), grid(h, w)], axis=-1)
        t.setflags(write=False)
    return t


@dataclass
class _Slab:
    """The tracks of two past frames in one H×W×4 array, (x₀, y₀, x₁, y₁): where each pixel of the
    current frame is in either frame; x far negative where it was not visible all the way from there to
    now. Two per array because OpenCV's 4-channel float remap composes both at once and interpolates at the
    exact positions; its 2-channel path rounds the positions to 1/32 px (measured: errors up to 1/64 px a
    step, which would add up along a track)."""

    track: np.ndarray
    paired: bool = False


@dataclass
class _Past:
    frame: np.ndarray             # stylised frame as H×W×4 uint8 (R, G, B, 255), never resampled
    slab: _Slab                   # its track: channels 2·half, 2·half + 1
    half: int


_GONE = -1e30                     # x of a pixel that is not visible: far outside any frame


@dataclass
class Temporal:
    """Combine each fresh stylised frame with the last ``window − 1`` ones, motion compensated.

    ``restore``: give the average back the fresh frame's fine-texture contrast (see the module notes).

    Implementation (OpenCV, no per-pixel Python): the tracks (two per ``_Slab``) are composed by one
    bilinear remap per frame whose map sends the pixels this frame's mask rejects outside, where the
    constant border gives x = ``_GONE``. A pixel interpolated from any gone neighbour (with a nonzero
    weight) is then far outside every frame too: "visible all along" is "every pixel it was interpolated
    from was visible", with no visibility channel to threshold. Past frames are kept as 8-bit RGBA (alpha
    255) and sampled with a zero border, so the fourth channel of the sum is 255·Σ m_k, the normaliser.
    8-bit frames move a quarter of the bytes of float ones (measured at 512²: 1–3.5 ms a frame less inside
    the pipeline, nothing standalone); the samples are rounded to whole levels before they are averaged.
    """

    window: int = 8
    restore: bool = True
    sigma: float = 1.5
    interpolation: str = "cubic"    # how the past frames are sampled: cubic | linear
    history: deque[_Past] = field(default_factory=deque)
    _shape: tuple[int, int] = (0, 0)
    _free: dict[str, list[np.ndarray]] = field(default_factory=dict)
    _scratch: Scratch = field(default_factory=Scratch)

    def __post_init__(self) -> None:
        if self.window < 1:
            raise PainterlyError(f"--window must be at least 1 frame, got {self.window}.")
        if self.interpolation not in ("cubic", "linear"):
            raise PainterlyError(f"interpolation must be cubic or linear, got {self.interpolation!r}.")

    def reset(self) -> None:
        self.history.clear()

    def __call__(self, stylised: np.ndarray, step: Step | None) -> np.ndarray:
        """The output frame for a fresh stylised frame (H×W×3, uint8, or float 0..255 rounded to 8 bits);
        float32 H×W×3, 0..255."""
        cv2 = _cv2()
        y8 = _u8(stylised)
        h, w = y8.shape[:2]
        if (h, w) != self._shape:
            self._shape, self._free, self._scratch = (h, w), {}, Scratch()
        if step is None or step.cut or step.mask.shape != (h, w):
            self.history.clear()
        elif self.history:
            self._compose(step, h, w)
        y4 = cv2.cvtColor(y8, cv2.COLOR_RGB2RGBA, dst=self._take("u1"))     # alpha 255
        y = self._tmp("fresh", 3)
        np.copyto(y, y8)
        if not self.history:
            out = y.copy()
        else:
            acc = self._tmp("acc", 4)                   # Σ m_k·(y, 255): channel 4 is 255·Σ m_k
            acc.fill(0.0)
            cv2.accumulate(y4, acc)
            interp = cv2.INTER_CUBIC if self.interpolation == "cubic" else cv2.INTER_LINEAR
            xy, s = self._tmp("xy", 2), self._scratch("sample", (h, w, 4), np.uint8)
            for p in reversed(self.history):
                cv2.mixChannels([p.slab.track], [xy], [2 * p.half, 0, 2 * p.half + 1, 1])
                # gone pixels sample outside: the zero border gives (0, 0, 0, 0)
                cv2.remap(p.frame, xy, None, interp, dst=s, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
                cv2.accumulate(s, acc)
            count = cv2.multiply(cv2.extractChannel(acc, 3), 1.0 / 255.0)
            inv = cv2.divide(1.0, count)
            out = cv2.cvtColor(acc, cv2.COLOR_RGBA2RGB)
            cv2.multiply(out, cv2.merge([inv, inv, inv], dst=self._tmp("inv", 3)), dst=out)
            if self.restore:
                out = self._restore(out, y, count)
        last = self.history[-1].slab if self.history else None
        if last is not None and not last.paired:
            # the second half of the newest slab takes this frame's identity track
            if not last.track.flags.writeable:
                last.track = cv2.copyTo(last.track, None, dst=self._take("f4"))
            cv2.mixChannels([grid(h, w)], [last.track], [0, 2, 1, 3])
            last.paired = True
            self.history.append(_Past(y4, last, 1))
        else:
            self.history.append(_Past(y4, _Slab(_identity(h, w)), 0))
        while len(self.history) > self.window - 1:
            old = self.history.popleft()
            self._give(old.frame)
            if not self.history or self.history[0].slab is not old.slab:
                self._give(old.slab.track)
        return out

    # Every frame needs the same dozen full-size arrays; allocating them anew costs a page fault per 4 KiB
    # each time (measured: a third of the combine's time at 512²), so they are recycled.
    def _take(self, kind: str) -> np.ndarray | None:
        """A free H×W×4 array of ``kind`` (numpy's dtype.str without the byte order: "u1" history frames,
        "f4" tracks), or None: cv2 allocates."""
        free = self._free.get(kind)
        return free.pop() if free else None

    def _give(self, a: np.ndarray) -> None:
        if a.flags.writeable and a.shape[:2] == self._shape:
            self._free.setdefault(a.dtype.str[1:], []).append(a)

    def _tmp(self, name: str, channels: int) -> np.ndarray:
        """A named H×W×channels float32 scratch array (its contents do not survive the frame)."""
        return self._scratch(name, (*self._shape, channels))

    def _compose(self, step: Step, h: int, w: int) -> None:
        # a pixel x of frame t was at x + b(x) in t−1, which was at track(x + b(x)) in t−k; where this
        # frame's mask is False the map points outside and the border makes it gone
        cv2 = _cv2()
        at = cv2.add(grid(h, w), step.backward, dst=self._tmp("at", 2))
        at[~step.mask] = _GONE
        border = (_GONE, 0.0, _GONE, 0.0)
        kick = self._tmp("kick", 4)
        for slab in {id(p.slab): p.slab for p in self.history}.values():
            t = cv2.remap(slab.track, at, None, cv2.INTER_LINEAR, dst=self._take("f4"),
                          borderMode=cv2.BORDER_CONSTANT, borderValue=border)
            # a visible neighbour interpolated with a gone x by a tiny weight shrinks it: push every x (and
            # only x: a valid coordinate is never below 0) below −1 back past _GONE, so it stays outside
            cv2.threshold(t, -1.0, _GONE, cv2.THRESH_BINARY_INV, dst=kick)
            cv2.add(t, kick, dst=t)
            self._give(slab.track)
            slab.track = t

    def _restore(self, avg: np.ndarray, fresh: np.ndarray, count: np.ndarray) -> np.ndarray:
        cv2 = _cv2()
        sel = cv2.compare(count, 1.5, cv2.CMP_GT)       # pixels where more than the fresh frame was averaged
        if not cv2.countNonZero(sel):
            return avg
        hp, tmp = self._tmp("hp", 3), self._tmp("tmp", 3)
        cv2.subtract(avg, cv2.GaussianBlur(avg, (0, 0), self.sigma, dst=tmp), dst=hp)
        e_avg = sum(cv2.mean(cv2.multiply(hp, hp, dst=tmp), mask=sel)[:3])     # mean high-pass energy there
        hp_fresh = cv2.subtract(fresh, cv2.GaussianBlur(fresh, (0, 0), self.sigma, dst=tmp), dst=tmp)
        e_fresh = sum(cv2.mean(cv2.multiply(hp_fresh, hp_fresh, dst=tmp), mask=sel)[:3])
        gain = float(np.sqrt(e_fresh / e_avg)) if e_avg > 1e-6 * 3 else 1.0
        if gain <= 1.0:
            return avg
        # out = base + g(x)·hp = avg + (g(x) − 1)·hp, g(x) = min(gain, √count) (≥ 1: count ≥ 1)
        extra = cv2.subtract(cv2.min(cv2.sqrt(count), gain), 1.0)
        cv2.multiply(hp, cv2.merge([extra, extra, extra], dst=tmp), dst=hp)
        return cv2.add(avg, hp, dst=avg)


def warp_previous(prev_out: np.ndarray, step: Step) -> tuple[np.ndarray, np.ndarray]:
    """The previous output brought into the current frame, and the mask where that is trustworthy
    (gatys's warped initialisation and temporal loss)."""
    return warp(np.asarray(prev_out, np.float32), step.backward), step.mask
