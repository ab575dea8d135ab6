"""--stroke-scale: fine-detail energy and coarse edges of ``fast`` at K = 1, 2, 3 (issue 12's check).

    python benchmarks/bench_stroke.py [--size 1024] [--content PHOTO] [--style PAINTING] [--sheet OUT.png]

Defaults: ../shared/data/images/content/tubingen.jpg (1024×768, native at 1024 px, so no upscaling blur
enters the measurement) with .../style/starry_night.jpg. The README's sheet: --size 512 --content
examples/astronaut.jpg --style examples/brick.jpg --sheet docs/stroke-scale.png

Measures, on the output's luminance (Y = 0.299 R + 0.587 G + 0.114 B, [0, 1]):

* fine-detail energy: mean squared 4-neighbour Laplacian. Finer strokes = more of it. The issue asks for
  K=3 ≤ 0.6 × K=1 at 1024 px.
* coarse-edge correlation: Pearson correlation between the gradient magnitude of the output and of the
  content, both blurred first (Gaussian σ = long side / 64, three box passes) — do the picture's big
  shapes (outlines, the cat, the background) stay where the content has them? Printed next to the same
  number for plain bilinear upsampling (no detail restoration), which shows what the guided upsampler buys,
  and a "fine-edge" correlation at σ = long side / 512 where that difference is visible.

Prints the CPU model, times and the numbers; optionally writes the K = 1/2/3 comparison sheet.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

import numpy as np
from PIL import Image

from machine import cpu_model  # noqa: E402  (benchmarks/machine.py)
import painterly
from painterly import image as im


def luma(img: Image.Image) -> np.ndarray:
    a = np.asarray(img.convert("RGB"), np.float64) / 255.0
    return a @ np.array([0.299, 0.587, 0.114])


def laplacian_energy(y: np.ndarray) -> float:
    lap = 4 * y[1:-1, 1:-1] - y[:-2, 1:-1] - y[2:, 1:-1] - y[1:-1, :-2] - y[1:-1, 2:]
    return float(np.mean(lap**2))


def _box(y: np.ndarray, r: int) -> np.ndarray:
    """Mean over (2r+1)² windows, edge-replicated: three passes ≈ a Gaussian of σ² = 3·r(r+1)/3."""
    p = np.pad(y, r, mode="edge")
    c = np.cumsum(np.cumsum(p, 0), 1)
    c = np.pad(c, ((1, 0), (1, 0)))
    k = 2 * r + 1
    return (c[k:, k:] - c[:-k, k:] - c[k:, :-k] + c[:-k, :-k]) / k**2


def blurred(y: np.ndarray, sigma: float) -> np.ndarray:
    r = max(1, round((np.sqrt(4 * sigma**2 + 1) - 1) / 2))  # three passes of radius r: σ² = r(r+1)
    for _ in range(3):
        y = _box(y, r)
    return y


def edge_correlation(out: Image.Image, content: Image.Image, sigma: float) -> float:
    def grad(y: np.ndarray) -> np.ndarray:
        gy, gx = np.gradient(blurred(y, sigma))
        return np.hypot(gx, gy).ravel()

    a, b = grad(luma(out)), grad(luma(content.resize(out.size, Image.Resampling.LANCZOS)))
    return float(np.corrcoef(a, b)[0, 1])


def main() -> None:
    root = Path(__file__).resolve().parents[1]
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=1024)
    shared = root.parent / "shared" / "data" / "images"
    ap.add_argument("--content", default=str(shared / "content" / "tubingen.jpg"))
    ap.add_argument("--style", default=str(shared / "style" / "starry_night.jpg"))
    ap.add_argument("--scales", type=float, nargs="+", default=[1, 2, 3])
    ap.add_argument("--sheet", type=Path, default=None)
    args = ap.parse_args()

    print(f"CPU: {cpu_model()} ({os.cpu_count()} logical cores); Python {platform.python_version()}; size {args.size}; "
          f"content {Path(args.content).name}; style {Path(args.style).name}; method fast")
    content = im.resize_long(im.load_image(args.content).rgb, args.size)
    results: dict[float, Image.Image] = {}
    for k in args.scales:
        t0 = time.perf_counter()
        results[k] = painterly.stylize(content, args.style, method="fast", size=args.size, stroke_scale=k,
                                       progress=False).convert("RGB")
        results[k].load()
        print(f"K={k:g}: {time.perf_counter() - t0:.2f} s", flush=True)
    base = laplacian_energy(luma(results[args.scales[0]]))
    coarse, fine = args.size / 64, args.size / 512
    print(f"{'K':>4} {'laplacian':>10} {'ratio':>6} {'coarse r':>9} {'coarse r (bilinear)':>20} "
          f"{'fine r':>7} {'fine r (bilinear)':>18}")
    for k, img in results.items():
        e = laplacian_energy(luma(img))
        if k > 1:
            # the same small result, upsampled without detail restoration (what the guided filter improves on)
            w, h = img.size
            small = painterly.stylize(content, args.style, method="fast", size=round(args.size / k),
                                      progress=False).convert("RGB")
            plain = small.resize((w, h), Image.Resampling.BILINEAR)
            pc, pf = edge_correlation(plain, content, coarse), edge_correlation(plain, content, fine)
        else:
            pc = pf = float("nan")
        print(f"{k:>4g} {e:>10.5f} {e / base:>6.3f} {edge_correlation(img, content, coarse):>9.3f} {pc:>20.3f} "
              f"{edge_correlation(img, content, fine):>7.3f} {pf:>18.3f}")
    if args.sheet is not None:
        # top row: whole pictures; bottom row: a 1:1 crop of the centre, where the stroke size is visible
        views = {"content": content.convert("RGB"), **{f"--stroke-scale {k:g}": r for k, r in results.items()}}

        def crop(img: Image.Image, side: int = 400) -> Image.Image:
            left, top = (img.width - side) // 2, (img.height - side) // 2
            return img.crop((left, top, left + side, top + side))

        rows = [list(views.values()), [crop(v) for v in views.values()]]
        args.sheet.parent.mkdir(parents=True, exist_ok=True)
        im.save_image(im.contact_sheet(rows, list(views), ["whole", "1:1 crop"], cell=400), args.sheet)
        print(f"sheet: {args.sheet}")


if __name__ == "__main__":
    main()
