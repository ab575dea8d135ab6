"""What every stylisation method shares: style specs, common options, the method interface, and the
pipeline that resizes, preserves colour, applies masks and keeps alpha — the same way for every method.

A method only turns (content tensor, prepared styles, optional labels) into an image tensor. Everything
users expect to behave identically across methods (``--size``, ``--preserve-color``, ``--mask``, alpha,
reports) is done here once.
"""

from __future__ import annotations

import dataclasses
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Union

import numpy as np
from PIL import Image

from .. import image as im
from .. import upsample
from ..errors import PainterlyError

ProgressFn = Callable[[int, int, dict[str, float]], None]
"""callback(step, total, info) — the web UI uses it; the CLI shows tqdm bars instead."""

PRESERVE_COLOR = ("luminance", "histogram")
MAX_STROKE_SCALE = 8.0
"""Beyond this the reduced picture (1/K of the output) is too small to carry the content."""

PictureLike = Union[str, Path, Image.Image, im.Picture]


@dataclass
class StyleSpec:
    """One ``--style`` argument: an image (or a method's built-in style name) and its blend weight."""

    source: str
    weight: float = 1.0
    picture: im.Picture | None = None   # None for a built-in style of a method (fast's 26 styles)

    @property
    def name(self) -> str:
        return self.picture.name if self.picture is not None else str(self.source)

    def with_image(self, rgb: Image.Image) -> StyleSpec:
        """A copy whose pixels are replaced (colour-preserved versions of the style)."""
        path = self.picture.path if self.picture else None
        return StyleSpec(self.source, self.weight, im.Picture(rgb, None, path))


def split_weight(text: str) -> tuple[str, float]:
    """``"a.jpg:0.7"`` -> ("a.jpg", 0.7); ``"a.jpg"`` -> ("a.jpg", 1.0). A file that exists as given wins."""
    if Path(text).exists() or ":" not in text:
        return text, 1.0
    head, _, tail = text.rpartition(":")
    try:
        weight = float(tail)
    except ValueError:
        return text, 1.0
    if weight < 0 or weight != weight:
        raise PainterlyError(f"style weight in {text!r} must be a non-negative number.")
    return head, weight


def split_blend(text: str) -> list[str]:
    """``"3:0.5,12:0.5"`` -> ["3:0.5", "12:0.5"] (a comma blend, as one ``--style``). File names may
    contain commas: the longest run of comma-separated parts that names an existing file (with or without
    a ``:WEIGHT`` suffix) is kept whole, so ``"a,b.jpg:0.7,c.jpg"`` -> ["a,b.jpg:0.7", "c.jpg"] when
    ``a,b.jpg`` exists."""
    if "," not in text or Path(text).exists():
        return [text]
    parts = text.split(",")
    out: list[str] = []
    i = 0
    while i < len(parts):
        take = 1
        for j in range(len(parts), i + 1, -1):           # longest first
            candidate = ",".join(parts[i:j])
            if Path(split_weight(candidate)[0]).exists():
                take = j - i
                break
        item = ",".join(parts[i:i + take]).strip()
        if not item:
            raise PainterlyError(f"empty style in the blend {text!r} (two commas in a row?).")
        out.append(item)
        i += take
    return out


def normalised_weights(styles: Sequence[StyleSpec]) -> list[float]:
    """Blend weights normalised to sum to 1 (an error if they are all zero)."""
    total = sum(s.weight for s in styles)
    if total <= 0:
        raise PainterlyError("style weights must not all be zero.")
    return [s.weight / total for s in styles]


@dataclass
class Common:
    """Options with the same meaning for every method."""

    size: int | None = None            # long side of the output in px; 0 = native; None = method default
    style_size: int | None = None      # long side of the style image(s); None = method default
    steps: int | None = None           # optimisation steps (optimisation methods only)
    seed: int | None = None
    preserve_color: str | None = None  # luminance | histogram
    device: str = "auto"
    weights: str | None = None         # a checkpoint file overriding the cache
    allow_large: bool = False
    progress: bool = True              # tqdm bars on stderr
    callback: ProgressFn | None = None
    stroke_scale: float = 1.0          # strokes K× bigger at the same output size (see Pipeline)
    notice: Callable[[str], None] | None = None  # one-line notes for the user (the CLI: stderr)

    def __post_init__(self) -> None:
        for name in ("size", "style_size"):
            v = getattr(self, name)
            if v is not None and v < 0:
                raise PainterlyError(f"--{name.replace('_', '-')} must be 0 (native) or a positive size in px.")
        if self.steps is not None and self.steps < 0:
            raise PainterlyError("--steps must be 0 or more.")
        if self.preserve_color is not None and self.preserve_color not in PRESERVE_COLOR:
            raise PainterlyError(f"--preserve-color must be one of {', '.join(PRESERVE_COLOR)}.")
        if not 1.0 <= self.stroke_scale <= MAX_STROKE_SCALE:  # also refuses NaN
            raise PainterlyError(f"--stroke-scale must be between 1 and {MAX_STROKE_SCALE:g}, "
                                 f"got {self.stroke_scale}.")


@dataclass
class Output:
    """A method's result for one content image."""

    image: Image.Image
    info: dict[str, Any] = field(default_factory=dict)   # steps, losses, interrupted, ...


def build_config(cls: type, base: Any, options: dict[str, Any], method: str) -> Any:
    """``dataclasses.replace(base, **options)`` with a one-line error naming unknown options."""
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(options) - names)
    if unknown:
        flags = ", ".join("--" + k.replace("_", "-") for k in unknown)
        valid = ", ".join("--" + n.replace("_", "-") for n in sorted(names)) or "none"
        raise PainterlyError(f"option {flags} does not apply to --method {method} (its own options: {valid}).")
    return dataclasses.replace(base, **options)


class Method(ABC):
    """Interface of a stylisation method; one subclass per module in ``painterly.methods``."""

    name: ClassVar[str]
    default_size: ClassVar[int] = 512      # output long side when --size is not given
    upscale_default: ClassVar[bool] = True  # False: default_size only shrinks, smaller images stay as they are
    weights: ClassVar[tuple[str, ...]] = ()  # hub names needed (the web UI greys the method out without them)
    supports_mask: ClassVar[bool] = True
    # False: the Pipeline implements --stroke-scale by running the method at 1/K of the output size and
    # guided-upsampling the result. True: the method does it itself (Gatys scales its style targets).
    handles_stroke_scale: ClassVar[bool] = False
    min_side: ClassVar[int] = 1             # smallest image side (px) the networks accept, content and style
    uses_steps: ClassVar[bool] = False      # --steps means something (optimisation methods)
    uses_weights: ClassVar[bool] = True     # --weights means something (methods with checkpoints)

    def __init__(self, common: Common, **options: Any) -> None:
        self.common = common
        self.check_common()
        self.setup()
        self.configure(options)

    def check_common(self) -> None:
        """Common options this method would silently ignore are errors (the README promises so)."""
        if self.common.steps is not None and not self.uses_steps:
            raise PainterlyError(f"--steps does not apply to --method {self.name} (it is not an optimisation; "
                                 "only --method gatys takes --steps).")
        if self.common.weights is not None and not self.uses_weights:
            raise PainterlyError(f"--weights does not apply to --method {self.name} (its models ship with "
                                 "the package).")

    def check_side(self, size: tuple[int, int], what: str) -> None:
        """One-line error when an image (after resizing) is smaller than the networks accept."""
        if min(size) < self.min_side:
            raise PainterlyError(f"{what} would be {size[0]}x{size[1]} px; --method {self.name} needs at least "
                                 f"{self.min_side} px on each side (use a larger --size / --style-size, or a "
                                 "larger image).")

    def setup(self) -> None:
        """Runs before configure; torch methods pick their device here (see methods/torch_base.py)."""

    @abstractmethod
    def configure(self, options: dict[str, Any]) -> None:
        """Validate method-specific options (use build_config) and store them, e.g. as self.config."""

    def resolve_style(self, source: str, weight: float) -> StyleSpec:
        """Turn one ``--style`` into a StyleSpec; the default loads an image file."""
        pic = im.load_image(source, what="style image", allow_large=self.common.allow_large)
        return StyleSpec(source, weight, pic)

    def prepare(self, styles: Sequence[StyleSpec]) -> Any:
        """Style-side work done once and reused for every content image / video frame."""
        return list(styles)

    @abstractmethod
    def run(self, content: np.ndarray, prepared: Any, labels: im.Labels | None) -> Output:
        """Stylise ``content`` (float32 array [1,3,H,W] in [0,1], already at the output size). ``labels`` (if any)
        has the content's size and at most as many regions as there are styles."""

    # helpers for subclasses ------------------------------------------------------------------------

    def progress(self, total: int, desc: str) -> Any:
        from tqdm import tqdm  # imported when a bar is shown (start-up of quick jobs)

        return tqdm(total=total, desc=desc, disable=not self.common.progress, leave=False,
                    dynamic_ncols=True)

    def report(self, step: int, total: int, info: dict[str, float]) -> None:
        if self.common.callback is not None:
            self.common.callback(step, total, info)


@dataclass
class Result:
    """What the pipeline returns for one content image (the CLI's --json report is built from it)."""

    image: Image.Image
    alpha: Image.Image | None
    content: str
    styles: list[str]
    info: dict[str, Any]
    seconds: float

    def image_with_alpha(self) -> Image.Image:
        if self.alpha is None:
            return self.image
        out = self.image.copy()
        out.putalpha(self.alpha.resize(out.size, Image.Resampling.BILINEAR))
        return out

    def report(self, output: str | None = None) -> dict[str, Any]:
        return {"content": self.content, "styles": self.styles, "output": output,
                "size": list(self.image.size), "seconds": round(self.seconds, 3), **self.info}


class Pipeline:
    """Runs a method on content images with one set of styles, the same way for every method.

    Order of work: resize the content to ``--size`` → colour preservation (luminance: work on Y and
    keep the content's chroma; histogram: recolour the styles to the content by mean/covariance) →
    labels fitted to the content → method → alpha of the content re-attached by the caller on save.
    Style preparation is done once unless colour preservation makes it depend on the content.
    """

    def __init__(self, method: Method, styles: Sequence[StyleSpec], mask: str | Path | None = None) -> None:
        if not styles:
            raise PainterlyError(f"--method {method.name} needs at least one --style.")
        self.method = method
        self.styles = list(styles)
        self.mask = mask
        if mask is not None and not method.supports_mask:
            raise PainterlyError(f"--method {method.name} does not support --mask.")
        self._prepared: Any = None

    def _content_at_size(self, pic: im.Picture) -> Image.Image:
        m = self.method
        size = m.common.size
        if size is None:
            size = m.default_size
            if not m.upscale_default:
                size = min(size, max(pic.rgb.size))
        # sizes are checked before any pixel is allocated: the 50 MP limit, then the method's minimum
        target = im.long_side_size(pic.rgb.size, size)
        im.check_pixels(*target, "the output", m.common.allow_large)
        m.check_side(target, f"the content image {pic.name}")
        if m.common.size is not None and size > max(pic.rgb.size):
            # an explicit --size above the image's own: interpolation cannot add detail, so say so
            w, h = pic.rgb.size
            self._notify(f"note: --size {size} is larger than {pic.path or 'the image'} ({w}x{h}); "
                         "upscaling it first.")
        return im.resize_long(pic.rgb, size, allow_large=m.common.allow_large, what="the output")

    def _notify(self, text: str) -> None:
        if self.method.common.notice is not None:
            self.method.common.notice(text)

    def _styles_for(self, content: np.ndarray) -> list[StyleSpec]:
        mode = self.method.common.preserve_color
        out = []
        for s in self.styles:
            if s.picture is None or mode is None:
                out.append(s)
                continue
            st = im.to_array(s.picture.rgb)
            if mode == "histogram":
                st = np.clip(im.coral(st, content), 0, 1)
            else:
                y = np.clip(im.match_luminance(im.rgb_to(st)[:, :1], im.rgb_to(content)[:, :1]), 0, 1)
                st = np.broadcast_to(y, (1, 3, *y.shape[2:]))
            out.append(s.with_image(im.from_array(st)))
        return out

    def labels_for(self, size: tuple[int, int]) -> im.Labels | None:
        if self.mask is None:
            return None
        labels = im.load_labels(self.mask, size)
        if labels.count > len(self.styles):
            raise PainterlyError(
                f"mask {self.mask} has {labels.count} regions but only {len(self.styles)} style(s) were "
                "given; pass one --style per region (region 0 = darkest colour)."
            )
        return labels

    @staticmethod
    def picture(content: PictureLike, allow_large: bool = False) -> im.Picture:
        """A Picture from a path, a PIL image (alpha split off) or a Picture."""
        if isinstance(content, im.Picture):
            return content
        if isinstance(content, Image.Image):
            im.check_pixels(*content.size, "content image", allow_large)
            rgb, alpha = im._to_rgb_alpha(content)
            return im.Picture(rgb, alpha, None)
        return im.load_image(content, what="content image", allow_large=allow_large)

    def __call__(self, content: PictureLike) -> Result:
        t0 = time.perf_counter()
        common = self.method.common
        content = self.picture(content, common.allow_large)
        rgb = self._content_at_size(content)
        full = im.to_array(rgb)
        # --stroke-scale K for methods that do not handle it themselves: stylise at 1/K of the output
        # size (their strokes have a fixed size in pixels, so they come out K× bigger relative to the
        # picture), then back to full size with the content's edges restored by the guided upsampler
        scaled = common.stroke_scale > 1.0 and not self.method.handles_stroke_scale
        if scaled:
            w, h = upsample.reduced_size(rgb.size, common.stroke_scale)
            x = im.area_resize(full, (h, w))
        else:
            x = full
        work_size = (x.shape[-1], x.shape[-2])
        mode = common.preserve_color
        labels = self.labels_for(work_size)
        if mode is None:
            if self._prepared is None:
                self._prepared = self.method.prepare(self.styles)
            prepared = self._prepared
        else:
            prepared = self.method.prepare(self._styles_for(x))
        x_in = im.luminance(x) if mode == "luminance" else x
        out = self.method.run(x_in, prepared, labels)
        result_img = out.image
        if scaled:
            result_img = self._upsample(result_img, work_size, rgb)
        if mode == "luminance":
            if result_img.size != rgb.size:
                result_img = result_img.resize(rgb.size, Image.Resampling.BILINEAR)
            y = im.to_array(result_img)
            result_img = im.from_array(np.clip(im.combine_luminance(y, full), 0, 1))
        info = {"method": self.method.name, **out.info}
        if mode:
            info["preserve_color"] = mode
        if common.stroke_scale != 1.0:
            info["stroke_scale"] = common.stroke_scale
            if scaled:
                info["stylised_at"] = list(work_size)
        if common.size and common.size > max(content.rgb.size):
            info["upscaled_from"] = list(content.rgb.size)
        return Result(result_img, content.alpha, str(content.path or "image"), [s.name for s in self.styles],
                      info, time.perf_counter() - t0)

    @staticmethod
    def _upsample(low: Image.Image, work_size: tuple[int, int], rgb: Image.Image) -> Image.Image:
        """The method's small result at the output size, guided by the full-size content. A method that
        changes the picture's shape (``--crop``) is matched by the same centre crop of the content."""
        guide = rgb
        if low.size != work_size:
            fx, fy = rgb.width / work_size[0], rgb.height / work_size[1]
            cw, ch = min(rgb.width, round(low.width * fx)), min(rgb.height, round(low.height * fy))
            left, top = (rgb.width - cw) // 2, (rgb.height - ch) // 2
            guide = rgb.crop((left, top, left + cw, top + ch))
        return im.from_array(upsample.guided_upsample(im.to_array(low), im.to_array(guide)))
