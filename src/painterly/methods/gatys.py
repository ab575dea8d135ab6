"""Gatys et al. neural style transfer: optimise an image so that its VGG-19 features match the content's
and its Gram matrices match the style's.

Read top-down: config and presets → layer specs → the objective (the loss, term by term) → one
optimisation stage (L-BFGS or Adam, counting function evaluations) → the coarse-to-fine driver.

Total loss, for an image x in the optimisation space (the VGG's own input space, see below):

    L(x) = cw · Σ_l a_l · MSE(F_l(x), F_l(content))                         (content layers l)
         + sw · Σ_l b_l · s_l · MSE(G_l(x), T_l)                            (style layers l)
         + tw · TV_L1(x on the 0–255 pixel scale)

MSE is the mean over elements; a_l, b_l are the per-layer weights (``relu4_2:1,relu5_2:0.5``); s_l is 1
(neural-style) or 1/C_l² (Gatys' own code); G_l = F Fᵀ / (C·H·W) (neural-style) or F Fᵀ / (H·W) (Gatys'
code); T_l = Σ_s w_s · G_l(style_s) with blend weights w_s normalised to 1. With a mask, region r's guided
Gram (features × the region's mask, normalised by the mask's area) is matched to style r's Gram, each
region weighted by its share of the picture.

Optimisation space: the image is optimised as the VGG sees it (Caffe: BGR, 0–255, mean subtracted), as
neural-style does, so L-BFGS step sizes and the preset weights mean what they mean there.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .. import image as im
from ..nn.convert import to_pil, to_tensor
from ..nn.device import seed_everything
from ..errors import PainterlyError
from ..nn import inference, losses
from ..nn.vgg import VGG19, tap_names
from .base import Output, StyleSpec, build_config, normalised_weights
from .torch_base import TorchMethod

LayerSpec = tuple[tuple[str, float], ...]

# Stated with each preset so that weights are never read under the wrong normalisation.
GRAM_TEXT = {"chw": "F·Fᵀ/(C·H·W)", "hw": "F·Fᵀ/(H·W)", "none": "F·Fᵀ"}
LAYER_SCALE_TEXT = {"one": "1", "inv_c2": "1/C²"}


# ----------------------------------------------------------------------------------------------------
# config and presets
# ----------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class GatysConfig:
    """Every control of the method. ``steps`` is overridden by the common ``--steps``."""

    preset: str = "neural-style"
    gram_norm: str = "chw"            # chw: FFᵀ/(C·H·W) | hw: FFᵀ/(H·W) | none
    layer_scale: str = "one"          # one | inv_c2: each style layer's loss × 1/C² (Gatys' own code)
    content_weight: float = 5.0
    style_weight: float = 100.0
    tv_weight: float = 1e-3
    tv_kind: str = "l1"               # l1 like neural-style's PyTorch port (the Lua original's gradient is L2)
    content_layers: str | Sequence[str] = "relu4_2"
    style_layers: str | Sequence[str] = "relu1_1,relu2_1,relu3_1,relu4_1,relu5_1"
    optimizer: str = "lbfgs"          # lbfgs | adam
    lr: float | None = None           # adam step in 0–255 pixel units (default 1.0, neural-style's)
    steps: int = 1000                 # function evaluations (L-BFGS) / steps (Adam), all stages together
    lbfgs_history: int = 100          # neural-style's -lbfgs_num_correction default
    init: str = "content"             # content | noise (uniform white noise) | path of an image
    pooling: str = "max"              # max | avg
    vgg: str = "caffe"                # caffe (hub: vgg19-caffe) | torchvision (hub: vgg19)
    multiscale: bool | None = None    # coarse-to-fine; None = on when the output's long side > 512 px
    multiscale_start: int = 256       # long side of the coarsest stage (approximately)
    stage_decay: float = 0.5          # each later stage gets this fraction of the previous stage's steps
    ema: float = 0.0                  # >0: output the (bias-corrected) exponential average of the iterates
    save_every: int | None = None     # write an intermediate image every N steps ...
    save_path: str | None = None      # ... next to this path: out.png -> out.step0100.png


PRESETS: dict[str, GatysConfig] = {
    # neural-style (Johnson's Lua tool and its PyTorch port, ProGamerGov/neural-style-pt defaults):
    # Gram FFᵀ/(C·H·W), MSE mean, content 5 at relu4_2, style 100 on relu1_1…relu5_1 equally, L1 TV 1e-3,
    # 1000 L-BFGS function evaluations, 512 px, Caffe VGG-19, optimised in Caffe space.
    "neural-style": GatysConfig(),
    # Gatys' own PyTorch code (leongatys/PytorchNeuralStyleTransfer): Gram FFᵀ/(H·W), MSE mean, each style
    # layer weighted 1/C², content 1 at relu4_2, style 1e3, no TV, 500 L-BFGS function evaluations.
    "gatys-paper": GatysConfig(preset="gatys-paper", gram_norm="hw", layer_scale="inv_c2", content_weight=1.0,
                               style_weight=1e3, tv_weight=0.0, steps=500),
}


def parse_layers(spec: str | Sequence[str], what: str) -> LayerSpec:
    """``"relu4_2:1,relu5_2:0.5"`` (or a list of such items) -> (("relu4_2", 1.0), ("relu5_2", 0.5))."""
    items = [s.strip() for s in (spec.split(",") if isinstance(spec, str) else spec)]
    items = [s for s in items if s]
    if not items:
        raise PainterlyError(f"--{what} must name at least one VGG layer, e.g. relu4_2.")
    known = set(tap_names("caffe"))
    out: list[tuple[str, float]] = []
    for item in items:
        name, sep, weight_text = item.partition(":")
        name = name.strip()
        if name not in known:
            raise PainterlyError(f"--{what}: unknown VGG-19 layer {name!r}; use e.g. relu1_1 … relu5_4, conv4_2.")
        weight = 1.0
        if sep:
            try:
                weight = float(weight_text)
            except ValueError:
                raise PainterlyError(f"--{what}: weight {weight_text!r} of {name} is not a number.") from None
            if not weight >= 0 or math.isinf(weight):
                raise PainterlyError(f"--{what}: weight of {name} must be a non-negative number.")
        if name in dict(out):
            raise PainterlyError(f"--{what}: layer {name} is listed twice.")
        out.append((name, weight))
    return tuple(out)


def _check(cfg: GatysConfig) -> None:
    """One-line errors for impossible settings, before any weights are loaded."""
    bad = PainterlyError
    for field in ("content_weight", "style_weight", "tv_weight"):
        v = getattr(cfg, field)
        if not v >= 0 or math.isinf(v):
            raise bad(f"--{field.replace('_', '-')} must be a non-negative number, got {v}.")
    if cfg.optimizer not in ("lbfgs", "adam"):
        raise bad(f"--optimizer must be lbfgs or adam, got {cfg.optimizer!r}.")
    if cfg.lr is not None and not cfg.lr > 0:
        raise bad(f"--lr must be positive, got {cfg.lr}.")
    if cfg.pooling not in ("max", "avg"):
        raise bad(f"--pooling must be max or avg, got {cfg.pooling!r}.")
    if cfg.vgg not in ("caffe", "torchvision"):
        raise bad(f"--vgg must be caffe or torchvision, got {cfg.vgg!r}.")
    if cfg.gram_norm not in GRAM_TEXT:
        raise bad(f"gram_norm must be one of {', '.join(GRAM_TEXT)}, got {cfg.gram_norm!r}.")
    if cfg.layer_scale not in LAYER_SCALE_TEXT:
        raise bad(f"layer_scale must be one of {', '.join(LAYER_SCALE_TEXT)}, got {cfg.layer_scale!r}.")
    if cfg.tv_kind not in ("l1", "l2"):
        raise bad(f"tv_kind must be l1 or l2, got {cfg.tv_kind!r}.")
    if cfg.steps < 0:
        raise bad("--steps must be 0 or more.")
    if not 0.0 <= cfg.ema < 1.0:
        raise bad(f"ema must be in [0, 1), got {cfg.ema}.")
    if not 0.0 < cfg.stage_decay <= 1.0:
        raise bad(f"stage_decay must be in (0, 1], got {cfg.stage_decay}.")
    if cfg.multiscale_start < 16:
        raise bad("multiscale_start must be at least 16 px.")
    if cfg.save_every is not None:
        if cfg.save_every <= 0:
            raise bad("--save-every must be a positive number of steps.")
        if not cfg.save_path:
            raise bad("--save-every needs an output path (save_path) to name the intermediate images after.")
        if Path(cfg.save_path).suffix.lower() not in im.SAVE_FORMATS:
            raise bad(f"--save-every names intermediate images after the output file, but {cfg.save_path} has "
                      "no image extension (several outputs go to a folder); use one output file.")
    if cfg.init not in ("content", "noise") and not Path(cfg.init).is_file():
        raise bad(f"--init must be content, noise or an image file; {cfg.init!r} is none of these.")


def step_path(save_path: str | Path, step: int) -> Path:
    """out.png, 100 -> out.step0100.png (intermediate images sort by name)."""
    p = Path(save_path)
    return p.with_name(f"{p.stem}.step{step:04d}{p.suffix}")


def stage_sizes(long_side: int, multiscale: bool, start: int) -> list[int]:
    """Long sides of the coarse-to-fine stages: halve from the output size while staying ≥ ``start``."""
    sizes = [long_side]
    while multiscale and sizes[0] / 2 >= start:
        sizes.insert(0, math.ceil(sizes[0] / 2))
    return sizes


def stage_steps(total: int, n_stages: int, decay: float) -> list[int]:
    """Split the step budget: stage k gets a share ∝ decay^k (later stages are larger, so fewer steps)."""
    if n_stages == 1:
        return [total]
    shares = [decay**k for k in range(n_stages)]
    steps = [int(total * s / sum(shares)) for s in shares]
    steps[0] += total - sum(steps)
    return steps


# ----------------------------------------------------------------------------------------------------
# the objective
# ----------------------------------------------------------------------------------------------------

class Space:
    """The VGG's input space (where the image is optimised) and the way back to RGB [0, 1]."""

    def __init__(self, vgg: VGG19) -> None:
        self.vgg = vgg
        dev = next(vgg.parameters()).device
        self.lo = vgg.preprocess(torch.zeros(1, 3, 1, 1, device=dev))
        self.hi = vgg.preprocess(torch.ones(1, 3, 1, 1, device=dev))
        # multiplier taking differences in this space to the 0–255 RGB scale (for TV; channel order is
        # irrelevant to a sum over channels)
        self.to_255 = 255.0 / (self.hi - self.lo).abs()

    def encode(self, rgb: torch.Tensor) -> torch.Tensor:
        return self.vgg.preprocess(rgb)

    def decode(self, x: torch.Tensor) -> torch.Tensor:
        t = (x - self.lo) / (self.hi - self.lo)     # each channel back to [0, 1] (still in VGG channel order)
        return t.flip(1) if self.vgg.convention == "caffe" else t

    def clamp_(self, x: torch.Tensor) -> None:
        lo, hi = torch.minimum(self.lo, self.hi), torch.maximum(self.lo, self.hi)
        x.data.copy_(torch.maximum(torch.minimum(x.data, hi), lo))


MAX_STYLE_SIDE = 3072
"""Largest long side a style image is enlarged to by --stroke-scale (its relu1_1 map alone is ~2.4 GB)."""

CHANNELS_LAST = True
"""Run the VGG in channels-last layout (oneDNN's 3x3 convolutions are faster in it on CPU)."""


def features(vgg: VGG19, x: torch.Tensor, taps: Sequence[str]) -> dict[str, torch.Tensor]:
    """VGG taps of an image already in the VGG's input space (no second preprocessing), stopping at the
    deepest tap."""
    ends = vgg.slice_ends(taps)
    wanted = dict(zip(ends, taps, strict=True))
    out: dict[str, torch.Tensor] = {}
    h = x.contiguous(memory_format=torch.channels_last) if CHANNELS_LAST else x
    if inference.applies(h):        # targets and final losses (no autograd): the CPU inference path
        return inference.forward(vgg.layers, h, max(ends), wanted)[1]
    for i in range(max(ends)):
        layer = vgg.layers[i]
        # ReLU in place on a convolution's output (which its backward does not need) saves a full-size
        # write and allocation per layer, unless that output is itself a tap (conv4_2 for gatys-paper)
        if isinstance(layer, nn.ReLU) and i not in wanted and i > 0:
            h = F.relu_(h)
        else:
            h = layer(h)
        if i + 1 in wanted:
            out[wanted[i + 1]] = h
    return out


@dataclass
class Objective:
    """The loss of one stage; targets are fixed tensors computed without autograd."""

    vgg: VGG19
    space: Space
    cfg: GatysConfig
    content_spec: LayerSpec
    style_spec: LayerSpec
    content_targets: dict[str, torch.Tensor]
    style_targets: dict[str, torch.Tensor]             # layer -> [R, C, C] (R = 1 without a mask)
    masks: dict[str, torch.Tensor] | None = None       # layer -> [R, h, w] soft region masks
    region_share: dict[str, list[float]] | None = None
    # video (Ruder et al. 2016): the previous output warped into this frame (optimisation space), the mask
    # of pixels visible in both frames [1, 1, H, W], and the weight of the short-term temporal loss
    temporal_target: torch.Tensor | None = None
    temporal_mask: torch.Tensor | None = None
    temporal_weight: float = 0.0

    @property
    def taps(self) -> list[str]:
        return list(dict.fromkeys([n for n, _ in self.content_spec] + [n for n, _ in self.style_spec]))

    def __call__(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        feats = features(self.vgg, x, self.taps)
        zero = x.new_zeros(())
        content = zero
        for name, w in self.content_spec:
            if w:
                content = content + w * losses.content_loss(feats[name], self.content_targets[name])
        style = zero
        for name, w in self.style_spec:
            if not w:
                continue
            f = feats[name]
            scale = 1.0 / f.shape[1] ** 2 if self.cfg.layer_scale == "inv_c2" else 1.0
            target = self.style_targets[name]
            if self.masks is None:
                layer = losses.gram_loss(losses.gram(f, self.cfg.gram_norm), target[:1])
            else:
                layer = zero
                for r, share in enumerate(self.region_share[name]):  # type: ignore[index]
                    if share > 0:
                        g = losses.masked_gram(f, self.masks[name][r], self.cfg.gram_norm)
                        layer = layer + share * losses.gram_loss(g, target[r:r + 1])
            style = style + w * scale * layer
        tv = zero
        if self.cfg.tv_weight:
            tv = losses.tv_loss(x * self.space.to_255, self.cfg.tv_kind)
        terms = {"content": self.cfg.content_weight * content, "style": self.cfg.style_weight * style,
                 "tv": self.cfg.tv_weight * tv}
        terms["total"] = terms["content"] + terms["style"] + terms["tv"]
        if self.temporal_target is not None and self.temporal_weight:
            # Ruder et al.: (1/D)·Σ c·(x − ω)² on the 0–255 pixel scale, D = C·H·W
            d = (x - self.temporal_target) * self.space.to_255
            terms["temporal"] = self.temporal_weight * (self.temporal_mask * d * d).mean()
            terms["total"] = terms["total"] + terms["temporal"]
        return terms


@dataclass
class Styles:
    """Prepared styles: RGB pictures, normalised blend weights, and a cache of target Grams per size."""

    pictures: list[Any]
    weights: list[float]
    cache: dict[tuple[int, int], dict[str, torch.Tensor]] = dataclasses.field(default_factory=dict)


# ----------------------------------------------------------------------------------------------------
# the method
# ----------------------------------------------------------------------------------------------------

class GatysMethod(TorchMethod):
    """Gatys et al. optimisation over VGG-19 features (neural-style and gatys-paper presets)."""

    name = "gatys"
    default_size = 512
    weights: ClassVar[tuple[str, ...]] = ("vgg19-caffe",)
    supports_mask = True
    # video: painterly.video sets ``temporal_hint`` (a temporal.Hint) before a frame after the first
    accepts_temporal_hint: ClassVar[bool] = True
    temporal_hint: Any = None
    # --stroke-scale K: the style targets are taken from the style image K× larger (neural-style's
    # -style_scale), so Gram statistics describe K× bigger strokes, and the coarse-to-fine schedule runs to
    # the full output size — instead of the Pipeline's stylise-small-then-upsample used by other methods.
    handles_stroke_scale = True
    min_side = 16      # four 2x2 max pools before relu5_1: 16 px is 1 px there
    uses_steps = True

    def configure(self, options: dict[str, Any]) -> None:
        options = dict(options)
        preset = options.pop("preset", None) or "neural-style"
        if preset not in PRESETS:
            raise PainterlyError(f"unknown --preset {preset!r}; use one of {', '.join(PRESETS)}.")
        cfg: GatysConfig = build_config(GatysConfig, PRESETS[preset], options, self.name)
        if self.common.steps is not None:
            cfg = dataclasses.replace(cfg, steps=self.common.steps)
        _check(cfg)
        self.config = cfg
        self.content_spec = parse_layers(cfg.content_layers, "content-layers")
        self.style_spec = parse_layers(cfg.style_layers, "style-layers")
        self._vgg: VGG19 | None = None

    # -- network ------------------------------------------------------------------------------------

    def net(self) -> VGG19:
        """VGG-19 up to the deepest requested layer, frozen, loaded from the hub (or --weights)."""
        if self._vgg is None:
            order = tap_names(self.config.vgg)
            taps = [n for n, _ in self.content_spec + self.style_spec]
            last = max(taps, key=order.index)
            vgg = VGG19.from_hub(self.config.vgg, self.config.pooling, last, self.common.weights)
            vgg = vgg.to(self.device)
            self._vgg = vgg.to(memory_format=torch.channels_last) if CHANNELS_LAST else vgg
            self._space = Space(self._vgg)
        return self._vgg

    def prepare(self, styles: Sequence[StyleSpec]) -> Styles:
        self.net()   # fail early (missing weights) before any work
        pics = []
        for s in styles:
            if s.picture is None:
                raise PainterlyError(f"--method gatys needs a style image; {s.source!r} is not one.")
            pics.append(s.picture.rgb)
        return Styles(pics, normalised_weights(styles))

    # -- targets ------------------------------------------------------------------------------------

    def _style_grams(self, styles: Styles, index: int, long_side: int) -> dict[str, torch.Tensor]:
        """Gram matrices of style ``index`` at ``long_side`` px (cached: a video reuses them)."""
        key = (index, long_side)
        if key not in styles.cache:
            names = [n for n, _ in self.style_spec]
            with torch.inference_mode():
                pic = im.resize_long(styles.pictures[index], long_side, allow_large=self.common.allow_large,
                                     what="a style image at --style-size")
                self.check_side(pic.size, "a style image")
                rgb = to_tensor(pic).to(self.device)
                f = features(self.net(), self._space.encode(rgb), names)
                grams = {n: losses.gram(f[n], self.config.gram_norm) for n in names}
            # cloned outside inference mode: the targets enter autograd graphs as constants
            styles.cache[key] = {n: g.clone() for n, g in grams.items()}
        return styles.cache[key]

    def _style_long_side(self, styles: Styles, stage_long: int, final_long: int) -> list[int]:
        """--style-size (None: the content's long side; 0: native), times --stroke-scale, scaled with the
        stage. The stroke-scaled size is capped (MAX_STYLE_SIDE) so VGG activations stay bounded."""
        out = []
        for pic in styles.pictures:
            base = self.common.style_size
            base = final_long if base is None else (max(pic.size) if base == 0 else base)
            scaled = base * self.common.stroke_scale
            if self.common.stroke_scale > 1.0:
                scaled = min(scaled, max(base, MAX_STYLE_SIDE))
            out.append(max(16, round(scaled * stage_long / final_long)))
        return out

    def objective(self, content: torch.Tensor, styles: Styles, labels: im.Labels | None,
                  stage_long: int | None = None, final_long: int | None = None) -> Objective:
        """The loss for a content image (already on the device, RGB [0,1]) at one stage."""
        vgg = self.net()
        stage_long = stage_long or max(content.shape[-2:])
        final_long = final_long or stage_long
        with torch.inference_mode():
            cf = features(vgg, self._space.encode(content), [n for n, _ in self.content_spec + self.style_spec])
            shapes = {n: cf[n].shape[-2:] for n, _ in self.style_spec}
            content_targets = {n: cf[n].clone() for n, _ in self.content_spec}
        content_targets = {n: t.clone() for n, t in content_targets.items()}
        sizes = self._style_long_side(styles, stage_long, final_long)
        per_style = [self._style_grams(styles, i, s) for i, s in enumerate(sizes)]
        masks = shares = None
        names = [n for n, _ in self.style_spec]
        if labels is None:
            targets = {n: sum(w * g[n] for w, g in zip(styles.weights, per_style, strict=True)) for n in names}
        else:
            # region r <-> style r; styles are not blended under a mask
            regions = min(labels.count, len(per_style))
            lab = labels.resized((content.shape[-1], content.shape[-2]))
            targets = {n: torch.cat([per_style[r][n] for r in range(regions)]) for n in names}
            masks, shares = {}, {}
            for n in names:
                h, w = shapes[n]
                m = torch.from_numpy(lab.masks((int(w), int(h)))[:regions]).to(self.device)
                masks[n] = m
                shares[n] = [float(v) for v in m.mean(dim=(1, 2))]
        return Objective(vgg, self._space, self.config, self.content_spec, self.style_spec,
                         content_targets, targets, masks, shares)

    # -- initial image ------------------------------------------------------------------------------

    def _init(self, content: torch.Tensor, gen: torch.Generator | None) -> torch.Tensor:
        init = self.config.init
        if init == "content":
            return self._space.encode(content)
        if init == "noise":
            # white noise, uniform in RGB [0, 1] (Gatys et al.). neural-style's N(0, 0.001²) in VGG space is
            # nearly a flat mean-colour image, on which the seed makes no visible difference.
            return self._space.encode(torch.rand(content.shape, generator=gen).to(self.device))
        pic = im.load_image(init, what="--init image", allow_large=self.common.allow_large)
        rgb = to_tensor(pic.rgb.resize((content.shape[-1], content.shape[-2]), im.Image.Resampling.LANCZOS))
        return self._space.encode(rgb.to(self.device))

    def _temporal(self, obj: Objective, hint: Any, hw: tuple[int, int]) -> torch.Tensor:
        """Ruder et al.'s warped initialisation and temporal-loss target for one video frame."""
        init = torch.from_numpy(np.ascontiguousarray(hint.init, dtype=np.float32)).to(self.device)
        mask = torch.from_numpy(np.ascontiguousarray(hint.mask, dtype=np.float32))[None, None].to(self.device)
        if init.shape[-2:] != hw:
            init = F.interpolate(init, size=hw, mode="bilinear", align_corners=False, antialias=True)
            mask = (F.interpolate(mask, size=hw, mode="bilinear", align_corners=False) > 0.999).float()
        x = self._space.encode(init)
        obj.temporal_target, obj.temporal_mask, obj.temporal_weight = x.detach().clone(), mask, hint.weight
        return x

    # -- run ----------------------------------------------------------------------------------------

    def run(self, content_array: np.ndarray, prepared: Styles, labels: im.Labels | None) -> Output:
        t0 = time.perf_counter()
        content = self.tensor(content_array)
        cfg = self.config
        gen = seed_everything(self.common.seed)
        if gen is None:
            gen = torch.Generator().manual_seed(torch.seed())
        self.net()
        h, w = content.shape[-2:]
        final_long = max(h, w)
        # a stroke scale > 1 needs the coarse stages: big strokes are laid down where they cost little
        default_ms = final_long > 512 or self.common.stroke_scale > 1.0
        multiscale = cfg.multiscale if cfg.multiscale is not None else default_ms
        start = cfg.multiscale_start
        if self.common.stroke_scale > 1.0:   # at least one stage at ≤ 1/K of the output, however small it is
            start = min(start, max(16, math.ceil(final_long / self.common.stroke_scale)))
        sizes = stage_sizes(final_long, multiscale, start)
        budgets = stage_steps(cfg.steps, len(sizes), cfg.stage_decay)
        hint = self.temporal_hint
        if hint is not None:   # a video frame after the first: one stage from the warped previous result
            sizes, budgets = [final_long], [hint.steps]
        tracker = _Tracker(self, sum(budgets))
        x: torch.Tensor | None = None
        stages = []
        obj: Objective | None = None
        try:
            for k, (long_side, n) in enumerate(zip(sizes, budgets, strict=True)):
                s = long_side / final_long
                hw = (h, w) if k == len(sizes) - 1 else (max(1, round(h * s)), max(1, round(w * s)))
                c = content.to(self.device)
                if hw != (h, w):
                    c = F.interpolate(c, size=hw, mode="bilinear", align_corners=False, antialias=True)
                obj = self.objective(c, prepared, labels, long_side, final_long)
                if hint is not None:
                    x = self._temporal(obj, hint, hw)
                elif x is None:
                    x = self._init(c, gen)
                else:
                    x = F.interpolate(x, size=hw, mode="bilinear", align_corners=False)
                tracker.new_stage(k, hw, x)
                stages.append({"size": [hw[1], hw[0]], "steps": n})
                x = self._optimise(x, obj, n, tracker)
                stages[-1]["evaluations"] = tracker.stage_evals
        except KeyboardInterrupt:   # Ctrl-C (or a callback raising it): return the best image so far
            tracker.interrupted = True
            if tracker.stage_init is None:
                raise                   # nothing to return yet
            x = tracker.best_x if tracker.best_x is not None else tracker.stage_init
            stages[-1]["evaluations"] = tracker.stage_evals
        finally:
            tracker.close()
        assert x is not None and obj is not None
        with torch.no_grad():   # the losses of the image we return (Adam's last step and EMA are unevaluated)
            final = {k: float(v) for k, v in obj(x).items()}
        rgb = self._space.decode(x.detach())
        if rgb.shape[-2:] != (h, w):
            rgb = F.interpolate(rgb, size=(h, w), mode="bilinear", align_corners=False)
        info: dict[str, Any] = {
            "preset": cfg.preset,
            "gram": GRAM_TEXT[cfg.gram_norm],
            "style_layer_scale": LAYER_SCALE_TEXT[cfg.layer_scale],
            "tv": f"{cfg.tv_kind.upper()} on the 0-255 pixel scale",
            "vgg": cfg.vgg,
            "optimizer": cfg.optimizer,
            "steps": cfg.steps,
            "evaluations": tracker.done,
            "stages": stages,
            "style_sizes": self._style_long_side(prepared, final_long, final_long),
            "losses": {"initial": tracker.initial, "final": final, "best": tracker.best_terms},
            "optimise_seconds": round(time.perf_counter() - t0, 3),
            "interrupted": tracker.interrupted,
        }
        if tracker.saved:
            info["intermediate_images"] = [str(p) for p in tracker.saved]
        return Output(to_pil(rgb.cpu()), info)

    def _optimise(self, x0: torch.Tensor, obj: Objective, n: int, tracker: _Tracker) -> torch.Tensor:
        """One stage: ``n`` function evaluations (L-BFGS) or steps (Adam); returns the final iterate."""
        x = x0.detach().clone(memory_format=torch.contiguous_format).requires_grad_(True)
        if n == 0:
            return x.detach()
        cfg = self.config
        if cfg.optimizer == "adam":
            lr = (cfg.lr if cfg.lr is not None else 1.0) / float(self._space.to_255.mean())
            opt = torch.optim.Adam([x], lr=lr)
            for _ in range(n):
                opt.zero_grad(set_to_none=True)
                terms = obj(x)
                terms["total"].backward()
                tracker.evaluated(x, terms)
                opt.step()
                self._space.clamp_(x)      # clamp only with Adam: L-BFGS's line model would break
                tracker.moved(x)
            return tracker.output(x)

        # L-BFGS: PyTorch's max_iter counts iterations inside one step() call; we count evaluations,
        # and negative tolerances stop it from quitting early on a flat stretch.
        opt = torch.optim.LBFGS([x], lr=1.0, max_iter=n, max_eval=n, tolerance_grad=-1.0,
                                tolerance_change=-1.0, history_size=cfg.lbfgs_history, line_search_fn=None)

        def closure() -> torch.Tensor:
            opt.zero_grad(set_to_none=True)
            terms = obj(x)
            terms["total"].backward()
            tracker.evaluated(x, terms)
            tracker.moved(x)
            return terms["total"]

        while tracker.stage_evals < n:
            before = tracker.stage_evals
            left = n - before
            opt.param_groups[0]["max_iter"] = left
            opt.param_groups[0]["max_eval"] = left
            opt.step(closure)
            if tracker.stage_evals == before:   # cannot happen with these tolerances; never spin
                break
        # L-BFGS without a line search can spike (its L1 TV term is not smooth): return the best iterate it
        # evaluated. neural-style returns the last one; the two agree while the loss is still falling.
        return tracker.output(x, best=True)


class _Tracker:
    """Counts evaluations across stages; progress bar, callback, best-so-far, EMA, --save-every."""

    def __init__(self, method: GatysMethod, total: int) -> None:
        self.m = method
        self.total = total
        self.done = 0
        self.stage_evals = 0
        self.bar = method.progress(total, "gatys")
        self.initial: dict[str, float] | None = None
        self.best_total = math.inf
        self.best_x: torch.Tensor | None = None
        self.best_terms: dict[str, float] | None = None
        self.stage_init: torch.Tensor | None = None
        self.ema: torch.Tensor | None = None
        self.ema_t = 0
        self.saved: list[Path] = []
        self.interrupted = False
        self.stage = 0
        self.size: tuple[int, int] = (0, 0)

    def new_stage(self, k: int, hw: tuple[int, int], x0: torch.Tensor) -> None:
        self.stage, self.size, self.stage_evals = k, hw, 0
        self.stage_init = x0.detach().clone()
        # losses of different sizes are not comparable: best-so-far restarts with each stage
        self.best_total, self.best_x, self.best_terms = math.inf, None, None
        self.ema, self.ema_t = None, 0

    def evaluated(self, x: torch.Tensor, terms: dict[str, torch.Tensor]) -> None:
        vals = {k: float(v.detach()) for k, v in terms.items()}
        if self.initial is None:
            self.initial = vals
        if vals["total"] < self.best_total:
            self.best_total, self.best_terms = vals["total"], vals
            self.best_x = x.detach().clone()
        self.done += 1
        self.stage_evals += 1
        self.bar.update(1)
        self.bar.set_postfix({"loss": f"{vals['total']:.4g}", "c": f"{vals['content']:.3g}",
                              "s": f"{vals['style']:.3g}", "tv": f"{vals['tv']:.3g}",
                              "px": max(self.size)}, refresh=False)
        cfg = self.m.config
        if cfg.save_every and self.done % cfg.save_every == 0 and cfg.save_path:
            self.saved.append(self._save(x))
        self.m.report(self.done, self.total, {**vals, "stage": float(self.stage), "size": float(max(self.size))})

    def moved(self, x: torch.Tensor) -> None:
        decay = self.m.config.ema
        if not decay:
            return
        self.ema_t += 1
        self.ema = x.detach().clone() if self.ema is None else self.ema.mul_(decay).add_(x.detach(), alpha=1 - decay)

    def output(self, x: torch.Tensor, best: bool = False) -> torch.Tensor:
        if self.ema is None:
            return self.best_x.clone() if best and self.best_x is not None else x.detach()
        # the average starts at the stage's first iterate, so it needs no bias correction
        return self.ema.clone()

    def _save(self, x: torch.Tensor) -> Path:
        p = step_path(self.m.config.save_path or "gatys.png", self.done)
        rgb = self.m._space.decode(x.detach())
        return im.save_image(to_pil(rgb.cpu()), p)

    def close(self) -> None:
        self.bar.close()
