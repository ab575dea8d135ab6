"""The Gradio page: one column of settings (the CLI's stylize options) shared by the photo, webcam and
video tabs, the built-in style gallery and the pix2pix tab. Handlers only translate between Gradio and
web.jobs; user errors end as one line on the page and none in the log.
"""

from __future__ import annotations

import logging
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gradio as gr
import numpy as np
from PIL import Image

from .. import image as im
from ..errors import PainterlyError
from . import jobs, offer
from .jobs import BUILTIN, BRUSH_COLOURS, IMAGE, MAX_STYLES, PRESERVE_CHOICES, STRENGTH_OPTION, ServeConfig

log = logging.getLogger("painterly.web")

CSS = """
#painterly-report, #video-report { min-height: 1.5em; }
#method-hint { color: var(--error-text-color); }
"""
REGION_NAMES = ["unpainted area", *(name for name, _ in BRUSH_COLOURS)]


def upload_image(**kwargs: Any) -> gr.Image:
    """A gr.Image upload whose server-side decoding failures (a text file renamed .jpg, a decompression
    bomb) become a message on the page instead of a traceback in the log and a bare 'Error' in the browser.

    The instance's preprocess is wrapped rather than subclassing gr.Image: Gradio writes a .pyi stub next
    to the module of every component subclass, which must not happen inside an installed package.
    """
    comp = gr.Image(type="filepath", image_mode=None, sources=["upload", "clipboard"], **kwargs)
    original = comp.preprocess

    def preprocess(payload: Any) -> Any:
        try:
            return original(payload)
        except gr.Error:
            raise
        except Image.DecompressionBombError:  # a valid image, just over Pillow's own size guard
            name = getattr(payload, "orig_name", None) or "the upload"
            raise rejected(f"{name} is too large for this server (over {Image.MAX_IMAGE_PIXELS / 1e6:.0f} MP "
                           "before any limit of ours); scale it down first.") from None
        except Exception:  # noqa: BLE001 — anything Pillow throws at a bad upload
            name = getattr(payload, "orig_name", None) or "the upload"
            raise rejected(f"{name} is not an image file this server can read (use JPEG, PNG, WebP, TIFF "
                           "or BMP).") from None

    comp.preprocess = preprocess  # type: ignore[method-assign]
    return comp


def rejected(message: str) -> gr.Error:
    """A request the page refuses: one line in the server log (no traceback), the message on the page."""
    print(f"painterly serve: rejected a request: {message}", file=sys.stderr, flush=True)
    return gr.Error(message, duration=None, print_exception=False)


def _user_error(exc: BaseException) -> gr.Error:
    return rejected(str(exc))


def quiet_validation(comp: Any) -> None:
    """Gradio's own input checks (a value not among a dropdown's choices, ...) raise errors that print a
    full traceback; re-raise them as one logged line."""
    original = comp.preprocess

    def preprocess(payload: Any) -> Any:
        try:
            return original(payload)
        except gr.Error as exc:
            if not exc.print_exception:
                raise
            raise rejected(exc.message) from None

    comp.preprocess = preprocess


def guarded(what: str, fn: Callable[[], Any]) -> Any:
    """Run a job: user errors and out-of-memory become one line on the page (nothing in the log); an
    unexpected failure logs its traceback once and shows one line."""
    try:
        return fn()
    except PainterlyError as exc:
        raise _user_error(exc) from None
    except MemoryError:
        raise rejected("out of memory: choose a smaller size.") from None
    except gr.Error:
        raise
    except Exception as exc:
        log.exception("%s failed", what)
        raise gr.Error(f"internal error ({type(exc).__name__}); the server log has the details.",
                       print_exception=False) from None


def _progress_fn(progress: gr.Progress) -> jobs.ProgressFn:
    def report(step: int, total: int, desc: str) -> None:
        progress((step, total), desc=desc)
    return report


def method_update(method: str) -> list[Any]:
    """What changes with the method: its hint, the run buttons, the strength label, gatys's steps, the
    size's meaning, and the built-in picker (only fast has built-in styles)."""
    st = offer.method_state(method)
    knob = STRENGTH_OPTION.get(method)
    label = {"strength": "Strength (0 = the photo's own style, 1 = full style)",
             "alpha": "α (0 = content, 1 = full style)"}.get(knob or "", "Strength")
    default = offer.default_size_text(method)
    builtin_ok = method == "fast" and bool(offer.builtin_styles())
    return [gr.update(value=st.hint, visible=bool(st.hint)), gr.update(interactive=st.available),
            gr.update(visible=knob is not None, label=label), gr.update(visible=method == "gatys"),
            gr.update(label=f"Size (long side, px; 0 = {method}'s default: {default})"),
            gr.update(visible=builtin_ok, value=BUILTIN if builtin_ok else IMAGE)]


def build_app(cfg: ServeConfig = ServeConfig()) -> gr.Blocks:
    """The whole page; call ``.queue(...)`` and ``.launch(...)`` on it (``serve`` does both)."""
    names = offer.builtin_styles()
    thumbs = offer.builtin_thumbnails()
    translate, p2p_message = offer.pix2pix_translator(cfg.pix2pix)
    work = Path(tempfile.mkdtemp(prefix="painterly-web-"))   # painted masks and stylised videos
    cache = jobs.PipelineCache()
    stream = jobs.StreamState()
    states = offer.method_states()

    with gr.Blocks(title="painterly", analytics_enabled=False, delete_cache=(3600, 3600)) as demo:
        gr.Markdown("# painterly\nNeural style transfer. **fast** works offline; gatys, adain and sanet "
                    "give better results once their weights are in the cache (`painterly weights list`).")
        with gr.Row():
            with gr.Column(scale=2, min_width=320):
                method = gr.Dropdown([(s.label, s.name) for s in states], value="fast", label="Method",
                                     elem_id="method")
                hint = gr.Markdown(visible=False, elem_id="method-hint")
                style_from = gr.Radio([BUILTIN, IMAGE], value=BUILTIN if names else IMAGE,
                                      label="Style from", elem_id="style-from", visible=bool(names))
                builtins, images, weights = [], [], []

                def add_slot(i: int) -> None:
                    region = f" (regions: {REGION_NAMES[i]})"
                    builtins.append(gr.Dropdown([(f"{k}: {n}", n) for k, n in enumerate(names)],
                                                value=names[0] if names and i == 0 else None,
                                                label=f"Style {i + 1}: built-in{region}", visible=bool(names),
                                                elem_id=f"builtin-style-{i}"))
                    images.append(upload_image(label=f"Style {i + 1}: image{region}", visible=not names,
                                               height=160, elem_id=f"style-image-{i}"))
                    weights.append(gr.Slider(0, 1, value=1.0, step=0.05, label=f"Style {i + 1} weight (blend)",
                                             elem_id=f"style-weight-{i}"))

                add_slot(0)
                with gr.Accordion("More styles: blend them by weight, or give each to a painted region",
                                  open=False, elem_id="more-styles"):
                    for i in range(1, MAX_STYLES):
                        add_slot(i)
                style_examples = offer.example_files(offer.EXAMPLE_STYLES)
                examples_box = gr.Column(visible=not names)
                with examples_box:
                    if style_examples:
                        gr.Examples([[p] for p in style_examples], [images[0]], label="Example style images")
                strength = gr.Slider(0, 1, value=1.0, step=0.05,
                                     label="Strength (0 = the photo's own style, 1 = full style)",
                                     elem_id="strength")
                stroke = gr.Slider(1, 4, value=1, step=0.25, label="Stroke scale (larger brush strokes)",
                                   elem_id="stroke-scale")
                size = gr.Slider(0, cfg.max_size, value=0, step=16,
                                 label=f"Size (long side, px; 0 = fast's default: {offer.default_size_text('fast')})",
                                 elem_id="size")
                preserve = gr.Radio(PRESERVE_CHOICES, value="off", label="Preserve the photo's colours",
                                    elem_id="preserve-color")
                steps = gr.Slider(0, 1000, value=0, step=10, label="Steps (gatys; 0 = default)",
                                  visible=False, elem_id="steps")
            with gr.Column(scale=3):
                with gr.Tab("Photo"):
                    with gr.Row():
                        content = upload_image(label="Photo", elem_id="content-image")
                        result = gr.Image(label="Result", type="pil", format="png", interactive=False,
                                          buttons=["download", "fullscreen"], elem_id="result")
                    upload_info = gr.Markdown(elem_id="upload-info")
                    photos = offer.example_files(offer.EXAMPLE_PHOTOS)
                    if photos:
                        gr.Examples([[p] for p in photos], [content], label="Example photos")
                    with gr.Accordion("Paint regions: each colour gets its own style", open=False,
                                      elem_id="regions-box"):
                        gr.Markdown("Paint over the photo; " + ", ".join(
                            f"**{n}** = style {i + 1}" for i, n in enumerate(REGION_NAMES)) +
                            " (the `--mask` convention: regions numbered darkest colour first).")
                        regions = gr.ImageEditor(
                            type="filepath", format="png", sources=[], transforms=[], layers=False,
                            brush=gr.Brush(colors=[c for _, c in BRUSH_COLOURS], default_color=BRUSH_COLOURS[0][1],
                                           color_mode="fixed"),
                            label="Regions", elem_id="regions")
                    run = gr.Button("Stylize", variant="primary", elem_id="run")
                    report = gr.Markdown(elem_id="painterly-report")
                with gr.Tab("Webcam"):
                    gr.Markdown("Your camera through the method with the settings on the left (fast; adain "
                                "and sanet once their weights are cached). The style is prepared once.")
                    with gr.Row():
                        webcam = gr.Image(sources=["webcam"], streaming=True, type="numpy", label="Camera",
                                          elem_id="webcam")
                        webcam_out = gr.Image(label="Stylised", type="numpy", format="jpeg", interactive=False,
                                              elem_id="webcam-result")
                    webcam_fps = gr.Markdown(elem_id="webcam-fps")
                with gr.Tab("Video"):
                    with gr.Row():
                        video_in = gr.Video(sources=["upload"], label="Video", elem_id="video-input")
                        video_out = gr.Video(label="Stylised video", interactive=False, elem_id="video-result")
                    smooth = gr.Slider(0, 0.9, value=0, step=0.05, label="Blend with the previous frame (0 = optical-flow "
                                       "consistency, as `painterly video`)", elem_id="smooth")
                    run_video = gr.Button("Stylize video", variant="primary", elem_id="run-video")
                    video_report = gr.Markdown(elem_id="video-report")
                with gr.Tab("pix2pix"):
                    gr.Markdown(p2p_message, elem_id="pix2pix-message")
                    if translate is not None:
                        with gr.Row():
                            p2p_in = upload_image(label="Input", elem_id="pix2pix-input")
                            p2p_out = gr.Image(label="Translated", type="pil", format="png", interactive=False,
                                               buttons=["download", "fullscreen"])
                        gr.Button("Translate", variant="primary").click(
                            lambda path: guarded("translate", lambda: on_translate(path)), p2p_in, p2p_out,
                            api_name="translate")
        if thumbs:
            with gr.Accordion("Built-in styles (fast): click one to use it as style 1", open=True,
                              elem_id="builtin-box") as builtin_box:
                gallery = gr.Gallery(thumbs, columns=9, height="auto", allow_preview=False, object_fit="contain",
                                     show_label=False, elem_id="builtin-gallery")

        settings: list[Any] = [method, style_from, *builtins, *images, *weights, strength, stroke, size, preserve,
                               steps]

        def on_translate(path: str | None) -> Image.Image:
            if translate is None:
                raise PainterlyError(p2p_message)
            pic = jobs.load_upload(path, "input image", cfg.max_megapixels)
            return translate(im.resize_long(pic.rgb, min(cfg.max_size, max(pic.size))))

        def on_stylize(content_path: str | None, editor: Any, *values: Any,
                       progress: gr.Progress = gr.Progress()) -> tuple[Image.Image, str]:  # noqa: B008
            def job() -> tuple[Image.Image, str]:
                req = jobs.request_from(content_path, values, jobs.editor_mask(editor, work))
                progress(0, desc=f"{req.method}: preparing")
                return jobs.run_stylize(req, cfg, _progress_fn(progress))
            return guarded("stylize", job)

        def on_frame(frame: np.ndarray | None, *values: Any) -> tuple[Any, Any]:
            if frame is None:
                return gr.update(), gr.update()
            out = guarded("webcam", lambda: jobs.stylize_frame(frame, jobs.request_from(None, values), cfg, cache))
            fps = stream.tick()
            return out, f"{fps:.1f} frames/s · {out.shape[1]}×{out.shape[0]} px"

        def on_video(path: str | None, smooth_value: float, *values: Any,
                     progress: gr.Progress = gr.Progress()) -> tuple[str, str]:  # noqa: B008
            def job() -> tuple[str, str]:
                req = jobs.request_from(None, values)
                progress(0, desc=f"{req.method}: preparing")
                return jobs.run_video(path, smooth_value, req, cfg, work / "video", _progress_fn(progress))
            return guarded("video", job)

        def check_upload(path: str | None) -> tuple[str, Any]:
            # the photo becomes the editor's background, so regions are painted over it
            if not path:
                return "", gr.update(value=None)
            pic = guarded("upload", lambda: jobs.load_upload(path, "photo", cfg.max_megapixels))
            return (f"photo: {pic.size[0]}×{pic.size[1]} px",
                    gr.update(value={"background": path, "layers": [], "composite": path}))

        def style_from_update(choice: str) -> list[Any]:
            return ([gr.update(visible=choice == BUILTIN) for _ in builtins]
                    + [gr.update(visible=choice == IMAGE) for _ in images] + [gr.update(visible=choice == IMAGE)])

        def refresh_methods(current: str) -> Any:
            return gr.update(choices=[(s.label, s.name) for s in offer.method_states()])

        private: dict[str, Any] = {"api_visibility": "private", "queue": False}
        style_from.change(style_from_update, style_from, [*builtins, *images, examples_box], **private)
        method_outputs: list[Any] = [hint, run, strength, steps, size, style_from]
        if thumbs:
            method_outputs.append(builtin_box)

            def on_gallery(evt: gr.SelectData) -> tuple[Any, Any]:
                if evt.index is None or not 0 <= int(evt.index) < len(names):
                    return gr.update(), gr.update()
                return gr.update(value=BUILTIN), gr.update(value=names[int(evt.index)])

            gallery.select(on_gallery, None, [style_from, builtins[0]], **private)

        def on_method(m: str) -> list[Any]:
            out = method_update(m)
            return out + [gr.update(visible=m == "fast")] if thumbs else out

        method.change(on_method, method, method_outputs, **private)
        content.change(check_upload, content, [upload_info, regions], **private)
        demo.load(refresh_methods, method, method, **private)
        run.click(on_stylize, [content, regions, *settings], [result, report], api_name="stylize",
                  concurrency_limit="default")
        webcam.stream(on_frame, [webcam, *settings], [webcam_out, webcam_fps], api_name="webcam",
                      stream_every=0.05, time_limit=cfg.stream_seconds, concurrency_limit="default",
                      show_progress="hidden")
        run_video.click(on_video, [video_in, smooth, *settings], [video_out, video_report], api_name="video",
                        concurrency_limit="default")
    for block in demo.blocks.values():
        if isinstance(block, gr.components.Component):
            quiet_validation(block)
    return demo


def launch(cfg: ServeConfig, block: bool = True) -> gr.Blocks:
    """Build, queue and start the server on cfg.host:cfg.port (no share link, no telemetry)."""
    demo = build_app(cfg)
    demo.queue(max_size=cfg.queue_size, default_concurrency_limit=cfg.concurrency)
    try:
        demo.launch(
            server_name=cfg.host, server_port=cfg.port, share=False, inbrowser=False,
            max_file_size=int(cfg.max_upload_mb * 1024 * 1024), show_error=False, ssr_mode=False,
            mcp_server=False, pwa=False, enable_monitoring=False, footer_links=["api", "settings"],
            prevent_thread_lock=not block, quiet=not block, css=CSS,
        )
    except OSError as exc:
        raise PainterlyError(f"cannot listen on {cfg.host}:{cfg.port} ({exc}); choose another --port.") from None
    return demo


def serve(cfg: ServeConfig) -> None:
    if cfg.host not in ("127.0.0.1", "localhost", "::1"):
        print(f"warning: listening on {cfg.host}: anyone who can reach this machine can use the page.",
              file=sys.stderr)
    launch(cfg, block=True)

