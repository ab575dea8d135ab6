"""What every command shares: the typer apps, option panels, one-line errors, option helpers."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Annotated, Any

import typer

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
        from .. import __version__

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
