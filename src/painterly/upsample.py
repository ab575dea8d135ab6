"""Upsampling a stylised image with the content's own edges restored (numpy + PIL only: light core).

``--stroke-scale K`` makes feed-forward methods stylise at 1/K of the output size, so their strokes come
out K× bigger relative to the picture. Plain interpolation of that result would also blur the content's
edges K×. The fast guided filter (He & Sun 2015, "Fast Guided Filter", arXiv:1505.00996) avoids that:

    on the low-resolution pair (guide I = content luminance, input p = stylised result) fit, per window,
    the linear model p ≈ a·I + b (a = cov(I, p) / (var(I) + eps), b = mean(p) − a·mean(I)); average the
    coefficients over windows, upsample a and b bilinearly, and output a·I_full + b.

Where the stylised image follows the content (its edges) a is large and the full-resolution content edge
is put back sharp; inside painted texture, which does not correlate with the content, a ≈ 0 and the
content's own fine texture is *not* reintroduced — which is what keeps the strokes big. The part of the
small result the filter smooths out (its strokes) is added back as a bicubically upsampled residual.
``eps`` sets the boundary: a content step of contrast c in a window counts as an edge when c²/4 ≫ eps.

Box means are cumulative sums (O(1) per pixel whatever the radius), so no scipy/OpenCV is needed.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from . import image as im

RADIUS = 2          # window radius in low-resolution pixels (5×5): about one stroke of the small result
EPS = 2e-3          # regularisation on [0, 1] intensities: edges of contrast ≳ 0.1 are restored


def box_mean(x: np.ndarray, r: int) -> np.ndarray:
    """Mean over the (2r+1)² window around every pixel of the last two axes; windows are clipped at the
    border and divided by the number of pixels they actually cover (no padding bias at the edges)."""
    out = x.astype(np.float64, copy=False)
    for axis in (-2, -1):
        n = out.shape[axis]
        c = np.cumsum(out, axis=axis)
        c = np.concatenate([np.zeros_like(np.take(c, [0], axis=axis)), c], axis=axis)
        i = np.arange(n)
        hi, lo = np.minimum(i + r + 1, n), np.maximum(i - r, 0)
        shape = [1] * out.ndim
        shape[axis] = n
        out = (np.take(c, hi, axis=axis) - np.take(c, lo, axis=axis)) / (hi - lo).reshape(shape)
    return out


def resize_float(x: np.ndarray, size: tuple[int, int],
                 resample: Image.Resampling = Image.Resampling.BILINEAR) -> np.ndarray:
    """Resize of the last two axes to (height, width), plane by plane through PIL's float mode (exact
    float32 maths, no 8-bit rounding of coefficients or signed residuals)."""
    h, w = size
    flat = x.reshape(-1, *x.shape[-2:]).astype(np.float32, copy=False)
    planes = [np.asarray(Image.fromarray(np.ascontiguousarray(p), "F").resize((w, h), resample)) for p in flat]
    return np.stack(planes).reshape(*x.shape[:-2], h, w)


def guided_upsample(low: np.ndarray, guide: np.ndarray, radius: int = RADIUS, eps: float = EPS) -> np.ndarray:
    """``low`` [1,3,h,w] (stylised at low resolution) → [1,3,H,W] at the size of ``guide`` [1,3,H,W] (the
    content), the content's edges restored by the fast guided filter with a luminance guide."""
    H, W = guide.shape[-2:]
    h, w = low.shape[-2:]
    guide_y = im.rgb_to(guide)[:, :1].astype(np.float32)         # [1,1,H,W], YIQ luminance
    if (h, w) == (H, W):
        return low.copy()
    g = im.area_resize(guide_y, (h, w)).astype(np.float64)      # the guide as the low-res method saw it
    p = low.astype(np.float64)
    mean_g, mean_p = box_mean(g, radius), box_mean(p, radius)
    cov = box_mean(g * p, radius) - mean_g * mean_p
    var = box_mean(g * g, radius) - mean_g * mean_g
    a = cov / (var + eps)
    b = mean_p - a * mean_g
    a, b = box_mean(a, radius), box_mean(b, radius)              # every window containing the pixel votes
    # The filter's window means also smooth the strokes away; what it removed at low resolution (the
    # residual) is added back, upsampled bicubically (Lanczos rings at K = 3), so the painted texture stays
    # as crisp as the method drew it (only bigger), and the result downsampled is close to the method's own.
    residual = (p - (a * g + b)).astype(np.float32)
    a_up = resize_float(a.astype(np.float32), (H, W))
    b_up = resize_float(b.astype(np.float32), (H, W))
    r_up = resize_float(residual, (H, W), Image.Resampling.BICUBIC)
    return np.clip(a_up * guide_y + b_up + r_up, 0.0, 1.0).astype(np.float32)


def reduced_size(size: tuple[int, int], scale: float, minimum: int = 16) -> tuple[int, int]:
    """(width, height) of the picture a method stylises under stroke scale ``scale`` (aspect kept)."""
    w, h = size
    f = max(1.0 / scale, minimum / max(1, min(w, h)))
    return max(1, round(w * min(f, 1.0))), max(1, round(h * min(f, 1.0)))
