"""``painterly weights …`` and ``painterly styles``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from .common import _fail, app, weights_app


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
    from .. import hub

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
    from .. import api

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
    from .. import api, hub

    rep = api.weights_import(name, file, verify=not no_verify)
    if not rep.verified:
        hub.warn(f"{name} stored UNVERIFIED: {rep.note}.")
    typer.echo(f"{name}: stored {rep.stored} ({f'{rep.keys} tensors; ' if rep.keys else ''}{rep.note})")


@weights_app.command("verify", epilog="Example:\n\n  painterly weights verify vgg19")
def weights_verify(name: Annotated[Optional[str], typer.Argument()] = None) -> None:
    """Re-check cached checkpoints (sha256 against the manifest, layout); exit 1 if any is bad."""
    from .. import api, hub

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
    from .. import hub

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
    from ..methods.builtins import builtin_styles

    names = builtin_styles()
    if photo is None:
        if json_out:
            typer.echo(json.dumps([{"index": i, "name": n} for i, n in enumerate(names)], indent=2))
        else:
            typer.echo("built-in styles of --method fast (offline; the model ships without descriptive names):")
            typer.echo("  " + "  ".join(f"{i}:{n}" for i, n in enumerate(names)))
            typer.echo("see them on your photo: painterly styles PHOTO -o sheet.jpg")
        return
    from .. import image as im
    from ..methods import fast

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
