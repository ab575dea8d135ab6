"""Video stylisation, frame by frame, with any method through the shared Pipeline (PyAV, the ``video`` extra).

Styles are prepared once (the Pipeline caches them) and reused for every frame. The output keeps the
input's frame rate and frame size (frames are stylised at ``--size`` and resized back if that differs),
the audio stream is copied packet for packet, and the file is written to a temporary name and renamed at
the end, so a failure never leaves a half-written video.

Temporal consistency (``consistency``):

* ``flow`` (default): optical flow between the *input* frames (OpenCV DIS, ``painterly.temporal``), an
  occlusion mask, and the last few stylised frames brought into the current one and averaged where the
  pixel was visible all along (each sampled once: no accumulated blur); scene cuts reset the history.
  For gatys (Ruder et al. 2016) each frame instead starts from the warped previous result, with a
  temporal loss on the trusted pixels and fewer steps than the first frame.
* ``blend``: out_t = (1 − w)·y_t + w·out_{t−1} (the old ``--smooth W``): less flicker, but moving edges
  ghost and detail is smeared.
* ``none``: every frame on its own.

``report=True`` measures the output (and input) clip's warping error and detail
(``painterly.videometrics``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from tqdm import tqdm

from . import image as im
from .errors import PainterlyError
from .files import atomic_path
from .methods.base import Pipeline

CONSISTENCY = ("flow", "blend", "none")
DEFAULT_BLEND = 0.6

# container extension -> video codecs to try, best first
CODECS: dict[str, tuple[str, ...]] = {
    ".mp4": ("libx264", "h264", "mpeg4"),
    ".m4v": ("libx264", "h264", "mpeg4"),
    ".mov": ("libx264", "h264", "mpeg4"),
    ".mkv": ("libx264", "h264", "mpeg4"),
    ".avi": ("mpeg4",),
    ".webm": ("libvpx-vp9", "libvpx"),
}


@dataclass
class VideoReport:
    input: str
    output: str
    frames: int
    fps: float
    size: tuple[int, int]
    audio: bool
    seconds: float
    consistency: str = "none"
    cuts: int = 0
    metrics: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        d = {**self.__dict__, "size": list(self.size), "seconds": round(self.seconds, 3)}
        if self.metrics is None:
            d.pop("metrics")
        return d


def _av() -> Any:
    try:
        import av
    except ImportError:
        raise PainterlyError("video needs PyAV: pip install 'painterly[video]' (or: pip install av).") from None
    return av


def _codec(av: Any, dest: Path) -> str:
    ext = dest.suffix.lower()
    if ext not in CODECS:
        raise PainterlyError(f"cannot write video {dest}: unknown extension {ext or '(none)'}; use one of "
                             + ", ".join(sorted(CODECS)) + ".")
    for name in CODECS[ext]:
        if name in av.codecs_available:
            return name
    raise PainterlyError(f"this PyAV build has no encoder for {ext} ({', '.join(CODECS[ext])}).")


def even_size(width: int, height: int) -> tuple[int, int]:
    """The frame size the yuv420p encoders accept: each side rounded down to even (odd sides lose their
    last pixel column/row; 1 px sides cannot be encoded at all)."""
    if width < 2 or height < 2:
        raise PainterlyError(f"cannot encode a {width}x{height} video: each side must be at least 2 px.")
    return width - width % 2, height - height % 2


def _encode(out: Any, vout: Any, frame: Any, dest: Path) -> None:
    """Encode and mux one frame (None: flush); encoder failures are reported as such, not as decoding."""
    av = _av()
    try:
        out.mux(vout.encode(frame))
    except av.FFmpegError as exc:
        raise PainterlyError(f"cannot encode video {dest} ({vout.codec_context.name}, "
                             f"{vout.width}x{vout.height}): {_first_line(exc)}") from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return (text.splitlines() or [type(exc).__name__])[0][:200] if text else type(exc).__name__


@dataclass
class Options:
    """How frames are tied together; see the module notes."""

    consistency: str = "flow"
    blend: float = DEFAULT_BLEND        # blend: weight of the previous output
    window: int = 8                     # flow: frames averaged (fresh one included)
    flow_preset: str = "balanced"       # DIS preset: ultrafast | fast | balanced | fine | medium (fine,
                                        # medium: also cubic sampling of the past frames)
    temporal_weight: float = 1e3        # gatys: Ruder's short-term temporal loss weight (0–255 scale, MSE)
    next_steps: int | None = None       # gatys: steps for frames after the first (None: half the steps)
    report: bool = False                # measure warping error and detail

    def check(self) -> None:
        if self.consistency not in CONSISTENCY:
            raise PainterlyError(f"--consistency must be one of {', '.join(CONSISTENCY)}, got "
                                 f"{self.consistency!r}.")
        if not 0.0 <= self.blend < 1.0:
            raise PainterlyError(f"--smooth must be in [0, 1), got {self.blend}.")
        if self.window < 1:
            raise PainterlyError(f"--window must be at least 1 frame, got {self.window}.")
        from .temporal import PRESETS                   # numpy only; OpenCV loads when flow runs
        if self.flow_preset not in PRESETS:
            raise PainterlyError(f"--flow-preset must be one of {', '.join(PRESETS)}, got "
                                 f"{self.flow_preset!r}.")
        if not self.temporal_weight >= 0 or self.temporal_weight == float("inf"):
            raise PainterlyError(f"--temporal-weight must be a non-negative number, got {self.temporal_weight}.")
        if self.next_steps is not None and self.next_steps < 0:
            raise PainterlyError(f"--next-steps must be 0 or more, got {self.next_steps}.")


def options_for(consistency: str | None, smooth: float | None) -> Options:
    """``--smooth W`` alone means ``--consistency blend`` with weight W (the old flag)."""
    if consistency is None:
        consistency = "blend" if smooth else "flow"
    opts = Options(consistency=consistency, blend=DEFAULT_BLEND if smooth is None else smooth)
    if smooth is not None and consistency != "blend" and smooth > 0:
        raise PainterlyError(f"--smooth is the weight of --consistency blend; it does not apply to "
                             f"--consistency {consistency}.")
    return opts


class FrameStylizer:
    """Stylises a stream of frames (H×W×3 uint8, one clip) with temporal consistency; returns float32
    H×W×3 in 0..255 at the frame size. Used by ``stylize_video`` and ``benchmarks/bench_video.py``.

    ``steps_override``: a list of known motion steps (tests/benchmarks with exact flow) instead of DIS.
    """

    def __init__(self, pipe: Pipeline, opts: Options) -> None:
        opts.check()
        self.pipe, self.opts = pipe, opts
        self.optimises = getattr(pipe.method, "accepts_temporal_hint", False)
        self.motion = None
        if opts.consistency == "flow" or opts.report:
            from . import temporal
            self.motion = temporal.Motion(opts.flow_preset)
            self.combine = temporal.Temporal(
                window=opts.window, interpolation="cubic" if opts.flow_preset in ("fine", "medium") else "linear")
        if opts.report:
            from .videometrics import ClipMeter
            self.meter_out, self.meter_in = ClipMeter(), ClipMeter()
        self.prev: np.ndarray | None = None
        self.cuts = 0
        self.frames = 0
        self.first_steps = getattr(getattr(pipe.method, "config", None), "steps", None)

    def __call__(self, frame: np.ndarray, step: Any = "estimate") -> np.ndarray:
        if step == "estimate":
            step = self.motion(frame) if self.motion is not None else None
        if step is not None and step.cut:
            self.cuts += 1
        size = (frame.shape[1], frame.shape[0])
        mode = self.opts.consistency
        fresh = step is not None and not step.cut and self.prev is not None
        if mode == "flow" and self.optimises:
            self.pipe.method.temporal_hint = self._hint(step) if fresh else None
            try:
                out = _stylise(self.pipe, Image.fromarray(frame), size)
            finally:
                self.pipe.method.temporal_hint = None
        elif mode == "flow":                            # the combine keeps 8-bit frames: no float round trip
            y8 = _stylise(self.pipe, Image.fromarray(frame), size, np.uint8)
            out = self.combine(y8, step if fresh else None)
        else:
            y = _stylise(self.pipe, Image.fromarray(frame), size)
            if mode == "blend" and self.opts.blend and self.prev is not None:
                out = (1.0 - self.opts.blend) * y + self.opts.blend * self.prev
            else:
                out = y
        if self.opts.report:
            self.meter_in.add(frame, step)
            self.meter_out.add(np.clip(out + 0.5, 0, 255).astype(np.uint8), step)
        self.prev = out
        self.frames += 1
        return out

    def _hint(self, step: Any) -> Any:
        from . import temporal
        warped, mask = temporal.warp_previous(self.prev, step)
        init = warped.transpose(2, 0, 1)[None] / np.float32(255.0)
        init = np.clip(init, 0, 1).astype(np.float32)
        if self.pipe.method.common.preserve_color == "luminance":
            init = im.luminance(init)
        steps = self.opts.next_steps
        if steps is None:
            steps = max(1, (self.first_steps or 2) // 2)
        return temporal.Hint(init, mask.astype(np.float32), self.opts.temporal_weight, steps)

    def metrics(self) -> dict[str, Any] | None:
        if not self.opts.report:
            return None
        out, inp = self.meter_out.as_dict(), self.meter_in.as_dict()
        return {"warping_error": out["warping_error"], "detail": out["detail"],
                "input_warping_error": inp["warping_error"], "input_detail": inp["detail"],
                "pairs": out["pairs"], "trusted": out["trusted"],
                "definition": "warping error: mean |out_t - warp(out_t-1)| in levels of 255 over pixels "
                              "visible in both frames (DIS flow of the input); detail: mean gradient "
                              "magnitude of the grey frame"}


def stylize_video(src: str | Path, dest: str | Path, pipe: Pipeline, smooth: float | None = None,
                  progress: bool = True, consistency: str | None = None,
                  options: Options | None = None,
                  on_frame: Callable[[int, int], None] | None = None) -> VideoReport:
    """Stylise every frame of ``src`` with ``pipe`` and write ``dest`` (format by extension).

    ``consistency``: flow (default) | blend | none; ``smooth`` alone means blend with that weight.
    ``options`` (an ``Options``) sets everything at once and wins over both. ``on_frame(done, total)``
    after each frame (total: the container's frame count, 0 if it does not say; the web page's bar).
    """
    av = _av()
    src, dest = Path(src), Path(dest)
    opts = options if options is not None else options_for(consistency, smooth)
    opts.check()
    if not src.is_file():
        raise PainterlyError(f"video not found: {src}")
    if src.resolve() == dest.resolve():
        raise PainterlyError("the output video must not be the input video.")
    codec = _codec(av, dest)
    t0 = time.perf_counter()
    try:
        inp = av.open(str(src))
    except (av.FFmpegError, OSError, ValueError) as exc:
        raise PainterlyError(f"cannot decode video {src}: {_first_line(exc)}") from None
    with inp:
        if not inp.streams.video:
            raise PainterlyError(f"{src} has no video stream.")
        if inp.format.name == "image2" or inp.format.name.endswith("_pipe"):
            raise PainterlyError(f"{src} is a still image, not a video (use painterly stylize for images).")
        vin = inp.streams.video[0]
        ain = inp.streams.audio[0] if inp.streams.audio else None
        fps = Fraction(vin.average_rate or vin.guessed_rate or 25)
        width, height = vin.codec_context.width, vin.codec_context.height
        if not width or not height:
            raise PainterlyError(f"cannot decode video {src}: no frame size in its video stream.")
        frames = 0
        out_w, out_h = even_size(width, height)
        if (out_w, out_h) != (width, height):
            from .hub import warn

            warn(f"{src} is {width}x{height}; the encoder needs even sides, so the output is cropped by one "
                 f"pixel to {out_w}x{out_h}.")
        with atomic_path(dest) as tmp:
            out = av.open(str(tmp), "w")
            try:
                vout = out.add_stream(codec, rate=fps)
                vout.width, vout.height = out_w, out_h
                vout.pix_fmt = "yuv420p"
                aout = out.add_stream_from_template(ain) if ain is not None else None
                bar = tqdm(total=vin.frames or None, unit="frame", desc=dest.name, disable=not progress,
                           dynamic_ncols=True)
                styler = FrameStylizer(pipe, opts)
                with bar:
                    for packet in inp.demux(*(s for s in (vin, ain) if s is not None)):
                        if packet.stream is ain:
                            if packet.dts is not None:  # skip demuxer flush packets
                                packet.stream = aout
                                out.mux(packet)
                            continue
                        for frame in packet.decode():
                            arr = styler(_rgb(frame, width, height))
                            vf = av.VideoFrame.from_ndarray(
                                np.clip(arr[:out_h, :out_w] + 0.5, 0, 255).astype(np.uint8), format="rgb24")
                            vf.pts = frames
                            _encode(out, vout, vf, dest)
                            frames += 1
                            bar.update()
                            if on_frame is not None:
                                on_frame(frames, int(vin.frames or 0))
                    _encode(out, vout, None, dest)
            except av.FFmpegError as exc:
                raise PainterlyError(f"cannot decode video {src}: {_first_line(exc)}") from None
            finally:
                out.close()
            if frames == 0:
                raise PainterlyError(f"cannot decode video {src}: it has no decodable frames.")
    return VideoReport(str(src), str(dest), frames, float(fps), (out_w, out_h), ain is not None,
                       time.perf_counter() - t0, opts.consistency, styler.cuts, styler.metrics())


def _rgb(frame: Any, width: int, height: int) -> np.ndarray:
    """A decoded frame as H×W×3 uint8 RGB at the stream's frame size."""
    arr = frame.to_ndarray(format="rgb24")
    if arr.shape[:2] != (height, width):
        arr = np.asarray(Image.fromarray(arr).resize((width, height), Image.Resampling.BILINEAR))
    return np.ascontiguousarray(arr)


def _stylise(pipe: Pipeline, frame: Image.Image, size: tuple[int, int],
             dtype: Any = np.float32) -> np.ndarray:
    """One frame through the pipeline, back at the frame size, as [H, W, 3] in 0..255 (float32 or uint8)."""
    result = pipe(im.Picture(frame.convert("RGB"), None, None)).image
    if result.size != size:
        result = result.resize(size, Image.Resampling.LANCZOS)
    return np.asarray(result, dtype=dtype)
