"""The Python API; the CLI and the web UI are thin layers over it.

>>> import painterly
>>> img = painterly.stylize("examples/chelsea.jpg", "examples/brick.jpg", method="fast", size=256)
"""

from __future__ import annotations

import dataclasses
import glob
import importlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Union

from PIL import Image

from . import checks, hub
from . import image as im
from .errors import PainterlyError
from .methods import make_method as _build
from .methods.base import Common, Method, Pipeline, Result, StyleSpec, split_blend, split_weight

ContentLike = Union[str, Path, Image.Image, im.Picture]
StyleLike = Union[str, Path, Image.Image, tuple[Any, float]]

# method -> "module:class" of its typed options (exported lazily by painterly/__init__.py)
CONFIGS: dict[str, str] = {
    "fast": "painterly.methods.fast:FastConfig",
    "gatys": "painterly.methods.gatys:GatysConfig",
    "adain": "painterly.methods.adain:AdaINConfig",
    "sanet": "painterly.methods.sanet:SANetConfig",
}

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
    return Pipeline.picture(content, allow_large)


def option_kwargs(method: str | Method, options: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
    """Merge a typed options instance (``painterly.FastConfig(strength=0.5)`` …) into keyword options;
    keywords win. Only the fields set away from the class defaults are passed, so a preset (Gatys) still
    supplies the rest, as it does for keywords."""
    if options is None:
        return kwargs
    name = method.name if isinstance(method, Method) else method
    spec = CONFIGS.get(name)
    if spec is not None:
        module, cls_name = spec.split(":")
        cls = getattr(importlib.import_module(module), cls_name)
        if not isinstance(options, cls):
            raise PainterlyError(f"options={type(options).__name__}(…) does not apply to method {name!r}; "
                                 f"use painterly.{cls_name}.")
    if not dataclasses.is_dataclass(options) or isinstance(options, type):
        raise PainterlyError(f"options must be a method's options instance, got {type(options).__name__}.")
    defaults = type(options)()
    given = {f.name: getattr(options, f.name) for f in dataclasses.fields(options)
             if getattr(options, f.name) != getattr(defaults, f.name)}
    return {**given, **kwargs}


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
    items = list(style) if isinstance(style, (list, tuple)) and not _is_weighted(style) else [style]
    # "3:0.5,12:0.5" is a blend of two styles, as on the command line
    expanded = [part for s in items for part in (split_blend(s) if isinstance(s, str) else [s])]
    return [_style_spec(m, s) for s in expanded]


def _is_weighted(style: Any) -> bool:
    """``("a.jpg", 0.7)``: one style with its weight, not a list of two styles."""
    return isinstance(style, tuple) and len(style) == 2 and isinstance(style[1], (int, float))


def pipeline(method: str | Method = "fast", style: StyleLike | Sequence[StyleLike] | None = None,
             mask: str | Path | None = None, *, options: Any = None, **kwargs: Any) -> Pipeline:
    """A reusable pipeline: styles prepared once, then call it on many contents (paths, PIL images or
    Pictures) or video frames. ``options``: a typed options instance of the method
    (``painterly.GatysConfig(style_weight=1e3)``); keyword options override its fields."""
    m = make_method(method, **option_kwargs(method, options, kwargs))
    return Pipeline(m, styles_for(m, style), mask)


def stylize(content: ContentLike, style: StyleLike | Sequence[StyleLike] | None = None,
            method: str = "fast", *, mask: str | Path | None = None, options: Any = None,
            **kwargs: Any) -> Image.Image:
    """Stylise one image and return it (RGBA if the content had transparency).

    ``style``: a path, a PIL image, a method's built-in style name, ``(path, weight)``, or a list of
    those (blended). ``options``: the common ones (``size``, ``style_size``, ``steps``, ``seed``,
    ``preserve_color``, ``device``, ``weights``, ``allow_large``, ``progress``, ``callback``) and the
    method's own (e.g. ``style_weight`` for gatys, ``alpha`` for adain/sanet, ``strength`` for fast), or
    the method's own as a typed instance, ``options=painterly.FastConfig(strength=0.5)``. ``stroke_scale``
    makes strokes K× bigger at the same output size.
    """
    return stylize_report(content, style, method, mask=mask, options=options, **kwargs).image_with_alpha()


def stylize_report(content: ContentLike, style: StyleLike | Sequence[StyleLike] | None = None,
                   method: str = "fast", *, mask: str | Path | None = None, options: Any = None,
                   **kwargs: Any) -> Result:
    """Like stylize() but returns the full Result (image, alpha, losses, steps, seconds)."""
    pipe = pipeline(method, style, mask, options=options, **kwargs)
    return pipe(content)


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
# Weights: the hub's commands (the hub loads the torch layer's layout checker itself where torch exists)
# ----------------------------------------------------------------------------------------------------

def weights_import(name: str, file: str | Path, verify: bool = True) -> hub.ImportReport:
    return hub.import_file(name, file, verify=verify)


def weights_fetch(name: str, verify: bool = True, progress: bool = True) -> hub.ImportReport:
    return hub.fetch(name, progress=progress, verify=verify)


def weights_verify(name: str) -> hub.VerifyReport:
    return hub.verify(name)


# ----------------------------------------------------------------------------------------------------
# pix2pix: file-level translation (inputs, output names, sheets) over pix2pix's image-level translate
# ----------------------------------------------------------------------------------------------------

def translate_files(inputs: Sequence[str | Path], checkpoint: str | Path, output: str | Path | None = None,
                    eval_mode: bool = False, seed: int = 0, pairs: bool = False, direction: str = "AtoB",
                    size: int = 0, sheet: str | Path | None = None, netG: str | None = None,
                    norm: str | None = None, ngf: int | None = None, device: str = "auto",
                    progress: bool = True, allow_large: bool = False) -> list[tuple[Path, Path]]:
    """Translate image files with a pix2pix generator; returns [(input, written file)].

    One input → ``output`` is a file (default ``STEM-pix2pix.png``); several → a folder (default
    ``translated/``) of ``STEM.png``. ``pairs``: inputs are A|B images, ``direction`` picks the input half
    and the other half is the sheet's target column. ``size``: resize the long side first (0 = native).
    See ``painterly translate --help``.
    """
    from tqdm import tqdm

    from .methods import pix2pix as p2p
    from .nn.device import pick, seed_everything

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
    # no output may overwrite an input, and all must be writable: checked before any work
    checks.check_outputs([*([out / f"{f.stem}.png" for f in files] if many else [out]), sheet],
                         [*(("input image", f) for f in files), ("checkpoint", checkpoint)], out if many else None)
    dev = pick(device)
    G, opts = p2p.load_generator(checkpoint, netG=netG, norm=norm, ngf=ngf)
    G.to(dev)
    p2p.set_mode(G, eval_mode)
    seed_everything(seed)  # once: with dropout on, image k's noise depends on the images before it
    done: list[tuple[Path, Path]] = []
    rows: list[list[Image.Image]] = []
    for f in tqdm(files, desc="translate", unit="img", disable=not (progress and many)):
        pic = im.load_image(f, "input image", allow_large=allow_large)
        src, tgt = p2p.split_pair(pic.rgb, f, direction) if pairs else (pic.rgb, None)
        src = im.resize_long(src, size, allow_large=allow_large, what="the output")
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


def pix2pix_translator(checkpoint: str | Path, eval_mode: bool = False, seed: int = 0,
                       device: str = "cpu") -> tuple[Callable[[Image.Image], Image.Image], Any]:
    """(translate PIL → PIL, generator options) for one loaded checkpoint (the web page's pix2pix tab).
    Each call reseeds, so with dropout on (the paper's test-time setting) a given image always gives the
    same result."""
    from .methods import pix2pix as p2p
    from .methods import require_torch
    from .nn.device import pick, seed_everything

    require_torch("pix2pix")
    dev = pick(device)
    G, opts = p2p.load_generator(checkpoint)
    G.to(dev)
    p2p.set_mode(G, eval_mode)

    def translate(rgb: Image.Image) -> Image.Image:
        seed_everything(seed)
        return p2p.translate_image(G, opts, rgb, dev)

    return translate, opts
