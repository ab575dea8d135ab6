"""``painterly serve``, ``painterly video`` and ``painterly export onnx``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from .common import _fail, _given, app, export_app


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
        from .. import web
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
    flow_preset: Annotated[str, typer.Option(help="flow: DIS preset ultrafast | fast | balanced | fine | "
                                             "medium (balanced: flow at half resolution; fine: denser, with "
                                             "cubic sampling; fast: quarter resolution, less flicker removed "
                                             "on zooms).")] = "balanced",
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
    from .. import api
    from ..video import Options, options_for, stylize_video

    if output is None:
        output = input.with_name(f"{input.stem}-{method}.mp4")
    vopts = options_for(consistency, smooth)
    vopts = Options(consistency=vopts.consistency, blend=vopts.blend, window=window, flow_preset=flow_preset,
                    temporal_weight=temporal_weight, next_steps=next_steps, report=report or json_out)
    vopts.check()
    if (next_steps is not None or temporal_weight != 1e3) and method != "gatys":
        _fail("--next-steps and --temporal-weight apply to --method gatys only.")
    from ..checks import check_outputs

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
    from ..export import export_onnx as run_export

    if method is None and checkpoint is None:
        _fail("say what to export: --method adain|sanet, or --checkpoint CKPT for pix2pix.")
    run_export(method, output, checkpoint=checkpoint, **_given(weights=weights))
    typer.echo(f"wrote {output}", err=True)
