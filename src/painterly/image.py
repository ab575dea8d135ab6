"""Image I/O, resizing, array conversion, colour tools and region masks (PIL and numpy only: no torch).

Everything that touches pixels outside a network lives here so that every method loads, checks and
saves images the same way. Arrays are float32 ``[N, 3, H, W]`` in ``[0, 1]`` RGB unless a function says
otherwise.
"""

from __future__ import annotations

import contextlib
import math
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import PainterlyError
from .files import atomic_path

MAX_MEGAPIXELS = 50.0
"""Images above this many megapixels are refused unless ``allow_large`` is set (``--allow-large``)."""

SAVE_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP", ".tif": "TIFF",
                ".tiff": "TIFF", ".bmp": "BMP"}
ALPHA_FORMATS = {"PNG", "WEBP", "TIFF"}


@dataclass
class Picture:
    """A loaded image: RGB pixels plus the alpha channel, kept aside, if the file had a real one."""

    rgb: Image.Image
    alpha: Image.Image | None = None
    path: Path | None = None

    @property
    def size(self) -> tuple[int, int]:
        return self.rgb.size

    @property
    def name(self) -> str:
        return self.path.stem if self.path else "image"


@contextlib.contextmanager
def _pillow_limit(allow_large: bool) -> Iterator[None]:
    # Pillow has its own decompression-bomb guard (~179 MP hard error); we check our limit first and
    # lift Pillow's only when the user asked for large images.
    old = Image.MAX_IMAGE_PIXELS
    if allow_large:
        Image.MAX_IMAGE_PIXELS = None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            yield
    finally:
        Image.MAX_IMAGE_PIXELS = old


def probe_size(path: str | Path, what: str = "image") -> tuple[int, int]:
    """(width, height) from the file's header only (no decoding, no bomb guard: a 400 MP PNG is a size,
    not 'not an image'); a one-line error for files Pillow cannot identify."""
    p = Path(path)
    with _pillow_limit(True):
        try:
            with Image.open(p) as img:
                return img.size
        except FileNotFoundError:
            raise PainterlyError(f"{what} not found: {p}") from None
        except IsADirectoryError:
            raise PainterlyError(f"{what} {p} is a folder, not an image file.") from None
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
            raise PainterlyError(f"{what} {p} is not an image file Pillow can read.") from None


def check_pixels(width: int, height: int, what: str, allow_large: bool = False,
                 hint: str = "pass --allow-large to process it anyway") -> None:
    if width <= 0 or height <= 0:
        raise PainterlyError(f"{what} has zero size ({width}x{height}).")
    mp = width * height / 1e6
    if mp > MAX_MEGAPIXELS and not allow_large:
        raise PainterlyError(
            f"{what} is {width}x{height} ({mp:.1f} MP), over the {MAX_MEGAPIXELS:.0f} MP limit; {hint}."
        )


def _to_rgb_alpha(img: Image.Image) -> tuple[Image.Image, Image.Image | None]:
    """Convert any Pillow mode to 8-bit RGB, returning the alpha channel separately (None if opaque)."""
    mode = img.mode
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        # 16-bit / 32-bit greyscale: Pillow's convert("L") clips instead of scaling, so scale ourselves
        arr = np.asarray(img, dtype=np.float64)
        if mode == "F" and arr.size and arr.max() <= 1.0:
            arr = arr * 255.0
        elif mode.startswith("I;16") or (arr.size and arr.max() > 255):
            arr = arr / 257.0
        grey = Image.fromarray(np.clip(np.rint(arr), 0, 255).astype(np.uint8), "L")
        return grey.convert("RGB"), None
    has_alpha = mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in img.info
    if has_alpha:
        rgba = img.convert("RGBA")
        alpha = rgba.getchannel("A")
        rgb = rgba.convert("RGB")
        if alpha.getextrema()[0] == 255:
            alpha = None
        return rgb, alpha
    return img.convert("RGB"), None


def load_image(path: str | Path, what: str = "image", allow_large: bool = False) -> Picture:
    """Load an image file as RGB (+ alpha aside), with EXIF orientation applied.

    Raises PainterlyError with one line for: missing file, folder, unreadable/corrupt/non-image file,
    zero-size image, or more than MAX_MEGAPIXELS without ``allow_large``.
    """
    p = Path(path)
    if not p.exists():
        raise PainterlyError(f"{what} not found: {p}")
    if p.is_dir():
        raise PainterlyError(f"{what} {p} is a folder, not an image file.")
    # Pillow's own bomb guard is lifted: our check_pixels below runs on the header, before any decoding,
    # so a 400 MP file gets the real "over the 50 MP limit" message rather than "not an image"
    with _pillow_limit(True):
        try:
            img = Image.open(p)
        except UnidentifiedImageError:
            raise PainterlyError(f"{what} {p} is not an image file Pillow can read.") from None
        except Image.DecompressionBombError:
            raise PainterlyError(f"{what} {p} is too large to open safely; pass --allow-large.") from None
        except OSError as exc:
            raise PainterlyError(f"cannot read {what} {p}: {exc}") from None
        with img:
            w, h = img.size
            check_pixels(w, h, f"{what} {p}", allow_large)
            try:
                img.load()
                img = ImageOps.exif_transpose(img)
            except (OSError, SyntaxError, ValueError) as exc:
                raise PainterlyError(f"{what} {p} is truncated or corrupt ({exc}).") from None
            rgb, alpha = _to_rgb_alpha(img)
    return Picture(rgb, alpha, p)


def save_image(img: Image.Image, path: str | Path, alpha: Image.Image | None = None,
               quality: int = 95) -> Path:
    """Save by extension (PNG, JPEG q95, WebP, TIFF, BMP) atomically; alpha re-applied where supported."""
    p = Path(path)
    fmt = SAVE_FORMATS.get(p.suffix.lower())
    if fmt is None:
        raise PainterlyError(
            f"cannot save {p}: unknown extension {p.suffix or '(none)'}; use one of "
            + ", ".join(sorted(SAVE_FORMATS))
        )
    out = img.convert("RGB")
    if alpha is not None and fmt in ALPHA_FORMATS:
        out = out.copy()
        out.putalpha(alpha.resize(out.size, Image.Resampling.BILINEAR) if alpha.size != out.size else alpha)
    kwargs: dict[str, object] = {}
    if fmt in ("JPEG", "WEBP"):
        kwargs["quality"] = quality
    with atomic_path(p) as tmp:
        out.save(tmp, format=fmt, **kwargs)
    return p


def long_side_size(size: tuple[int, int], long: int | None) -> tuple[int, int]:
    """(w, h) after scaling ``size`` so its long side is ``long`` px (0 or None: unchanged)."""
    w, h = size
    if not long:
        return w, h
    scale = long / max(w, h)
    return max(1, round(w * scale)), max(1, round(h * scale))


def short_side_size(size: tuple[int, int], short: int | None) -> tuple[int, int]:
    """(w, h) after scaling ``size`` so its short side is ``short`` px (0 or None: unchanged)."""
    w, h = size
    if not short:
        return w, h
    scale = short / min(w, h)
    return max(1, round(w * scale)), max(1, round(h * scale))


def _resized(img: Image.Image, new: tuple[int, int], allow_large: bool, what: str) -> Image.Image:
    if new == img.size:
        return img
    # the result is checked like an input, before Pillow allocates it (--size 100000 must not eat the RAM)
    if new[0] * new[1] > img.size[0] * img.size[1]:
        check_pixels(new[0], new[1], what, allow_large)
    return img.resize(new, Image.Resampling.LANCZOS)


def resize_long(img: Image.Image, size: int | None, allow_large: bool = False,
                what: str = "the resized image") -> Image.Image:
    """Resize so the long side is ``size`` px (0 or None: unchanged), keeping the aspect ratio. A result
    over MAX_MEGAPIXELS is an error unless ``allow_large``."""
    if not size:
        return img
    if size < 0:
        raise PainterlyError(f"size must be 0 (native) or a positive number of pixels, got {size}.")
    return _resized(img, long_side_size(img.size, size), allow_large, what)


def resize_short(img: Image.Image, size: int | None, allow_large: bool = False,
                 what: str = "the resized image") -> Image.Image:
    """Resize so the short side is ``size`` px (the reference AdaIN/SANet tools' convention)."""
    if not size:
        return img
    return _resized(img, short_side_size(img.size, size), allow_large, what)


def center_crop(img: Image.Image, size: int) -> Image.Image:
    w, h = img.size
    s = min(size, w, h)
    left, top = (w - s) // 2, (h - s) // 2
    return img.crop((left, top, left + s, top + s))


def to_array(img: Image.Image) -> np.ndarray:
    """PIL RGB -> float32 array [1, 3, H, W] in [0, 1]."""
    # uint8 in, one float buffer out, filled channel by channel: a 4096² image costs 200 MB once
    arr = np.asarray(img.convert("RGB"), dtype=np.uint8)
    out = np.empty((1, 3, arr.shape[0], arr.shape[1]), np.float32)
    for c in range(3):
        out[0, c] = arr[:, :, c]
    out /= np.float32(255.0)
    return out


def from_array(x: np.ndarray) -> Image.Image:
    """Array [1, 3, H, W] or [3, H, W] in [0, 1] -> PIL RGB (clamped, rounded)."""
    if x.ndim == 4:
        if x.shape[0] != 1:
            raise ValueError(f"from_array takes one image, got a batch of {x.shape[0]}")
        x = x[0]
    # float32 maths as before the numpy port: (clamp · 255 + 0.5) truncated = rounded
    u8 = (np.clip(x.astype(np.float32, copy=False), 0, 1) * np.float32(255.0) + np.float32(0.5)).astype(np.uint8)
    return Image.fromarray(np.ascontiguousarray(u8.transpose(1, 2, 0)), "RGB")


# ----------------------------------------------------------------------------------------------------
# Colour: luminance / chroma split and mean-covariance (CORAL) matching (arrays [N,3,H,W])
# ----------------------------------------------------------------------------------------------------

_RGB2YIQ = np.array([[0.299, 0.587, 0.114],
                     [0.595716, -0.274453, -0.321263],
                     [0.211456, -0.522591, 0.311135]], np.float32)
_RGB2YUV = np.array([[0.299, 0.587, 0.114],
                     [-0.14713, -0.28886, 0.436],
                     [0.615, -0.51499, -0.10001]], np.float32)
_SPACES = {"yiq": _RGB2YIQ, "yuv": _RGB2YUV}


def _space(space: str) -> np.ndarray:
    try:
        return _SPACES[space]
    except KeyError:
        raise PainterlyError(f"unknown colour space {space!r}; use yiq or yuv.") from None


def _mix(m: np.ndarray, x: np.ndarray) -> np.ndarray:
    return np.einsum("ij,njhw->nihw", m.astype(x.dtype), x)


def rgb_to(x: np.ndarray, space: str = "yiq") -> np.ndarray:
    """RGB [N,3,H,W] -> luminance/chroma [N,3,H,W] (channel 0 = Y)."""
    return _mix(_space(space), x)


def rgb_from(x: np.ndarray, space: str = "yiq") -> np.ndarray:
    return _mix(np.linalg.inv(_space(space).astype(np.float64)), x)


def luminance(x: np.ndarray, space: str = "yiq") -> np.ndarray:
    """Luminance replicated to 3 channels, so a network made for RGB can take it (Gatys et al. 2017)."""
    y = rgb_to(x, space)[:, :1]
    return np.ascontiguousarray(np.broadcast_to(y, (y.shape[0], 3, *y.shape[2:])))


def match_luminance(style_y: np.ndarray, content_y: np.ndarray) -> np.ndarray:
    """Shift/scale the style's luminance to the content's mean and std (Gatys et al. 2017, eq. 3)."""
    ms, ss = style_y.mean(), style_y.std(ddof=1)
    mc, sc = content_y.mean(), content_y.std(ddof=1)
    return ((style_y - ms) * (sc / max(float(ss), 1e-8)) + mc).astype(style_y.dtype)


def combine_luminance(stylised: np.ndarray, content: np.ndarray, space: str = "yiq") -> np.ndarray:
    """Luminance of ``stylised`` + chroma of ``content`` -> RGB (the content's colours kept exactly)."""
    s = rgb_to(stylised, space)
    c = rgb_to(content, space)
    return rgb_from(np.concatenate([s[:, :1], c[:, 1:]], axis=1), space)


def _sym_sqrt(cov: np.ndarray, inverse: bool = False) -> np.ndarray:
    vals, vecs = np.linalg.eigh(cov)
    vals = np.maximum(vals, 1e-10)
    d = 1.0 / np.sqrt(vals) if inverse else np.sqrt(vals)
    return vecs @ np.diag(d) @ vecs.T


def coral(source: np.ndarray, target: np.ndarray, eps: float = 1e-5) -> np.ndarray:
    """Recolour ``source`` so its per-pixel RGB mean and covariance equal ``target``'s (CORAL).

    x' = Σt^½ Σs^-½ (x - μs) + μt with symmetric matrix square roots; ``eps`` regularises flat images.
    Works on [1,3,H,W] arrays of any two sizes; the result is not clamped so the statistics are exact.
    """
    xs = source[0].reshape(3, -1).astype(np.float64)
    xt = target[0].reshape(3, -1).astype(np.float64)
    mu_s, mu_t = xs.mean(1, keepdims=True), xt.mean(1, keepdims=True)
    eye = np.eye(3)
    cov_s = np.cov(xs) + eps * eye
    cov_t = np.cov(xt) + eps * eye
    a = _sym_sqrt(cov_t) @ _sym_sqrt(cov_s, inverse=True)
    out = a @ (xs - mu_s) + mu_t
    return out.reshape(source[0].shape)[None].astype(source.dtype)


def area_resize(x: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize the last two axes to (height, width) by area averaging (adaptive average pooling: output
    cell i averages input rows floor(i·H/h) … ceil((i+1)·H/h) − 1), as torch's ``mode="area"``."""
    out = x.astype(np.float32, copy=False)
    for axis, n_out in ((-2, size[0]), (-1, size[1])):
        n_in = out.shape[axis]
        if n_in == n_out:
            continue
        i = np.arange(n_out)
        lo = (i * n_in) // n_out
        hi = -((-(i + 1) * n_in) // n_out)
        c = np.cumsum(np.moveaxis(out, axis, -1), axis=-1, dtype=np.float64)
        c = np.concatenate([np.zeros((*c.shape[:-1], 1)), c], axis=-1)
        out = np.moveaxis(((c[..., hi] - c[..., lo]) / (hi - lo)).astype(np.float32), -1, axis)
    return np.ascontiguousarray(out)


# ----------------------------------------------------------------------------------------------------
# Region masks
# ----------------------------------------------------------------------------------------------------

@dataclass
class Labels:
    """A region label map: ``labels[y, x]`` in 0..n-1; region r is painted with colour ``colours[r]``."""

    labels: np.ndarray
    colours: list[tuple[int, int, int]]

    @property
    def count(self) -> int:
        return len(self.colours)

    def resized(self, size: tuple[int, int]) -> Labels:
        """Nearest-neighbour resize to (width, height)."""
        if (self.labels.shape[1], self.labels.shape[0]) == size:
            return self
        im = Image.fromarray(self.labels.astype(np.uint8), "L").resize(size, Image.Resampling.NEAREST)
        return Labels(np.asarray(im, dtype=np.int64), self.colours)

    def masks(self, size: tuple[int, int] | None = None) -> np.ndarray:
        """One float32 mask per region, [n, H, W]; resized with area averaging (soft edges) if ``size``."""
        m = np.stack([(self.labels == r).astype(np.float32) for r in range(self.count)])
        if size is not None and (m.shape[2], m.shape[1]) != size:
            m = area_resize(m, (size[1], size[0]))
        return m


def load_labels(path: str | Path, content_size: tuple[int, int], max_regions: int = 32,
                min_share: float = 0.002) -> Labels:
    """Load a label image (one flat colour per region) and fit it to the content's (width, height).

    Regions are the distinct colours, numbered darkest first (black = region 0). Colours covering less
    than ``min_share`` of the pixels (JPEG noise, anti-aliased edges) are merged into the nearest region.
    The mask must have the content's aspect ratio (within 1 %); it is resized with nearest neighbour.
    """
    pic = load_image(path, what="mask")
    mw, mh = pic.size
    cw, ch = content_size
    if abs((mw / mh) / (cw / ch) - 1.0) > 0.01:
        raise PainterlyError(
            f"mask {path} is {mw}x{mh} but the content image is {cw}x{ch}; the mask needs the same size "
            "(or at least the same aspect ratio)."
        )
    arr = np.asarray(pic.rgb, dtype=np.int64)
    flat = arr.reshape(-1, 3)
    colours, inverse, counts = np.unique(flat, axis=0, return_inverse=True, return_counts=True)
    keep = counts >= max(1, math.ceil(min_share * flat.shape[0]))
    seeds = colours[keep]
    if len(seeds) > max_regions:
        raise PainterlyError(
            f"mask {path} has {len(seeds)} distinct colours; use a PNG with at most {max_regions} flat "
            "colours, one per region."
        )
    luma = seeds @ np.array([299, 587, 114])
    order = np.lexsort((seeds[:, 2], seeds[:, 1], seeds[:, 0], luma))
    seeds = seeds[order]
    # nearest seed for every distinct colour, then map pixels through the inverse index
    d = ((colours[:, None, :] - seeds[None, :, :]) ** 2).sum(-1)
    label_of_colour = d.argmin(1)
    labels = label_of_colour[inverse.reshape(-1)].reshape(mh, mw)
    out = Labels(labels.astype(np.int64), [tuple(int(v) for v in s) for s in seeds])
    return out.resized(content_size)


# ----------------------------------------------------------------------------------------------------
# Contact sheets
# ----------------------------------------------------------------------------------------------------

def contact_sheet(rows: Sequence[Sequence[Image.Image | None]], col_labels: Sequence[str] = (),
                  row_labels: Sequence[str] = (), cell: int = 256, pad: int = 6,
                  labels: Sequence[Sequence[str]] = ()) -> Image.Image:
    """Grid of images (each fitted into ``cell`` px), optional labels above columns / left of rows, or
    ``labels[r][c]`` under each cell."""
    n_rows = len(rows)
    n_cols = max((len(r) for r in rows), default=0)
    top = 18 if col_labels else 0
    left = 110 if row_labels else 0
    under = 16 if labels else 0
    sheet = Image.new("RGB", (left + n_cols * (cell + pad) + pad, top + n_rows * (cell + under + pad) + pad),
                      "white")
    from PIL import ImageDraw  # only sheets draw text: ~10 ms of fonts off every start-up

    draw = ImageDraw.Draw(sheet)
    for c, label in enumerate(col_labels):
        draw.text((left + pad + c * (cell + pad) + 2, 3), label[:40], fill="black")
    for r, row in enumerate(rows):
        y = top + pad + r * (cell + under + pad)
        if r < len(row_labels):
            draw.text((4, y + cell // 2 - 6), row_labels[r][:17], fill="black")
        for c, im in enumerate(row):
            if im is None:
                continue
            thumb = im.convert("RGB").copy()
            thumb.thumbnail((cell, cell), Image.Resampling.LANCZOS)
            x = left + pad + c * (cell + pad)
            sheet.paste(thumb, (x + (cell - thumb.width) // 2, y + (cell - thumb.height) // 2))
            if r < len(labels) and c < len(labels[r]):
                draw.text((x + 2, y + cell + 2), labels[r][c][:40], fill="black")
    return sheet
