"""``painterly translate`` and ``painterly evaluate``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from ..methods.pix2pix.options import GeneratorOptions
from .common import _default, app


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
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Folders: redo outputs that are already "
                                            "complete (default: skip them, so a killed job continues).")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q")] = False,
) -> None:
    """Translate images with a trained pix2pix generator (any size: padded to the network's multiple and
    cropped back). Folders run like stylize's: resumable, a manifest.jsonl, bad inputs skipped (exit 1),
    sharded under torchrun."""
    from .. import api

    def skipped(src: Path, dest: Path) -> None:
        if not quiet:
            typer.echo(f"{src} -> {dest}  (done already, skipped)", err=True)

    def failed(src: Path, msg: str) -> None:
        typer.echo(f"failed: {msg}", err=True)

    run = api.translate_files(inputs, checkpoint, output, eval_mode=eval_mode, seed=seed, pairs=pairs,
                              direction=direction, size=size, sheet=sheet, netG=netG, norm=norm, ngf=ngf,
                              device=device, progress=not quiet, allow_large=allow_large, overwrite=overwrite,
                              on_skip=skipped, on_error=failed)
    for src, dest in run.written:
        if not quiet:
            typer.echo(f"{src} -> {dest}", err=True)
    s = run.summary
    if s.rank == 0 and (s.skipped or s.failed_total):
        typer.echo(f"{s.done} written, {s.skipped} skipped (done already), {s.failed_total} failed", err=True)
    if run.exit_code:
        raise typer.Exit(run.exit_code)


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
    from ..methods import pix2pix as p2p

    rep = p2p.evaluate_checkpoint(checkpoint, data, direction=direction, size=size, eval_mode=eval_mode,
                                  seed=seed, netG=netG, norm=norm, ngf=ngf, device=device, progress=not quiet)
    if json_out:
        typer.echo(json.dumps(rep, indent=2))
    else:
        typer.echo(f"{rep['n']} pairs  L1 {rep['l1']:.4f}  PSNR {rep['psnr']:.2f} dB  SSIM {rep['ssim']:.4f}  "
                   f"({rep['mode']} mode, {rep['size']} px, {rep['direction']})")
