"""The ``painterly`` command line: a thin layer that parses options and calls painterly.api.

Every user error is a PainterlyError, printed as one ``error: …`` line with exit code 2 and no traceback.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from .errors import PainterlyError

app = typer.Typer(
    name="painterly",
    help="Neural style transfer and image-to-image translation.\n\n"
    "Example:\n\n"
    "  painterly stylize examples/chelsea.jpg --style examples/brick.jpg -o cat.jpg\n\n"
    "Methods: fast (default, offline, no downloads), gatys (optimisation, best quality, needs VGG-19 "
    "weights), adain and sanet (real-time arbitrary style, need their published weights). "
    "Run `painterly weights list` to see which weights are cached.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)
weights_app = typer.Typer(
    help="Manage the published checkpoints (cache: $PAINTERLY_HOME/weights, default ~/.cache/painterly).\n\n"
    "Example (offline machine):\n\n"
    "  painterly weights import vgg19 ~/Downloads/vgg19-dcbb9e9d.pth",
    no_args_is_help=True,
)
app.add_typer(weights_app, name="weights")
train_app = typer.Typer(
    help="Train a model: adain, sanet (feed-forward style transfer) or pix2pix (paired translation).\n\n"
    "Example:\n\n  painterly train pix2pix --data ../shared/data/facades --out runs/facades",
    no_args_is_help=True,
)
app.add_typer(train_app, name="train")
export_app = typer.Typer(
    help="Export a model for other runtimes.\n\nExample:\n\n  painterly export onnx --method adain -o adain.onnx",
    no_args_is_help=True,
)
app.add_typer(export_app, name="export")

PANEL_COMMON = "Common options (every method)"
PANEL_GATYS = "gatys options"
PANEL_FF = "adain / sanet options"
PANEL_FAST = "fast options"


def _fail(msg: str, code: int = 2) -> None:
    typer.echo(f"error: {msg}", err=True)
    raise typer.Exit(code)


def _given(**kw: Any) -> dict[str, Any]:
    """Only the options the user actually set (None = not given), so method defaults and presets apply."""
    return {k: v for k, v in kw.items() if v is not None}


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
    content: Annotated[list[str], typer.Argument(help="Content image(s), folders or globs.", show_default=False)],
    style: Annotated[Optional[list[str]], typer.Option(
        "--style", "-s", help="Style image PATH[:WEIGHT] (repeatable: blended), a folder/glob (each style "
        "separately), or a built-in style name/index for --method fast.", rich_help_panel=PANEL_COMMON)] = None,
    output: Annotated[Optional[Path], typer.Option(
        "--output", "-o", help="Output file (one result) or folder (several). Default: "
        "<content>-<method>.png.", rich_help_panel=PANEL_COMMON)] = None,
    method: Annotated[str, typer.Option("--method", "-m", help="fast | gatys | adain | sanet.",
                                        rich_help_panel=PANEL_COMMON)] = "fast",
    size: Annotated[Optional[int], typer.Option(help="Long side of the output in px (0 = native). "
                                                "Default depends on the method.",
                                                rich_help_panel=PANEL_COMMON)] = None,
    style_size: Annotated[Optional[int], typer.Option(help="Long side of the style image(s) in px "
                                                      "(0 = native).", rich_help_panel=PANEL_COMMON)] = None,
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
    # gatys
    preset: Annotated[Optional[str], typer.Option(help="neural-style (default) | gatys-paper.",
                                                  rich_help_panel=PANEL_GATYS)] = None,
    content_weight: Annotated[Optional[float], typer.Option(rich_help_panel=PANEL_GATYS)] = None,
    style_weight: Annotated[Optional[float], typer.Option(rich_help_panel=PANEL_GATYS)] = None,
    tv_weight: Annotated[Optional[float], typer.Option(rich_help_panel=PANEL_GATYS)] = None,
    content_layers: Annotated[Optional[str], typer.Option(
        help="Comma list, optionally with weights: relu4_2 or relu4_2:1,relu5_2:0.5.",
        rich_help_panel=PANEL_GATYS)] = None,
    style_layers: Annotated[Optional[str], typer.Option(
        help="Comma list, optionally with weights: relu1_1,relu2_1:0.5,...", rich_help_panel=PANEL_GATYS)] = None,
    optimizer: Annotated[Optional[str], typer.Option(help="lbfgs | adam.", rich_help_panel=PANEL_GATYS)] = None,
    lr: Annotated[Optional[float], typer.Option(help="Learning rate (adam).", rich_help_panel=PANEL_GATYS)] = None,
    init: Annotated[Optional[str], typer.Option(help="content | noise | PATH of an image.",
                                                rich_help_panel=PANEL_GATYS)] = None,
    pooling: Annotated[Optional[str], typer.Option(help="max | avg.", rich_help_panel=PANEL_GATYS)] = None,
    vgg: Annotated[Optional[str], typer.Option(help="VGG weights convention: caffe | torchvision.",
                                               rich_help_panel=PANEL_GATYS)] = None,
    multiscale: Annotated[Optional[bool], typer.Option(
        "--multiscale/--no-multiscale", help="Coarse-to-fine (default: on above 512 px).",
        rich_help_panel=PANEL_GATYS)] = None,
    save_every: Annotated[Optional[int], typer.Option(help="Write an intermediate image every N steps.",
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
    from . import api, image as im

    method_opts = _given(
        preset=preset, content_weight=content_weight, style_weight=style_weight, tv_weight=tv_weight,
        content_layers=content_layers, style_layers=style_layers, optimizer=optimizer, lr=lr, init=init,
        pooling=pooling, vgg=vgg, multiscale=multiscale, save_every=save_every, alpha=alpha, crop=crop,
        backend=backend, strength=strength, tile=tile,
    )
    common = _given(size=size, style_size=style_size, steps=steps, seed=seed, preserve_color=preserve_color,
                    weights=weights)
    contents = api.expand_inputs(content, "content")
    styles = list(style or [])
    grid = pairs or any(Path(s).is_dir() or (not Path(s).exists() and any(c in s for c in "*?[")) for s in styles)
    if grid:
        styles = [str(p) for p in api.expand_inputs(styles, "style")]
    n_out = len(contents) * (len(styles) if grid else 1)
    many = n_out > 1
    if output is None:
        output = Path("stylized") if many else Path(f"{contents[0].stem}-{method}.png")
    if many and output.suffix.lower() in im.SAVE_FORMATS:
        _fail(f"{n_out} results need an output folder, but -o {output} looks like a file name.")
    if not many and output.suffix.lower() not in im.SAVE_FORMATS:
        _fail(f"cannot save {output}: unknown extension {output.suffix or '(none)'}; use one of "
              + ", ".join(sorted(im.SAVE_FORMATS)))
    if sheet is not None and sheet.suffix.lower() not in im.SAVE_FORMATS:
        _fail(f"cannot save sheet {sheet}: unknown extension {sheet.suffix or '(none)'}.")
    if mask is not None and many:
        _fail("--mask works with one content image at a time.")

    opts: dict[str, Any] = {**common, **method_opts, "device": device, "allow_large": allow_large,
                            "progress": not quiet}
    if save_every is not None:
        opts["save_path"] = str(output)

    def target(c: Path, s_name: str | None) -> Path:
        if not many:
            return output
        stem = c.stem if s_name is None else f"{c.stem}-{s_name}"
        return output / f"{stem}.png"

    reports: list[dict[str, Any]] = []
    cells: dict[tuple[int, int], Any] = {}
    interrupted = False
    if grid:
        results = api.run_grid(contents, styles, method, **opts)
    else:
        pipe = api.pipeline(method, styles or None, mask, **opts)
        results = ((i, 0, pipe(api._picture(c, allow_large))) for i, c in enumerate(contents))
    for i, j, r in results:
        dest = target(contents[i], Path(styles[j]).stem if grid else None)
        im.save_image(r.image, dest, r.alpha)
        reports.append(r.report(str(dest)))
        if sheet is not None:
            cells[i, j] = r.image
        if not json_out:
            typer.echo(f"{contents[i]} -> {dest}  ({r.image.width}x{r.image.height}, {r.seconds:.1f}s)", err=True)
        if r.info.get("interrupted"):
            interrupted = True
            typer.echo(f"interrupted: wrote the best image so far to {dest}", err=True)
            break
    if sheet is not None and cells:
        n_cols = len(styles) if grid else 1
        rows = [[cells.get((i, j)) for j in range(n_cols)] for i in range(len(contents))]
        col_labels = [Path(s).stem for s in styles] if grid else []
        im.save_image(im.contact_sheet(rows, col_labels, [c.stem for c in contents]), sheet)
    if json_out:
        typer.echo(json.dumps(reports[0] if len(reports) == 1 else reports, indent=2, default=str))
    if interrupted:
        raise typer.Exit(130)


# ----------------------------------------------------------------------------------------------------
# weights
# ----------------------------------------------------------------------------------------------------

def _human(n: object) -> str:
    if not isinstance(n, int):
        return "?"
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000  # type: ignore[assignment]
    return str(n)


@weights_app.command("list", epilog="Example:\n\n  painterly weights list --json")
def weights_list(json_out: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Show every known checkpoint: name, status (cached / missing), path and size."""
    from . import hub

    rows = hub.status_rows()
    if json_out:
        typer.echo(json.dumps(rows, indent=2))
        return
    w = max(len(str(r["name"])) for r in rows)
    for r in rows:
        typer.echo(f"{r['name']:<{w}}  {r['status']:<19}  {_human(r['size']):>8}  {r['path']}")


@weights_app.command("fetch", epilog="Example:\n\n  painterly weights fetch vgg19-caffe")
def weights_fetch(name: str, no_verify: Annotated[bool, typer.Option("--no-verify")] = False) -> None:
    """Download a checkpoint (progress bar), verify its sha256 and store it in the cache."""
    from . import hub

    rep = hub.fetch(name, verify=not no_verify)
    typer.echo(f"{name}: stored {rep.stored} ({rep.note})")


@weights_app.command("import", epilog="Example:\n\n  painterly weights import vgg19 ~/Downloads/vgg19-dcbb9e9d.pth")
def weights_import(
    name: str,
    file: Path,
    no_verify: Annotated[bool, typer.Option("--no-verify", help="Store a file whose sha256 differs from "
                                            "the published one (marked unverified).")] = False,
) -> None:
    """Import a local copy of a published checkpoint (for offline machines): verify, convert, store."""
    from . import hub

    rep = hub.import_file(name, file, verify=not no_verify)
    if not rep.verified:
        hub.warn(f"{name} stored UNVERIFIED: {rep.note}.")
    typer.echo(f"{name}: stored {rep.stored} ({rep.keys} tensors; {rep.note})")


@weights_app.command("verify", epilog="Example:\n\n  painterly weights verify vgg19")
def weights_verify(name: Annotated[Optional[str], typer.Argument()] = None) -> None:
    """Re-check cached checkpoints (sha256 against the manifest, layout); exit 1 if any is bad."""
    from . import hub

    names = [name] if name else [n for n in hub.REGISTRY if hub.is_cached(n)]
    if name:
        hub.entry(name)
    bad = False
    for n in names:
        rep = hub.verify(n)
        typer.echo(f"{n}: {rep.status} — {rep.detail}")
        bad |= rep.status in ("missing", "modified", "wrong-layout")
    if not names:
        typer.echo("no weights cached yet; see `painterly weights list`.")
    if bad:
        raise typer.Exit(1)


@weights_app.command("path", epilog="Example:\n\n  ls -l $(painterly weights path vgg19)")
def weights_path(name: str) -> None:
    """Print where a checkpoint is (or would be) stored."""
    from . import hub

    typer.echo(str(hub.path(name)))


# ----------------------------------------------------------------------------------------------------
# fast: styles (built-in style list / contact sheet)
# ----------------------------------------------------------------------------------------------------

@app.command(epilog="Examples:\n\n  painterly styles\n\n"
             "  painterly styles examples/chelsea.jpg -o sheet.jpg\n\n"
             "  painterly stylize examples/chelsea.jpg --style style7 -o cat.jpg")
def styles(
    photo: Annotated[Optional[Path], typer.Argument(help="Photo to render every built-in style on.")] = None,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Contact sheet file "
                                                   "(default: <photo>-styles.jpg).")] = None,
    cell: Annotated[int, typer.Option(help="Cell size of the sheet in px.")] = 256,
    device: Annotated[str, typer.Option(help="auto | cpu | cuda.")] = "auto",
    json_out: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """List the 26 built-in styles of --method fast; with a PHOTO, write a contact sheet of all of them.

    Use a style by name or index: --style style7 or --style 7; blend: --style 3:0.5 --style 12:0.5.
    """
    from . import image as im
    from .methods import fast

    names = fast.builtin_styles()
    if photo is None:
        if json_out:
            typer.echo(json.dumps([{"index": i, "name": n} for i, n in enumerate(names)], indent=2))
        else:
            typer.echo("built-in styles of --method fast (offline; the model ships without descriptive names):")
            typer.echo("  " + "  ".join(f"{i}:{n}" for i, n in enumerate(names)))
            typer.echo("see them on your photo: painterly styles PHOTO -o sheet.jpg")
        return
    if cell < 32 or cell > 2048:
        _fail("--cell must be between 32 and 2048 px.")
    dest = output or Path(f"{photo.stem}-styles.jpg")
    if dest.suffix.lower() not in im.SAVE_FORMATS:
        _fail(f"cannot save {dest}: unknown extension {dest.suffix or '(none)'}.")
    pic = im.load_image(photo, what="photo")
    sheet = fast.contact_sheet(pic.rgb, cell=cell, device=device)
    im.save_image(sheet, dest)
    if json_out:
        typer.echo(json.dumps({"output": str(dest), "size": list(sheet.size), "styles": names}, indent=2))
    else:
        typer.echo(f"wrote {dest} ({sheet.width}x{sheet.height})", err=True)



# ----------------------------------------------------------------------------------------------------
# web UI: serve
# ----------------------------------------------------------------------------------------------------

@app.command(
    epilog="Examples:\n\n"
    "  painterly serve            (then open http://127.0.0.1:7860)\n\n"
    "  painterly serve --port 8080 --pix2pix runs/facades/last.pt",
)
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on; 0.0.0.0 makes the page reachable from "
                                      "other machines.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 7860,
    pix2pix: Annotated[Optional[Path], typer.Option(help="pix2pix checkpoint for the pix2pix tab.")] = None,
    max_upload_mb: Annotated[float, typer.Option(help="Largest accepted upload, in MB.")] = 20.0,
    max_megapixels: Annotated[float, typer.Option(help="Largest accepted image, in megapixels.")] = 50.0,
    max_size: Annotated[int, typer.Option(help="Largest output long side (px) the page offers.")] = 2048,
    queue_size: Annotated[int, typer.Option(help="Requests that may wait; more get 'queue full'.")] = 16,
) -> None:
    """Start the web UI (a local Gradio page; needs the `web` extra: pip install 'painterly[web]').

    Upload a photo, pick a built-in style or a style image, choose the method and get the result with a
    download button. Methods whose weights are not cached are shown as unavailable with the command that
    gets them. Nothing is sent anywhere: no share link, no telemetry.
    """
    if not 0 < port < 65536:
        _fail(f"--port must be 1..65535, got {port}.")
    if pix2pix is not None and not pix2pix.is_file():
        _fail(f"pix2pix checkpoint not found: {pix2pix}")
    for name, v in (("--max-upload-mb", max_upload_mb), ("--max-megapixels", max_megapixels),
                    ("--max-size", max_size), ("--queue-size", queue_size)):
        if v <= 0:
            _fail(f"{name} must be positive.")
    try:
        from . import web
    except ImportError as exc:
        _fail(f"the web UI needs gradio ({exc.name} is not installed): pip install 'painterly[web]'")
    cfg = web.ServeConfig(host=host, port=port, pix2pix=pix2pix, max_upload_mb=max_upload_mb,
                          max_megapixels=max_megapixels, max_size=max_size, queue_size=queue_size)
    web.serve(cfg)



# ----------------------------------------------------------------------------------------------------
# adain / sanet: video, export onnx
# ----------------------------------------------------------------------------------------------------


# ----------------------------------------------------------------------------------------------------
# training: train adain / train sanet
# ----------------------------------------------------------------------------------------------------


# ----------------------------------------------------------------------------------------------------
# pix2pix: train pix2pix, translate, evaluate
# ----------------------------------------------------------------------------------------------------


def main() -> None:
    try:
        app()
    except PainterlyError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        sys.exit(130)
