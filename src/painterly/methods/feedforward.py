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
from typing import Any, ClassVar, Generic, TypeVar, cast

import numpy as np
import torch
from PIL import Image
from torch import nn

from .. import hub
from .. import image as im
from ..errors import PainterlyError
from ..nn import weights
from ..nn.blocks import make_decoder
from ..nn.convert import to_pil, to_tensor
from ..nn.vgg import VGG19
from .base import Common, Output, StyleSpec, build_config, normalised_weights
from .torch_base import TorchMethod

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
    dec.load_state_dict(weights.load(name, override))
    return dec.requires_grad_(False).eval().to(device)


def weight_files(names_overrides: Sequence[tuple[str, str | None]]) -> list[Path]:
    """The files the weights come from (overrides or cache), for cache keys of exported models."""
    return [Path(o) if o else hub.require(n) for n, o in names_overrides]


def files_key(files: Sequence[Path]) -> str:
    """Cheap identity of a set of weight files: resolved path, size and mtime."""
    h = hashlib.sha256()
    for f in files:
        st = f.stat() if f.is_file() else None  # a missing file fails later, in the loader, with its message
        h.update(f"{f.resolve()}|{st and st.st_size}|{st and st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:16]


_NETS: dict[tuple[str, str, str], nn.Module] = {}
_NETS_MAX = 2


def cached_net(method: str, sources: Sequence[tuple[str, str | None]], device: torch.device,
               build: Callable[[], nn.Module]) -> nn.Module:
    """Loaded networks shared by method instances in this process (the web UI and API calls create a
    method per request; loading VGG-19 each time costs more than a 512² stylisation). Keyed by the weight
    files' identity, so a re-imported file is loaded afresh. The nets are frozen and only run under
    inference_mode, so sharing them is safe."""
    key = (method, files_key(weight_files(sources)), str(device))
    net = _NETS.get(key)
    if net is None:
        net = build()
        if len(_NETS) >= _NETS_MAX:
            _NETS.pop(next(iter(_NETS)))
        _NETS[key] = net
    return net


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
    rgb = im.resize_long(rgb, default if common.style_size is None else common.style_size,
                         allow_large=common.allow_large, what=f"style image {spec.name} at --style-size")
    check_side(rgb.size, min_side, f"style image {spec.name}", method)
    return to_tensor(rgb)


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
    owner = torch.from_numpy(labels.masks((w, h)).argmax(0).reshape(-1))
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
        from .fast import session_options
        opts = session_options()
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


Exporter = Callable[[Any, Path], Any]
_EXPORTER: list[Exporter] = []


def set_exporter(fn: Exporter) -> None:
    """painterly.export registers its exporter here (export sits above the methods in the layers)."""
    _EXPORTER[:] = [fn]


def _export(method: Any, path: Path) -> Any:
    if not _EXPORTER:  # painterly.api imports painterly.export whenever backend="onnx" is asked for
        raise PainterlyError("no ONNX exporter is loaded: import painterly.export (or go through "
                             "painterly.api), or pass --weights MODEL.onnx.")
    return _EXPORTER[0](method, path)


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



# ----------------------------------------------------------------------------------------------------
# The method skeleton both share
# ----------------------------------------------------------------------------------------------------

NetT = TypeVar("NetT", bound=nn.Module)


class FeedForwardMethod(TorchMethod, Generic[NetT]):
    """What AdaINMethod and SANetMethod do identically: option checks, weight sources, the shared cached
    network, the onnxruntime backend, style images and the head of ``stylise`` (crop, size check). A
    subclass adds its network (``build_net``), its style preparation and its feature transform."""

    config_class: ClassVar[type[FFConfig]]
    decoder_name: ClassVar[str]
    deepest: ClassVar[str]           # deepest encoder tap; it sets the smallest usable image side

    def configure(self, options: dict[str, Any]) -> None:
        self.config = build_config(self.config_class, self.config_class(), options, self.name)
        self.config.check(self.name)
        self.config.check_common(self.common, self.name)
        split_weights(self.common.weights, self.config, self.name)  # early error for a misplaced .onnx
        self._net: NetT | None = None
        self._onnx: OnnxRunner | None = None

    # -- weights ------------------------------------------------------------------------------------

    @property
    def decoder_override(self) -> str | None:
        return split_weights(self.common.weights, self.config, self.name)[0]

    def weight_sources(self) -> list[tuple[str, str | None]]:
        return [("vgg-normalised", self.config.vgg_weights), (self.decoder_name, self.decoder_override)]

    def build_net(self, device: torch.device | None = None) -> NetT:
        raise NotImplementedError

    @property
    def net(self) -> NetT:
        if self._net is None:
            self._net = cast(NetT, cached_net(self.name, self.weight_sources(), self.device, self.build_net))
        return self._net

    def onnx(self) -> OnnxRunner:
        if self._onnx is None:
            model = split_weights(self.common.weights, self.config, self.name)[1]
            self._onnx = onnx_runner(self.name, model, lambda p: _export(self, p),
                                     lambda: files_key(weight_files(self.weight_sources())), self.device)
        return self._onnx

    def _in(self, x: torch.Tensor) -> torch.Tensor:
        return to_device(x, self.device, self.config.channels_last)

    # -- shared steps of prepare / stylise ------------------------------------------------------------

    def style_images(self, styles: Sequence[StyleSpec]) -> tuple[list[float], list[torch.Tensor]]:
        """Normalised blend weights and the style tensors (cropped / resized as configured)."""
        images = [style_tensor(s, self.common, self.config.crop, self.default_size, MIN_SIDE[self.deepest],
                               self.name) for s in styles]
        return normalised_weights(styles), images

    def content_input(self, content: torch.Tensor, labels: im.Labels | None
                      ) -> tuple[torch.Tensor, im.Labels | None, tuple[int, int]]:
        """The content as the network takes it (centre square with --crop), its labels and (h, w)."""
        x = content
        if self.config.crop:
            x, labels = crop_content(x, labels)
        h, w = x.shape[-2:]
        check_side((w, h), MIN_SIDE[self.deepest], "content image", self.name)
        return x, labels, (h, w)

    def run_onnx(self, x: torch.Tensor, images: Sequence[torch.Tensor], labels: im.Labels | None) -> torch.Tensor:
        if len(images) > 1 or labels is not None:
            raise PainterlyError("--backend onnx takes one --style and no --mask; use --backend torch "
                                 "for blends and masks.")
        return self.onnx()(x, images[0], self.config.alpha)

    def stylise(self, content: torch.Tensor, prepared: Any, labels: im.Labels | None) -> torch.Tensor:
        raise NotImplementedError

    def run(self, content: np.ndarray, prepared: Any, labels: im.Labels | None) -> Output:
        out = self.stylise(self.tensor(content), prepared, labels)
        return Output(to_pil(out), {"alpha": self.config.alpha, "backend": self.config.backend})

    def export_module(self) -> tuple[nn.Module, tuple[str, ...]]:
        """(module, input names) for ONNX export: content, style, alpha → image, on the CPU."""
        return self.build_net(torch.device("cpu")), ("content", "style", "alpha")
