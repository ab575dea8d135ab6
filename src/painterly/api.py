"""The Python API; the CLI and the web UI are thin layers over it.

>>> import painterly
>>> img = painterly.stylize("examples/chelsea.jpg", "examples/brick.jpg", method="fast", size=256)
"""

from __future__ import annotations

import dataclasses
import glob
import importlib
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Union

from PIL import Image

from . import batch as _batch
from . import checks, hub
from . import image as im
from .errors import PainterlyError, WeightsMissingError
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


@dataclass
class BatchRun:
    """What run_batch did: reports of the results written here, what was skipped or failed, and the
    exit status the CLI uses (0 ok, 1 some inputs failed, 130 interrupted)."""

    reports: list[dict[str, Any]]
    summary: _batch.Summary

    @property
    def interrupted(self) -> bool:
        return self.summary.interrupted

    @property
    def exit_code(self) -> int:
        return self.summary.exit_code


def _style_identity(style: str) -> str:
    """A style as it enters the options hash: files by content (an edited style redoes its outputs),
    built-in names as given."""
    source, weight = split_weight(style)
    p = Path(source)
    return f"{p.name}@{_batch.file_digest(p)}:{weight}" if p.is_file() else style


def batch_options_hash(batch: Batch, method: str, mask: str | Path | None = None, **options: Any) -> str:
    """The options hash every output of ``batch`` is recorded with (a grid adds each column's style to it)."""
    return _batch.options_hash({**options, "method": method, "grid": batch.grid,
                                "mask": None if mask is None else _style_identity(str(mask)),
                                "styles": [] if batch.grid else [_style_identity(s) for s in batch.styles]})


def batch_jobs(batch: Batch) -> list[_batch.Job]:
    """Every output of the batch as a job, sorted by output name so each torchrun rank computes the same
    list and takes its own share of it."""
    jobs = []
    n_styles = len(batch.styles) if batch.grid else 1
    for i, c in enumerate(batch.contents):
        for j in range(n_styles):
            style: Any = batch.styles[j] if batch.grid else list(batch.styles)
            jobs.append(_batch.Job(batch.target(i, j), {"input": str(c), "style": style}, (i, j)))
    return sorted(jobs, key=lambda jb: jb.output.as_posix())


def run_batch(batch: Batch, method: str, mask: str | Path | None = None,
              on_result: Callable[[Path, Path, Result], None] | None = None, *, overwrite: bool = False,
              on_skip: Callable[[Path, Path], None] | None = None,
              on_error: Callable[[Path, str], None] | None = None, **options: Any) -> BatchRun:
    """Run a planned batch, saving each result atomically.

    With several outputs (an output folder) the job is resumable: outputs already complete with the same
    options are skipped (``overwrite`` redoes them) and ``OUT/manifest.jsonl`` records every output and
    every failed input; a bad input is reported (``on_error``) and skipped, the others go on. Under
    torchrun (WORLD_SIZE > 1) each rank runs its share (batch.shard) on its own GPU and rank 0 merges the
    manifest. A single output is always written and has no manifest.
    """
    dist = _batch.Dist.from_env()
    dist.pin_gpu(str(options.get("device", "auto")))  # before any library initialises CUDA
    if options.get("save_every") is not None:
        options = {**options, "save_path": str(batch.output)}
    allow_large = bool(options.get("allow_large", False))
    hashed = {k: v for k, v in options.items() if k != "save_every"}
    base_hash = batch_options_hash(batch, method, mask, **hashed)
    # a grid's outputs each depend on one style: hash it per cell so editing one style redoes its column
    cell_hash = {j: _batch.options_hash({"base": base_hash, "style": _style_identity(s)})
                 for j, s in enumerate(batch.styles)} if batch.grid else {}
    m_cache: list[Method] = []
    pipes: dict[int, Pipeline] = {}  # the current style's pipeline: jobs run style by style (see below)

    def pipe_for(j: int) -> Pipeline:
        if j not in pipes:
            if not m_cache:
                m_cache.append(make_method(method, **options))  # the model is loaded once per process
            m = m_cache[0]
            pipes.clear()
            pipes[j] = Pipeline(m, [_style_spec(m, batch.styles[j])]) if batch.grid else \
                Pipeline(m, styles_for(m, batch.styles or None), mask)
        return pipes[j]

    reports: list[dict[str, Any]] = []
    cells: dict[tuple[int, int], Image.Image] = {}

    def work(job: _batch.Job) -> _batch.Outcome:
        i, j = job.tag
        try:
            pipe = pipe_for(j)
        except PainterlyError as exc:
            if batch.grid and not isinstance(exc, WeightsMissingError):
                raise  # one bad style of a grid fails its column only, recorded per output
            raise _batch.StopJob(exc) from None  # a blend's style or the model: every input would fail
        r = pipe(_picture(batch.contents[i], allow_large))
        im.save_image(r.image, job.output, r.alpha)
        reports.append(r.report(str(job.output)))
        if batch.sheet is not None:
            cells[i, j] = r.image
        if on_result is not None:
            on_result(batch.contents[i], job.output, r)
        return _batch.Outcome(r.seconds, bool(r.info.get("interrupted")))

    # each rank takes its share of the sorted outputs and runs it style by style (each prepared once)
    summary = _batch.run_jobs(
        batch_jobs(batch), work, (lambda jb: cell_hash[jb.tag[1]]) if batch.grid else base_hash,
        batch.output if batch.many else None, dist=dist, overwrite=overwrite,
        order=lambda jb: jb.tag[1], on_skip=_skip_cb(on_skip), on_error=_error_cb(on_error))
    if batch.sheet is not None and dist.rank == 0:
        _write_sheet(batch, cells)
    return BatchRun(reports, summary)


def _skip_cb(cb: Callable[[Path, Path], None] | None) -> Callable[[_batch.Job], None] | None:
    return None if cb is None else (lambda jb: cb(Path(jb.fields["input"]), jb.output))


def _error_cb(cb: Callable[[Path, str], None] | None) -> Callable[[_batch.Job, str], None] | None:
    return None if cb is None else (lambda jb, msg: cb(Path(jb.fields["input"]), msg))


def _write_sheet(batch: Batch, cells: dict[tuple[int, int], Image.Image]) -> None:
    """Contact sheet of every cell: this run's results from memory, the rest (skipped, or written by other
    ranks) read back from their files; failed cells stay blank."""
    n_cols = len(batch.styles) if batch.grid else 1
    rows: list[list[Image.Image | None]] = []
    for i in range(len(batch.contents)):
        row: list[Image.Image | None] = []
        for j in range(n_cols):
            cell = cells.get((i, j))
            dest = batch.target(i, j)
            if cell is None and dest.is_file():
                try:
                    cell = im.load_image(dest, what="output").rgb
                except PainterlyError:
                    cell = None
            row.append(cell)
        rows.append(row)
    if not any(c is not None for row in rows for c in row):
        return
    col_labels = [Path(s).stem for s in batch.styles] if batch.grid else []
    im.save_image(im.contact_sheet(rows, col_labels, [c.stem for c in batch.contents]), batch.sheet)


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

@dataclass
class TranslateRun:
    """What ``translate_files`` did: (input, written file) for this process's outputs, and the job summary
    (skipped / failed inputs, exit code) for folders."""

    written: list[tuple[Path, Path]]
    summary: _batch.Summary

    def __iter__(self) -> Iterator[tuple[Path, Path]]:
        return iter(self.written)

    @property
    def exit_code(self) -> int:
        return self.summary.exit_code


def translate_files(inputs: Sequence[str | Path], checkpoint: str | Path, output: str | Path | None = None,
                    eval_mode: bool = False, seed: int = 0, pairs: bool = False, direction: str = "AtoB",
                    size: int = 0, sheet: str | Path | None = None, netG: str | None = None,
                    norm: str | None = None, ngf: int | None = None, device: str = "auto",
                    progress: bool = True, allow_large: bool = False, overwrite: bool = False,
                    on_skip: Callable[[Path, Path], None] | None = None,
                    on_error: Callable[[Path, str], None] | None = None) -> TranslateRun:
    """Translate image files with a pix2pix generator.

    One input → ``output`` is a file (default ``STEM-pix2pix.png``); several → a folder (default
    ``translated/``) of ``STEM.png``, run like stylize's folders: resumable (complete outputs with the same
    settings are skipped, ``overwrite`` redoes them), ``OUT/manifest.jsonl``, bad inputs recorded and
    skipped, sharded under torchrun. ``pairs``: inputs are A|B images, ``direction`` picks the input half
    and the other half is the sheet's target column. ``size``: resize the long side first (0 = native).
    Each image is translated from the same seed, so with dropout on (the paper's test-time setting) an
    image's result does not depend on which images ran before it (resume and shards give the same pixels).
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
    jobs = sorted((_batch.Job(out / f"{f.stem}.png" if many else out, {"input": str(f), "style": None}, f)
                   for f in files), key=lambda jb: jb.output.as_posix())
    # no output may overwrite an input, and all must be writable: checked before any work
    checks.check_outputs([*(jb.output for jb in jobs), sheet],
                         [*(("input image", f) for f in files), ("checkpoint", checkpoint)], out if many else None)
    dist = _batch.Dist.from_env()
    dist.pin_gpu(device)  # before anything initialises CUDA
    ohash = _batch.options_hash({"method": "pix2pix", "checkpoint": _batch.file_digest(checkpoint),
                                 "eval": eval_mode, "seed": seed, "pairs": pairs, "direction": direction,
                                 "size": size, "netG": netG, "norm": norm, "ngf": ngf})
    dev = pick(device)
    G, opts = p2p.load_generator(checkpoint, netG=netG, norm=norm, ngf=ngf)
    G.to(dev)
    p2p.set_mode(G, eval_mode)
    written: list[tuple[Path, Path]] = []
    rows: dict[Path, list[Image.Image]] = {}
    bar = tqdm(total=len(_batch.shard(jobs, dist.rank, dist.world)), desc="translate", unit="img",
               disable=not (progress and many))

    def work(job: _batch.Job) -> _batch.Outcome:
        t0 = time.perf_counter()
        f: Path = job.tag
        pic = im.load_image(f, "input image", allow_large=allow_large)
        src, tgt = p2p.split_pair(pic.rgb, f, direction) if pairs else (pic.rgb, None)
        src = im.resize_long(src, size, allow_large=allow_large, what="the output")
        seed_everything(seed)
        result = p2p.translate_image(G, opts, src, dev)
        im.save_image(result, job.output)
        written.append((f, job.output))
        if sheet is not None:
            row = [src, result]
            if tgt is not None:
                row.append(tgt.resize(src.size, Image.Resampling.BICUBIC))
            rows[f] = row
        bar.update(1)
        return _batch.Outcome(time.perf_counter() - t0)

    with bar:
        summary = _batch.run_jobs(jobs, work, ohash, out if many else None, dist=dist, overwrite=overwrite,
                                  on_skip=_skip_cb(on_skip), on_error=_error_cb(on_error))
    if sheet is not None and rows and dist.rank == 0:
        # this process's rows, in input order (skipped or other ranks' inputs are not re-translated)
        im.save_image(p2p.image_sheet([rows[f] for f in files if f in rows]), sheet)
    return TranslateRun(written, summary)


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
