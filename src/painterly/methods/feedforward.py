"""What AdaIN and SANet share: options, weight loading, style images, region masks at feature
resolution, and the onnxruntime backend.

Both methods encode with the "normalised" VGG-19 (reflection padding, ceil-mode pooling) and decode with
the same nn.Sequential decoder, so an H×W image comes back as 8·⌈H/8⌉ × 8·⌈W/8⌉; we crop that to H×W
(the extra rows/columns sit at the bottom/right because ceil pooling and nearest upsampling both align
to the top-left corner).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from PIL import Image
from torch import nn

from .. import hub
from .. import image as im
from ..errors import PainterlyError
from ..nn.blocks import make_decoder
from ..nn.vgg import VGG19
from .base import Common, StyleSpec

BACKENDS = ("torch", "onnx")
# reflection padding needs every padded map to be at least 2 px: relu4_1 is 1/8, relu5_1 1/16 of the image
MIN_SIDE = {"relu4_1": 16, "relu5_1": 32}


@dataclass(frozen=True)
class FFConfig:
    """Options of the feed-forward methods (AdaIN, SANet)."""

    alpha: float = 1.0                   # 0 = decoder(encoder(content)), 1 = full style
    crop: bool = False                   # centre squares of content and style
    backend: str = "torch"               # torch | onnx (onnxruntime on an exported graph)
    onnx_model: str | None = None        # exported model for backend onnx; None = export into the cache
    vgg_weights: str | None = None       # vgg_normalised.pth override (else the cache)
    decoder_weights: str | None = None   # decoder override (else --weights, else the cache)
    channels_last: bool | None = None    # NHWC input: faster convs on big images; None = from 256² up

    def check(self, method: str) -> None:
        if not 0.0 <= self.alpha <= 1.0:
            raise PainterlyError(f"--alpha must be between 0 and 1 for --method {method}, got {self.alpha}.")
        if self.backend not in BACKENDS:
            raise PainterlyError(f"--backend must be one of {', '.join(BACKENDS)}, got {self.backend!r}.")

    def check_common(self, common: Common, method: str) -> None:
        # the pipeline puts the stylised luminance back onto the full-size content's chroma
        if self.crop and common.preserve_color == "luminance":
            raise PainterlyError(f"--crop cannot be combined with --preserve-color luminance (--method {method}).")


def split_weights(common_weights: str | None, cfg: FFConfig, method: str) -> tuple[str | None, str | None]:
    """``--weights`` is the decoder checkpoint, or with ``--backend onnx`` an exported .onnx model:
    returns (decoder override, onnx model)."""
    decoder, model = cfg.decoder_weights, cfg.onnx_model
    if common_weights and common_weights.lower().endswith(".onnx"):
        if cfg.backend != "onnx":
            raise PainterlyError(f"--weights {common_weights} is an ONNX model; add --backend onnx "
                                 f"(--method {method}).")
        model = model or common_weights
    elif common_weights:
        decoder = decoder or common_weights
    return decoder, model


def to_device(x: torch.Tensor, device: torch.device, channels_last: bool | None) -> torch.Tensor:
    """Move an input image; NHWC lets oneDNN/cuDNN pick faster kernels, but costs more than it saves on
    small images (measured: 3x slower at 64², ~20 % faster at 512² on a 2-core CPU)."""
    x = x.to(device)
    use = channels_last if channels_last is not None else x.shape[-2] * x.shape[-1] >= 256 * 256
    return x.contiguous(memory_format=torch.channels_last) if use else x


def load_encoder(last: str, override: str | None, device: torch.device) -> VGG19:
    return VGG19.from_hub("normalised", last=last, weights=override).to(device)


def load_decoder(name: str, override: str | None, device: torch.device) -> nn.Sequential:
    """The published nn.Sequential decoder (AdaIN's decoder.pth or SANet's decoder_iter_500000.pth)."""
    dec = make_decoder()
    dec.load_state_dict(hub.load(name, override))
    return dec.requires_grad_(False).eval().to(device)


def weight_files(names_overrides: Sequence[tuple[str, str | None]]) -> list[Path]:
    """The files the weights come from (overrides or cache), for cache keys of exported models."""
    return [Path(o) if o else hub.require(n) for n, o in names_overrides]


def files_key(files: Sequence[Path]) -> str:
    """Cheap identity of a set of weight files: resolved path, size and mtime."""
    h = hashlib.sha256()
    for f in files:
        st = f.stat()
        h.update(f"{f.resolve()}|{st.st_size}|{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:16]


def crop_square(img: Image.Image) -> Image.Image:
    return im.center_crop(img, min(img.size))


def style_tensor(spec: StyleSpec, common: Common, crop: bool, default: int, min_side: int,
                 method: str) -> torch.Tensor:
    """The style image as [1,3,h,w]: optionally centre-cropped, then resized to --style-size (long side)."""
    if spec.picture is None:
        raise PainterlyError(f"--method {method} needs style images, not built-in style names ({spec.source}).")
    rgb = spec.picture.rgb
    if crop:
        rgb = crop_square(rgb)
    rgb = im.resize_long(rgb, default if common.style_size is None else common.style_size)
    check_side(rgb.size, min_side, f"style image {spec.name}", method)
    return im.to_tensor(rgb)


def check_side(size: tuple[int, int], min_side: int, what: str, method: str) -> None:
    if min(size) < min_side:
        raise PainterlyError(f"{what} is {size[0]}x{size[1]} px; --method {method} needs at least "
                             f"{min_side} px on each side (use a larger --size / --style-size).")


def crop_content(x: torch.Tensor, labels: im.Labels | None) -> tuple[torch.Tensor, im.Labels | None]:
    """Centre square of the (already resized) content, and of its label map."""
    h, w = x.shape[-2:]
    s = min(h, w)
    top, left = (h - s) // 2, (w - s) // 2
    x = x[..., top:top + s, left:left + s]
    if labels is not None:
        labels = im.Labels(labels.labels[top:top + s, left:left + s], labels.colours)
    return x, labels


def regions(labels: im.Labels, hw: tuple[int, int]) -> list[torch.Tensor]:
    """For each region r, the flat indices of the feature positions (h·w grid) that belong to it.

    The label map is area-averaged down to the feature grid and each position goes to the region that
    covers most of it, so every position belongs to exactly one region.
    """
    h, w = hw
    owner = labels.masks((w, h)).argmax(0).reshape(-1)
    return [torch.nonzero(owner == r).reshape(-1) for r in range(labels.count)]


def crop_to(x: torch.Tensor, hw: tuple[int, int]) -> torch.Tensor:
    return x[..., : hw[0], : hw[1]]


# ----------------------------------------------------------------------------------------------------
# onnxruntime backend
# ----------------------------------------------------------------------------------------------------

def onnx_cache_path(method: str, key: str) -> Path:
    return hub.home() / "onnx" / f"{method}-{key}.onnx"


class OnnxRunner:
    """An exported content+style(+alpha) → image graph run by onnxruntime."""

    def __init__(self, path: Path, device: torch.device) -> None:
        try:
            import onnxruntime as ort
        except ImportError:
            raise PainterlyError("--backend onnx needs onnxruntime: pip install onnxruntime") from None
        providers = ["CPUExecutionProvider"]
        if device.type == "cuda" and "CUDAExecutionProvider" in ort.get_available_providers():
            providers.insert(0, "CUDAExecutionProvider")
        opts = ort.SessionOptions()
        threads = torch.get_num_threads()
        opts.intra_op_num_threads = threads
        try:
            self.session = ort.InferenceSession(str(path), opts, providers=providers)
        except Exception as exc:  # noqa: BLE001 (onnxruntime has its own exception types)
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise PainterlyError(f"cannot load ONNX model {path}: {first[:200]}") from None
        self.inputs = [i.name for i in self.session.get_inputs()]

    def __call__(self, content: torch.Tensor, style: torch.Tensor, alpha: float) -> torch.Tensor:
        feed: dict[str, Any] = {"content": content.float().contiguous().numpy(),
                                "style": style.float().contiguous().numpy()}
        if "alpha" in self.inputs:
            feed["alpha"] = torch.tensor(alpha, dtype=torch.float32).numpy()
        (out,) = self.session.run(None, feed)
        return torch.from_numpy(out)


def onnx_runner(method: str, model: str | None, export: Callable[[Path], Any], key: Callable[[], str],
                device: torch.device) -> OnnxRunner:
    """Use ``model`` if given, else the cached export for these weights (exported now if missing)."""
    if model:
        p = Path(model)
        if not p.is_file():
            raise PainterlyError(f"ONNX model not found: {p}")
        return OnnxRunner(p, device)
    p = onnx_cache_path(method, key())
    if not p.exists():
        export(p)
    return OnnxRunner(p, device)

