"""The Python API; the CLI and the web UI are thin layers over it.

>>> import painterly
>>> img = painterly.stylize("examples/chelsea.jpg", "examples/brick.jpg", method="fast", size=256)
"""

from __future__ import annotations

import glob
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Union

from PIL import Image

from . import checks, hub
from . import image as im
from .errors import PainterlyError
from .methods import make_method as _build
from .methods.base import Common, Method, Pipeline, Result, StyleSpec, split_weight

ContentLike = Union[str, Path, Image.Image, im.Picture]
StyleLike = Union[str, Path, Image.Image, tuple[Any, float]]

IMAGE_EXTS = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif"}


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


def make_method(method: str | Method = "fast", **options: Any) -> Method:
    """A method object from its name and options (see methods.make_method); the onnx backend's exporter
    is loaded here, at the layer that may import both."""
    if isinstance(method, Method):
        return method
    if options.get("backend") == "onnx":
        from . import export  # noqa: F401  (registers the exporter the onnx backend uses on first run)
    return _build(method, **options)


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
    m = make_method(method, **options)
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
# Batches: contents × styles, output naming, contact sheets (shared by the CLI and the web UI)
# ----------------------------------------------------------------------------------------------------

def _is_pattern(s: str) -> bool:
    return not Path(s).exists() and any(c in s for c in "*?[")


@dataclass
class Batch:
    """What ``painterly stylize`` runs: every content with the blended styles, or (``grid``) every content
    with every style on its own; where each result goes; and an optional contact sheet."""

    contents: list[Path]
    styles: list[str]
    grid: bool
    output: Path
    sheet: Path | None = None

    @property
    def count(self) -> int:
        return len(self.contents) * (len(self.styles) if self.grid else 1)

    @property
    def many(self) -> bool:
        return self.count > 1

    def target(self, i: int, j: int) -> Path:
        if not self.many:
            return self.output
        c = self.contents[i]
        stem = f"{c.stem}-{Path(self.styles[j]).stem}" if self.grid else c.stem
        return self.output / f"{stem}.png"


def plan_batch(content: Sequence[str | Path], style: Sequence[str], method: str, output: Path | None = None,
               sheet: Path | None = None, mask: str | Path | None = None, pairs: bool = False,
               weights: str | Path | None = None) -> Batch:
    """Expand folders/globs, choose grid or blend, name the outputs; every check before any work
    (including: no output may overwrite an input, and every output location must be writable)."""
    contents = expand_inputs(content, "content")
    styles = [str(s) for s in style]
    grid = pairs or any(Path(s).is_dir() or _is_pattern(s) for s in styles)
    if grid:
        styles = [str(p) for p in expand_inputs(styles, "style")]
    n_out = len(contents) * (len(styles) if grid else 1)
    many = n_out > 1
    if output is None:
        output = Path("stylized") if many else Path(f"{contents[0].stem}-{method}.png")
    if many and output.suffix.lower() in im.SAVE_FORMATS:
        raise PainterlyError(f"{n_out} results need an output folder, but -o {output} looks like a file name.")
    if not many and output.suffix.lower() not in im.SAVE_FORMATS:
        raise PainterlyError(f"cannot save {output}: unknown extension {output.suffix or '(none)'}; use one of "
                             + ", ".join(sorted(im.SAVE_FORMATS)))
    if sheet is not None and sheet.suffix.lower() not in im.SAVE_FORMATS:
        raise PainterlyError(f"cannot save sheet {sheet}: unknown extension {sheet.suffix or '(none)'}.")
    if mask is not None and many:
        raise PainterlyError("--mask works with one content image at a time.")
    batch = Batch(contents, styles, grid, output, sheet)
    check_outputs(batch, mask, weights)
    return batch


def check_outputs(batch: Batch, mask: str | Path | None = None, weights: str | Path | None = None) -> None:
    """Refuse outputs that resolve to an input (content, style, mask, checkpoint) and outputs that cannot
    be written, before any work."""
    n_cols = len(batch.styles) if batch.grid else 1
    targets = [batch.target(i, j) for i in range(len(batch.contents)) for j in range(n_cols)]
    inputs: list[tuple[str, str | Path | None]] = [("content image", c) for c in batch.contents]
    inputs += [("style image", split_weight(s)[0]) for s in batch.styles]
    inputs += [("mask", mask), ("weights file", weights)]
    checks.check_outputs([*targets, batch.sheet], inputs, batch.output if batch.many else None)


def run_batch(batch: Batch, method: str, mask: str | Path | None = None,
              on_result: Callable[[Path, Path, Result], None] | None = None,
              **options: Any) -> tuple[list[dict[str, Any]], bool]:
    """Run a planned batch, saving each result atomically; returns (reports, interrupted)."""
    if options.get("save_every") is not None:
        options = {**options, "save_path": str(batch.output)}
    allow_large = bool(options.get("allow_large", False))
    if batch.grid:
        results: Iterator[tuple[int, int, Result]] = run_grid(batch.contents, batch.styles, method, **options)
    else:
        pipe = pipeline(method, batch.styles or None, mask, **options)
        results = ((i, 0, pipe(_picture(c, allow_large))) for i, c in enumerate(batch.contents))
    reports: list[dict[str, Any]] = []
    cells: dict[tuple[int, int], Image.Image] = {}
    interrupted = False
    for i, j, r in results:
        dest = batch.target(i, j)
        im.save_image(r.image, dest, r.alpha)
        reports.append(r.report(str(dest)))
        if batch.sheet is not None:
            cells[i, j] = r.image
        if on_result is not None:
            on_result(batch.contents[i], dest, r)
        if r.info.get("interrupted"):
            interrupted = True
            break
    if batch.sheet is not None and cells:
        n_cols = len(batch.styles) if batch.grid else 1
        rows = [[cells.get((i, j)) for j in range(n_cols)] for i in range(len(batch.contents))]
        col_labels = [Path(s).stem for s in batch.styles] if batch.grid else []
        im.save_image(im.contact_sheet(rows, col_labels, [c.stem for c in batch.contents]), batch.sheet)
    return reports, interrupted


# ----------------------------------------------------------------------------------------------------
# Weights: the hub's commands with the torch layer's layout checks loaded where torch is installed
# ----------------------------------------------------------------------------------------------------

def _layout_checks() -> None:
    if hub.torch_available():
        import importlib

        importlib.import_module("painterly.nn")  # registers the published layouts with the hub


def weights_import(name: str, file: str | Path, verify: bool = True) -> hub.ImportReport:
    _layout_checks()
    return hub.import_file(name, file, verify=verify)


def weights_fetch(name: str, verify: bool = True, progress: bool = True) -> hub.ImportReport:
    _layout_checks()
    return hub.fetch(name, progress=progress, verify=verify)


def weights_verify(name: str) -> hub.VerifyReport:
    _layout_checks()
    return hub.verify(name)
