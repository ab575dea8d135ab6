"""The Python API; the CLI and the web UI are thin layers over it.

>>> import painterly
>>> img = painterly.stylize("examples/chelsea.jpg", "examples/brick.jpg", method="fast", size=256)
"""

from __future__ import annotations

import dataclasses
import glob
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Union

from PIL import Image

from . import image as im
from .errors import PainterlyError
from .methods import create
from .methods.base import Common, Method, Pipeline, Result, StyleSpec, split_weight

ContentLike = Union[str, Path, Image.Image, im.Picture]
StyleLike = Union[str, Path, Image.Image, tuple[Any, float]]

IMAGE_EXTS = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif"}
_COMMON_FIELDS = {f.name for f in dataclasses.fields(Common)}


def expand_inputs(args: Sequence[str | Path], what: str = "content") -> list[Path]:
    """Files as given; folders → their image files (sorted); globs → matches. Empty results are errors."""
    out: list[Path] = []
    for a in args:
        p = Path(a)
        if p.is_dir():
            files = sorted(f for f in p.iterdir() if f.suffix.lower() in IMAGE_EXTS and f.is_file())
            if not files:
                raise PainterlyError(f"{what} folder {p} contains no image files.")
            out += files
        elif not p.exists() and any(c in str(a) for c in "*?["):
            matches = sorted(Path(m) for m in glob.glob(str(a)) if Path(m).suffix.lower() in IMAGE_EXTS)
            if not matches:
                raise PainterlyError(f"{what} pattern {a!r} matches no image files.")
            out += matches
        elif not p.exists():
            raise PainterlyError(f"{what} image not found: {p}")
        else:
            out.append(p)
    return out


def make_method(method: str = "fast", **options: Any) -> Method:
    """Split options into the common ones (size, seed, device, …) and the method's own, then build it."""
    common = Common(**{k: v for k, v in options.items() if k in _COMMON_FIELDS})
    own = {k: v for k, v in options.items() if k not in _COMMON_FIELDS}
    return create(method, common, **own)


def _picture(content: ContentLike, allow_large: bool) -> im.Picture:
    if isinstance(content, im.Picture):
        return content
    if isinstance(content, Image.Image):
        w, h = content.size
        im.check_pixels(w, h, "content image", allow_large)
        rgb, alpha = im._to_rgb_alpha(content)
        return im.Picture(rgb, alpha, None)
    return im.load_image(content, what="content image", allow_large=allow_large)


def _style_spec(m: Method, style: StyleLike) -> StyleSpec:
    weight = 1.0
    if isinstance(style, tuple):
        style, weight = style
    if isinstance(style, Image.Image):
        rgb, _ = im._to_rgb_alpha(style)
        return StyleSpec("image", float(weight), im.Picture(rgb))
    source, w = split_weight(str(style)) if weight == 1.0 else (str(style), float(weight))
    return m.resolve_style(source, w)


def styles_for(m: Method, style: StyleLike | Sequence[StyleLike] | None) -> list[StyleSpec]:
    if style is None:
        return []
    items = list(style) if isinstance(style, list) else [style]
    return [_style_spec(m, s) for s in items]


def pipeline(method: str | Method = "fast", style: StyleLike | Sequence[StyleLike] | None = None,
             mask: str | Path | None = None, **options: Any) -> Pipeline:
    """A reusable pipeline: styles prepared once, then call it on many contents or video frames."""
    m = make_method(method, **options) if isinstance(method, str) else method
    return Pipeline(m, styles_for(m, style), mask)


def stylize(content: ContentLike, style: StyleLike | Sequence[StyleLike] | None = None,
            method: str = "fast", *, mask: str | Path | None = None, **options: Any) -> Image.Image:
    """Stylise one image and return it (RGBA if the content had transparency).

    ``style``: a path, a PIL image, a method's built-in style name, ``(path, weight)``, or a list of
    those (blended). ``options``: the common ones (``size``, ``style_size``, ``steps``, ``seed``,
    ``preserve_color``, ``device``, ``weights``, ``allow_large``, ``progress``, ``callback``) and the
    method's own (e.g. ``style_weight`` for gatys, ``alpha`` for adain/sanet, ``strength`` for fast).
    """
    return stylize_report(content, style, method, mask=mask, **options).image_with_alpha()


def stylize_report(content: ContentLike, style: StyleLike | Sequence[StyleLike] | None = None,
                   method: str = "fast", *, mask: str | Path | None = None, **options: Any) -> Result:
    """Like stylize() but returns the full Result (image, alpha, losses, steps, seconds)."""
    pipe = pipeline(method, style, mask, **options)
    return pipe(_picture(content, pipe.method.common.allow_large))


def run_grid(contents: Sequence[str | Path], styles: Sequence[str], method: str = "fast",
             **options: Any) -> Iterator[tuple[int, int, Result]]:
    """Every content × every style (each style on its own, prepared once): yields (i_content, i_style, r)."""
    m = make_method(method, **options)
    for j, s in enumerate(styles):
        pipe = Pipeline(m, [_style_spec(m, s)])
        for i, c in enumerate(contents):
            yield i, j, pipe(_picture(c, m.common.allow_large))
