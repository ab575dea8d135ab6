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


# ----------------------------------------------------------------------------------------------------
# pix2pix: file-level translation (inputs, output names, sheets) over pix2pix's image-level translate
# ----------------------------------------------------------------------------------------------------

def translate_files(inputs: Sequence[str | Path], checkpoint: str | Path, output: str | Path | None = None,
                    eval_mode: bool = False, seed: int = 0, pairs: bool = False, direction: str = "AtoB",
                    size: int = 0, sheet: str | Path | None = None, netG: str | None = None,
                    norm: str | None = None, ngf: int | None = None, device: str = "auto",
                    progress: bool = True) -> list[tuple[Path, Path]]:
    """Translate image files with a pix2pix generator; returns [(input, written file)].

    One input → ``output`` is a file (default ``STEM-pix2pix.png``); several → a folder (default
    ``translated/``) of ``STEM.png``. ``pairs``: inputs are A|B images, ``direction`` picks the input half
    and the other half is the sheet's target column. ``size``: resize the long side first (0 = native).
    See ``painterly translate --help``.
    """
    import torch
    from tqdm import tqdm

    from .methods import pix2pix as p2p
    from .nn.device import pick

    p2p.check_direction(direction)
    files = expand_inputs(inputs, "input")
    many = len(files) > 1
    out = Path(output) if output is not None else (Path("translated") if many else
                                                    Path(f"{files[0].stem}-pix2pix.png"))
    if many and out.suffix.lower() in im.SAVE_FORMATS:
        raise PainterlyError(f"{len(files)} inputs need an output folder, but -o {out} looks like a file name.")
    if not many and out.suffix.lower() not in im.SAVE_FORMATS:
        raise PainterlyError(f"cannot save {out}: unknown extension {out.suffix or '(none)'}; use one of "
                             + ", ".join(sorted(im.SAVE_FORMATS)))
    if sheet is not None and Path(sheet).suffix.lower() not in im.SAVE_FORMATS:
        raise PainterlyError(f"cannot save sheet {sheet}: unknown extension {Path(sheet).suffix or '(none)'}.")
    dev = pick(device)
    G, opts = p2p.load_generator(checkpoint, netG=netG, norm=norm, ngf=ngf)
    G.to(dev)
    p2p.set_mode(G, eval_mode)
    torch.manual_seed(seed)  # once: with dropout on, image k's noise depends on the images before it
    done: list[tuple[Path, Path]] = []
    rows: list[list[Image.Image]] = []
    for f in tqdm(files, desc="translate", unit="img", disable=not (progress and many)):
        pic = im.load_image(f, "input image")
        src, tgt = p2p.split_pair(pic.rgb, f, direction) if pairs else (pic.rgb, None)
        src = im.resize_long(src, size)
        result = p2p.translate_image(G, opts, src, dev)
        dest = out / f"{f.stem}.png" if many else out
        im.save_image(result, dest)
        done.append((f, dest))
        if sheet is not None:
            row = [src, result]
            if tgt is not None:
                row.append(tgt.resize(src.size, Image.Resampling.BICUBIC))
            rows.append(row)
    if sheet is not None and rows:
        im.save_image(p2p.image_sheet(rows), sheet)
    return done
