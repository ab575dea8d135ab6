"""Request handling behind the page, as plain functions testable without a browser.

A request is the page's settings (method, up to MAX_STYLES weighted styles, strength, stroke scale,
size, colours, steps) turned into exactly the arguments the CLI would pass to painterly.api: the photo
tab calls ``api.stylize_report``, the webcam reuses one ``api.pipeline`` per setting, the video tab runs
``painterly.video.stylize_video`` — the code path of ``painterly video``. Every user error is a
PainterlyError whose message is fit for the page.
"""

from __future__ import annotations

import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from .. import api
from .. import image as im
from ..errors import PainterlyError
from ..methods import METHODS, method_class
from ..methods.base import Pipeline, Result
from .offer import STREAM_METHODS, method_state

PRESERVE_CHOICES = ["off", "luminance", "histogram"]
BUILTIN, IMAGE = "built-in style", "style image"
MAX_STYLES = 4
# Which method option the "strength" slider drives: fast interpolates style vectors, adain/sanet blend
# features (α). Gatys has no such knob (its trade-off is the style weight), so the slider is hidden there.
STRENGTH_OPTION = {"fast": "strength", "adain": "alpha", "sanet": "alpha"}
# Brush colours for painted regions, darkest first, so with the CLI's convention (regions numbered darkest
# colour first, unpainted = black = region 0) brush k paints the region of style k + 2.
BRUSH_COLOURS = (("blue", "#0000ff"), ("red", "#ff0000"), ("yellow", "#ffff00"))

ProgressFn = Callable[[int, int, str], None]


@dataclass(frozen=True)
class ServeConfig:
    """Options of ``painterly serve``; the defaults are safe for a laptop (local only, one job at a time)."""

    host: str = "127.0.0.1"
    port: int = 7860
    pix2pix: Path | None = None          # checkpoint for the pix2pix tab
    max_upload_mb: float = 20.0          # per file; Gradio refuses larger uploads before they reach us
    max_megapixels: float = im.MAX_MEGAPIXELS
    max_size: int = 2048                 # largest output long side the page gives
    queue_size: int = 16                 # waiting requests beyond this get "queue full"
    concurrency: int = 1                 # jobs run at once (CPU-bound: more only helps with a GPU)
    stream_seconds: int = 120            # a webcam stream holds the one job slot at most this long


def load_upload(path: str | None, what: str, max_megapixels: float) -> im.Picture:
    """An uploaded file as a Picture, or a PainterlyError whose message names the file as the user
    uploaded it (never the server's temporary path)."""
    if not path:
        raise PainterlyError(f"upload a {what} first.")
    p = Path(path)
    try:
        # the header only: a valid but huge image is "too large", not "not an image" (Pillow's bomb guard)
        w, h = im.probe_size(p, what)
    except PainterlyError:
        raise PainterlyError(f"the {what} {p.name} is not an image file (use JPEG, PNG, WebP, TIFF or BMP).") \
            from None
    check_megapixels(w, h, what, max_megapixels)
    try:
        return im.load_image(p, what=what)
    except PainterlyError as exc:
        raise PainterlyError(str(exc).replace(str(p), p.name)) from None


def check_megapixels(w: int, h: int, what: str, max_megapixels: float) -> None:
    if w * h > max_megapixels * 1e6:
        raise PainterlyError(f"the {what} is {w}x{h} ({w * h / 1e6:.1f} MP), over this server's limit of "
                             f"{max_megapixels:g} MP; scale it down first.")


@dataclass
class StylizeRequest:
    """The page's settings. Style slot i is used when it has a style (a built-in name with style_from =
    BUILTIN, else an uploaded image); used slots are blended by weight, or with a mask, slot k styles
    region k (the CLI's ``--style`` order)."""

    content: str | None
    method: str = "fast"
    style_from: str = BUILTIN
    builtins: Sequence[str | None] = ()
    style_images: Sequence[str | None] = ()
    weights: Sequence[float] = ()        # missing entries count as 1 (the CLI's PATH without :WEIGHT)
    strength: float = 1.0
    stroke_scale: float = 1.0
    size: int = 0                        # 0 = the method's own default, as the CLI without --size
    preserve_color: str = "off"
    steps: int = 0                       # gatys only; 0 = the method's default
    mask: str | None = None              # label image (the painted regions), as --mask


SETTINGS_FIELDS = 1 + 1 + 3 * MAX_STYLES + 5   # method, style_from, builtins, images, weights, 5 scalars


def request_from(content: str | None, settings: Sequence[Any], mask: str | None = None) -> StylizeRequest:
    """A request from the page's settings components in page order (see page.settings_components)."""
    if len(settings) != SETTINGS_FIELDS:
        raise PainterlyError(f"expected {SETTINGS_FIELDS} settings, got {len(settings)}.")
    method, style_from, *rest = settings
    builtins, images, weights = (rest[i * MAX_STYLES:(i + 1) * MAX_STYLES] for i in range(3))
    strength, stroke, size, preserve, steps = rest[3 * MAX_STYLES:]
    return StylizeRequest(content, str(method), str(style_from), list(builtins), list(images),
                          [1.0 if w is None else float(w) for w in weights], float(strength), float(stroke),
                          int(size or 0), str(preserve), int(steps or 0), mask)


def check_method(name: str, streaming: bool = False) -> None:
    if name not in METHODS:
        raise PainterlyError(f"unknown method {name!r}; choose one of {', '.join(METHODS)}.")
    state = method_state(name)
    if not state.available:
        raise PainterlyError(state.hint)
    if streaming and name not in STREAM_METHODS:
        raise PainterlyError(f"video and webcam need a feed-forward method ({', '.join(STREAM_METHODS)}); "
                             f"{name} optimises every picture for minutes.")


def request_styles(req: StylizeRequest, cfg: ServeConfig) -> list[tuple[Any, float]]:
    """The used style slots as (built-in name or RGB image, weight) — what api.stylize takes as a list."""
    out: list[tuple[Any, float]] = []
    for i in range(MAX_STYLES):
        weight = float(req.weights[i]) if i < len(req.weights) else 1.0
        if req.style_from == BUILTIN:
            name = req.builtins[i] if i < len(req.builtins) else None
            if name:
                out.append((str(name), weight))
        else:
            path = req.style_images[i] if i < len(req.style_images) else None
            if path:
                out.append((load_upload(path, f"style image {i + 1}", cfg.max_megapixels).rgb, weight))
        if out and out[-1][1] < 0:
            raise PainterlyError(f"the weight of style {i + 1} must not be negative.")
    if req.style_from == BUILTIN and out and req.method != "fast":
        raise PainterlyError(f"built-in styles belong to the fast method; upload a style image for {req.method}.")
    if not out:
        raise PainterlyError("pick a built-in style (or choose 'style image' and upload one)."
                             if req.style_from == BUILTIN else "upload a style image first.")
    return out


def method_default_long(method: str, long_side: int) -> int:
    """The output long side the CLI gives without --size (fast keeps smaller photos at their size)."""
    cls = method_class(method)
    return cls.default_size if cls.upscale_default else min(cls.default_size, long_side)


def request_options(req: StylizeRequest, cfg: ServeConfig, long_side: int) -> dict[str, Any]:
    """api options for a content whose long side is ``long_side``: only what the user changed, so the
    method's defaults apply exactly as in the CLI."""
    size = int(req.size)
    if size and not 16 <= size <= cfg.max_size:
        raise PainterlyError(f"size must be 0 (the method's default) or between 16 and {cfg.max_size} px.")
    opts: dict[str, Any] = {"progress": False}
    if size:
        opts["size"] = size
    elif method_default_long(req.method, long_side) > cfg.max_size:
        opts["size"] = cfg.max_size    # the server's limit wins over the method's default
    if req.preserve_color not in PRESERVE_CHOICES:
        raise PainterlyError(f"colour preservation must be one of {', '.join(PRESERVE_CHOICES)}.")
    if req.preserve_color != "off":
        opts["preserve_color"] = req.preserve_color
    knob = STRENGTH_OPTION.get(req.method)
    if knob is not None:
        if not 0.0 <= float(req.strength) <= 1.0:
            raise PainterlyError("strength must be between 0 and 1.")
        if float(req.strength) != 1.0:
            opts[knob] = float(req.strength)
    if not 1.0 <= float(req.stroke_scale) <= 4.0:
        raise PainterlyError("stroke scale must be between 1 and 4.")
    if float(req.stroke_scale) != 1.0:   # only when changed: not every method (or API version) takes it
        opts["stroke_scale"] = float(req.stroke_scale)
    if req.method == "gatys" and req.steps:
        opts["steps"] = int(req.steps)
    return opts


def progress_callback(method: str, progress: ProgressFn) -> Callable[[int, int, dict[str, float]], None]:
    """The API's callback(step, total, info) as a page progress line."""
    def callback(step: int, total: int, info: dict[str, float]) -> None:
        loss = info.get("total", info.get("loss"))   # gatys reports its total loss as "total"
        extra = f" (loss {loss:.4g})" if isinstance(loss, (int, float)) else ""
        progress(step, total, f"{method}: step {step}/{total}{extra}")
    return callback


def describe(req: StylizeRequest, styles: Sequence[tuple[Any, float]], result: Result, img: Image.Image) -> str:
    names = [s if isinstance(s, str) else f"style image {i + 1}" for i, (s, _) in enumerate(styles)]
    if len(styles) > 1 and req.mask is None:
        names = [f"{n}×{w:g}" for n, (_, w) in zip(names, styles)]
    parts = [req.method, " + ".join(names), f"{img.width}×{img.height} px", f"{result.seconds:.1f} s"]
    if req.mask is not None:
        parts.append("painted regions")
    if req.preserve_color != "off":
        parts.append(f"colours: {req.preserve_color}")
    return " · ".join(parts)


def run_stylize(req: StylizeRequest, cfg: ServeConfig, progress: ProgressFn | None = None
                ) -> tuple[Image.Image, str]:
    """Check a request, stylise through api.stylize_report, return (result image, one-line report)."""
    check_method(req.method)
    content = load_upload(req.content, "photo", cfg.max_megapixels)
    styles = request_styles(req, cfg)
    opts = request_options(req, cfg, max(content.size))
    if progress is not None:
        opts["callback"] = progress_callback(req.method, progress)
    try:
        result = api.stylize_report(content, styles, method=req.method, mask=req.mask, **opts)
    except PainterlyError as exc:
        if req.mask is None:
            raise
        # the label file is the server's temporary name for what the user painted
        raise PainterlyError(str(exc).replace(f"mask {req.mask}", "the painted mask")
                             .replace(req.mask, "the painted mask")) from None
    out = result.image_with_alpha()
    return out, describe(req, styles, result, out)


# ----------------------------------------------------------------------------------------------------
# painted regions -> the label image --mask reads
# ----------------------------------------------------------------------------------------------------

def painted_labels(layers: Sequence[str | Image.Image]) -> Image.Image | None:
    """The image editor's painted layers as a --mask label image at the canvas size: black where nothing
    is painted (region 0, the first style), a brush's colour where it painted (later layers on top).
    Alpha is cut at one half so soft stroke edges do not become colours of their own. None when nothing
    is painted. Fitting it to the photo is left to the --mask code (same aspect check, same resize)."""
    canvas: np.ndarray | None = None
    painted = False
    for layer in layers:
        img = (layer if isinstance(layer, Image.Image) else Image.open(layer)).convert("RGBA")
        if canvas is None:
            canvas = np.zeros((img.height, img.width, 3), np.uint8)
        rgba = np.asarray(img.resize((canvas.shape[1], canvas.shape[0]), Image.Resampling.NEAREST))
        on = rgba[..., 3] >= 128
        canvas[on] = rgba[..., :3][on]
        painted = painted or bool(on.any())
    return Image.fromarray(canvas, "RGB") if canvas is not None and painted else None


def editor_mask(editor: Any, folder: Path) -> str | None:
    """The label file (PNG in ``folder``) for the editor's painted layers, or None when nothing is painted.
    ``editor`` is gr.ImageEditor's value: a dict with "layers" (file paths or images)."""
    layers = [x for x in (editor or {}).get("layers") or [] if x is not None]
    labels = painted_labels(layers)
    if labels is None:
        return None
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"mask-{uuid.uuid4().hex}.png"
    labels.save(path)
    return str(path)


# ----------------------------------------------------------------------------------------------------
# webcam: one prepared pipeline per setting, reused for every frame
# ----------------------------------------------------------------------------------------------------

@dataclass
class StreamState:
    """Frames/s of the running stream: an exponential average of the time between finished frames."""

    last: float = 0.0
    interval: float = 0.0
    frames: int = 0

    def tick(self) -> float:
        now = time.perf_counter()
        if self.frames:
            dt = now - self.last
            self.interval = dt if self.frames == 1 else 0.8 * self.interval + 0.2 * dt
        self.last, self.frames = now, self.frames + 1
        return 1.0 / self.interval if self.interval > 0 else 0.0


@dataclass
class PipelineCache:
    """Pipelines by their settings, so a stream prepares its style once (not once per frame); the few
    newest are kept because each holds the method's networks."""

    max_items: int = 4
    items: OrderedDict[tuple[Any, ...], Pipeline] = field(default_factory=OrderedDict)
    built: int = 0

    def get(self, req: StylizeRequest, cfg: ServeConfig, long_side: int) -> Pipeline:
        check_method(req.method, streaming=True)
        opts = request_options(req, cfg, long_side)
        # gradio names every upload by its content hash, so a style's path identifies its pixels
        slots = tuple(req.builtins if req.style_from == BUILTIN else req.style_images)
        key = (req.method, req.style_from, slots, tuple(req.weights), tuple(sorted(opts.items())))
        pipe = self.items.get(key)
        if pipe is None:
            pipe = api.pipeline(req.method, request_styles(req, cfg), None, **opts)
            self.built += 1
            self.items[key] = pipe
            while len(self.items) > self.max_items:
                self.items.popitem(last=False)
        self.items.move_to_end(key)
        return pipe


def stylize_frame(frame: np.ndarray, req: StylizeRequest, cfg: ServeConfig, cache: PipelineCache) -> np.ndarray:
    """One webcam frame (H×W×3 uint8) through the cached pipeline, back as H'×W'×3 uint8."""
    h, w = frame.shape[:2]
    check_megapixels(w, h, "webcam frame", cfg.max_megapixels)
    pipe = cache.get(req, cfg, max(w, h))
    rgb = Image.fromarray(np.ascontiguousarray(frame[..., :3]).astype(np.uint8), "RGB")
    return np.asarray(pipe(im.Picture(rgb, None, None)).image)


# ----------------------------------------------------------------------------------------------------
# video: painterly.video.stylize_video with a per-frame progress report
# ----------------------------------------------------------------------------------------------------

def video_info(path: Path) -> tuple[int, int, int]:
    """(width, height, frame count or 0) of a video's first stream; a PainterlyError if it is no video."""
    try:
        import av
    except ImportError:
        raise PainterlyError("video needs PyAV: pip install 'painterly[video]' (or: pip install av).") from None
    try:
        with av.open(str(path)) as c:
            if not c.streams.video:
                raise PainterlyError(f"{path.name} has no video stream.")
            v = c.streams.video[0]
            return int(v.codec_context.width or 0), int(v.codec_context.height or 0), int(v.frames or 0)
    except (av.FFmpegError, OSError, ValueError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise PainterlyError(f"cannot decode video {path.name}: {first}") from None


def run_video(path: str | None, smooth: float, req: StylizeRequest, cfg: ServeConfig, folder: Path,
              progress: ProgressFn | None = None) -> tuple[str, str]:
    """Stylise an uploaded video like ``painterly video``; returns (output .mp4 path, one-line report)."""
    from ..video import stylize_video

    if not path:
        raise PainterlyError("upload a video first.")
    check_method(req.method, streaming=True)
    src = Path(path)
    w, h, total = video_info(src)
    check_megapixels(w, h, "video frame", cfg.max_megapixels)
    styles = request_styles(req, cfg)
    pipe = api.pipeline(req.method, styles, None, **request_options(req, cfg, max(w, h)))
    folder.mkdir(parents=True, exist_ok=True)
    dest = folder / f"{src.stem}-{req.method}-{uuid.uuid4().hex[:8]}.mp4"
    def on_frame(done: int, n: int) -> None:
        if progress is not None:
            n = n or total
            progress(done, max(n, done), f"frame {done}/{n or '?'}")

    # smooth 0: `painterly video`'s default (optical-flow consistency); > 0: the blend with that weight
    rep = stylize_video(src, dest, pipe, smooth=float(smooth) or None, progress=False, on_frame=on_frame)
    return str(dest), (f"{req.method} · {rep.frames} frames · {rep.size[0]}×{rep.size[1]} · {rep.fps:g} fps"
                       f"{' · audio copied' if rep.audio else ''} · {rep.seconds:.1f} s")
