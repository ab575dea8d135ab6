"""One short GPU check: does painterly work on CUDA, how fast, how much memory, and does CUDA agree with CPU.

On a CUDA machine (target: well under 8 minutes on one GPU) it prints one table:

- fast (onnxruntime; its CUDA provider when installed, else CPU) at 512² and 1024²
- gatys coarse-to-fine at 1024 px and 2048 px, a few L-BFGS steps per stage, random Caffe-layout VGG-19
- adain and sanet at 512², 1024², 2048², and frames/s at 512² with the style prepared once (a video's case)
- pix2pix training it/s at 256², batch 1 and 16 (U-Net 256 + 70×70 PatchGAN, the paper's setting)
- peak GPU memory of each row (torch.cuda.max_memory_allocated, reset before the row)
- CUDA vs CPU on a small input: max |diff| of the outputs (images in [0, 1]) per method

Without CUDA (or with ``--smoke``) the same rows run at tiny sizes on the CPU, so CI runs it and it never
rots (tests/test_device_check.py). All weights are random, in the published layouts (tests/ffutil.py), so
nothing is downloaded. Every row is timed after one warm-up call; a row that fails prints its error and
the others go on; rows past ``--budget`` seconds are skipped rather than overrunning a lent machine.

    python benchmarks/device_check.py            # CUDA if present, else the smoke sizes on CPU
    python benchmarks/device_check.py --smoke    # tiny sizes, CPU (CI)
    python benchmarks/device_check.py --json out.json
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "tests")]

from machine import cpu_model  # noqa: E402  (benchmarks/machine.py)
from painterly import api  # noqa: E402
from painterly import image as im  # noqa: E402


@dataclass
class Sizes:
    """What each row runs at; FULL on a GPU, SMOKE on the CPU (same code, tiny inputs)."""

    fast: tuple[int, ...]
    gatys: tuple[int, ...]
    gatys_start: int
    gatys_steps_per_stage: int
    ff: tuple[int, ...]
    fps: int
    fps_frames: int
    p2p_size: int
    p2p_batches: tuple[int, ...]
    p2p_ngf: int
    p2p_iters: int
    compare: int
    repeats: int


FULL = Sizes(fast=(512, 1024), gatys=(1024, 2048), gatys_start=256, gatys_steps_per_stage=5,
             ff=(512, 1024, 2048), fps=512, fps_frames=30, p2p_size=256, p2p_batches=(1, 16), p2p_ngf=64,
             p2p_iters=10, compare=128, repeats=3)
SMOKE = Sizes(fast=(64,), gatys=(64,), gatys_start=32, gatys_steps_per_stage=2, ff=(64, 96), fps=64,
              fps_frames=3, p2p_size=256, p2p_batches=(1, 2), p2p_ngf=8, p2p_iters=1, compare=48, repeats=1)


@dataclass
class Row:
    name: str
    size: str
    seconds: float | None = None   # per call (median over repeats)
    rate: str = ""                 # frames/s or it/s where that is the natural unit
    peak_mib: float | None = None  # torch.cuda.max_memory_allocated during the row
    note: str = ""


def gpu_name() -> str:
    return torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"


def sync() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def measure(fn: Callable[[], Any], repeats: int) -> tuple[float, float | None, Any]:
    """(median seconds after one warm-up, peak GPU MiB over the timed calls or None on CPU, last output)."""
    out = fn()
    sync()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    ts = []
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        sync()
        ts.append(time.perf_counter() - t)
    peak = torch.cuda.max_memory_allocated() / 2**20 if torch.cuda.is_available() else None
    return float(np.median(ts)), peak, out


def noise(path: Path, side: int, seed: int) -> Path:
    """A smooth random image (noise would make every method's output noise too)."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
    Image.fromarray(small).resize((side, side), Image.Resampling.BICUBIC).save(path)
    return path


def caffe_vgg(path: Path) -> Path:
    """Random VGG-19 in the Caffe layout (torchvision key names, first layer scaled for 0-255 BGR input)."""
    from painterly.nn.vgg import torchvision_layout

    g = torch.Generator().manual_seed(0)
    sd = {}
    for k, shape in torchvision_layout().items():
        fan_in = int(np.prod(shape[1:])) if len(shape) > 1 else 1
        sd[k] = torch.randn(shape, generator=g) * ((2.0 / fan_in) ** 0.5 if len(shape) > 1 else 0.01)
    sd["features.0.weight"] = sd["features.0.weight"] / 255.0
    torch.save(sd, path)
    return path


class Check:
    def __init__(self, sizes: Sizes, device: str, work: Path, budget: float) -> None:
        import ffutil

        self.s, self.device, self.work = sizes, device, work
        self.deadline = time.monotonic() + budget
        self.rows: list[Row] = []
        w = ffutil.Weights(work)
        self.opts: dict[str, dict[str, Any]] = {
            "fast": {"strength": 1.0},
            "gatys": {"weights": str(caffe_vgg(work / "vgg-caffe.pth")), "vgg": "caffe"},
            "adain": w.adain_options(),
            "sanet": w.sanet_options(),
        }
        self.style = noise(work / "style.png", 512 if sizes is FULL else 64, 1)

    def row(self, name: str, size: str, fn: Callable[[], Row]) -> None:
        if time.monotonic() > self.deadline:
            self.rows.append(Row(name, size, note="skipped (time budget)"))
        else:
            try:
                self.rows.append(fn())
            except Exception as exc:  # noqa: BLE001 (one failing row must not hide the others)
                self.rows.append(Row(name, size, note=f"FAILED {type(exc).__name__}: {str(exc)[:80]}"))
            finally:
                if torch.cuda.is_available():
                    torch.cuda.empty_cache()
        r = self.rows[-1]
        print(fmt(r), flush=True)

    def stylize(self, method: str, side: int, device: str, **extra: Any) -> Callable[[], Image.Image]:
        content = im.load_image(noise(self.work / f"c{side}.png", side, 2))
        pipe = api.pipeline(method, str(self.style) if method != "fast" else "3", None, size=side,
                            device=device, progress=False, allow_large=True, **{**self.opts[method], **extra})
        return lambda: pipe(content).image

    def run(self) -> None:
        s, dev = self.s, self.device
        for side in s.fast:
            def fast_row(side: int = side) -> Row:
                # auto: onnxruntime's CUDA provider where installed (onnxruntime-gpu), else its CPU one
                fdev = "auto" if dev == "cuda" else dev
                fn = self.stylize("fast", side, fdev)
                sec, peak, _ = measure(fn, s.repeats)
                from painterly.methods import fast

                prov = fast.providers(fdev)[0].replace("ExecutionProvider", "")
                return Row("fast", f"{side}²", sec, f"{1 / sec:.1f} img/s", peak, f"onnxruntime {prov}")
            self.row("fast", f"{side}²", fast_row)
        for side in s.gatys:
            def gatys_row(side: int = side) -> Row:
                from painterly.methods.gatys import stage_sizes

                n = len(stage_sizes(side, True, s.gatys_start))
                fn = self.stylize("gatys", side, dev, steps=n * s.gatys_steps_per_stage, multiscale=True,
                                  multiscale_start=s.gatys_start, stage_decay=1.0)
                sec, peak, _ = measure(fn, 1)
                total = n * s.gatys_steps_per_stage
                return Row("gatys", f"{side} px", sec, f"{total / sec:.2f} steps/s", peak,
                           f"coarse-to-fine, {n} stages × {s.gatys_steps_per_stage} L-BFGS steps")
            self.row("gatys", f"{side} px", gatys_row)
        for method in ("adain", "sanet"):
            for side in s.ff:
                def ff_row(method: str = method, side: int = side) -> Row:
                    sec, peak, _ = measure(self.stylize(method, side, dev, style_size=side), s.repeats)
                    return Row(method, f"{side}²", sec, f"{1 / sec:.2f} img/s", peak, "style at content size")
                self.row(method, f"{side}²", ff_row)

            def fps_row(method: str = method) -> Row:
                fn = self.stylize(method, s.fps, dev)  # one pipeline: the style is prepared once
                fn()
                sync()
                t = time.perf_counter()
                for _ in range(s.fps_frames):
                    fn()
                sync()
                dt = (time.perf_counter() - t) / s.fps_frames
                peak = torch.cuda.max_memory_allocated() / 2**20 if torch.cuda.is_available() else None
                return Row(method, f"{s.fps}² video", dt, f"{1 / dt:.1f} frames/s", peak,
                           f"{s.fps_frames} frames, style prepared once")
            self.row(method, f"{s.fps}² video", fps_row)
        for bs in s.p2p_batches:
            self.row("pix2pix train", f"{s.p2p_size}² b{bs}", lambda bs=bs: self.pix2pix_row(bs))
        self.compare_rows()

    def pix2pix_row(self, bs: int) -> Row:
        from painterly.methods.pix2pix import GeneratorOptions, Pix2PixConfig, make_task
        from painterly.train.loop import TrainContext

        s = self.s
        g = GeneratorOptions(netG="unet_256", ngf=s.p2p_ngf).to_dict()
        d = {"netD": "basic", "n_layers": 3, "norm": "batch", "ndf": s.p2p_ngf, "input_nc": 6}
        torch.manual_seed(0)
        task = make_task(Pix2PixConfig(generator=g, discriminator=d, crop_size=s.p2p_size))
        device = torch.device("cuda" if torch.cuda.is_available() and self.device != "cpu" else "cpu")
        task.setup(TrainContext(device=device))
        A = torch.rand(bs, 3, s.p2p_size, s.p2p_size, device=device) * 2 - 1
        B = torch.rand(bs, 3, s.p2p_size, s.p2p_size, device=device) * 2 - 1
        it = [0]

        def step() -> None:
            task.step((A, B), it[0])
            it[0] += 1

        def steps() -> None:
            for _ in range(s.p2p_iters):
                step()

        sec, peak, _ = measure(steps, 1)
        per = sec / s.p2p_iters
        return Row("pix2pix train", f"{s.p2p_size}² b{bs}", per, f"{1 / per:.2f} it/s", peak,
                   f"U-Net 256 ngf {s.p2p_ngf}, PatchGAN; {bs / per:.1f} img/s")

    def compare_rows(self) -> None:
        side = self.s.compare
        cuda = torch.cuda.is_available() and self.device != "cpu"
        for method, extra in (("fast", {}), ("adain", {}), ("sanet", {}),
                              ("gatys", {"steps": 3, "optimizer": "adam", "multiscale": False, "seed": 0})):
            def cmp_row(method: str = method, extra: dict[str, Any] = extra) -> Row:
                other = "cuda" if cuda else "cpu"  # without CUDA: cpu vs cpu, so the code path never rots
                if method == "fast" and cuda:
                    from painterly.methods import fast

                    if fast.providers("auto")[0] != "CUDAExecutionProvider":
                        return Row("fast cuda vs cpu", f"{side}²", note="n/a (onnxruntime has no CUDA provider)")
                a = np.asarray(self.stylize(method, side, "cpu", **extra)(), np.float32) / 255
                b = np.asarray(self.stylize(method, side, other, **extra)(), np.float32) / 255
                return Row(f"{method} cuda vs cpu", f"{side}²", note=f"max |diff| {np.abs(a - b).max():.4f} "
                           f"(mean {np.abs(a - b).mean():.5f}; 1/255 = 0.0039)"
                           + ("" if cuda else "  [no CUDA: cpu vs cpu]"))
            self.row(f"{method} cuda vs cpu", f"{side}²", cmp_row)


HEADER = f"{'row':<20} {'size':<14} {'s/call':>9} {'rate':<28} {'peak GPU MiB':>12}  note"


def fmt(r: Row) -> str:
    sec = f"{r.seconds:.4f}" if r.seconds is not None else "-"
    peak = f"{r.peak_mib:.0f}" if r.peak_mib is not None else "-"
    return f"{r.name:<20} {r.size:<14} {sec:>9} {r.rate:<28} {peak:>12}  {r.note}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--smoke", action="store_true", help="tiny sizes on the CPU (CI)")
    ap.add_argument("--budget", type=float, default=420.0, help="skip rows once this many seconds have passed")
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = torch's default)")
    ap.add_argument("--json", type=Path, help="also write the rows here")
    a = ap.parse_args(argv)
    if a.threads:
        torch.set_num_threads(a.threads)
    cuda = torch.cuda.is_available() and not a.smoke
    sizes, device = (FULL, "cuda") if cuda else (SMOKE, "cpu")
    import onnxruntime as ort

    print(f"CPU: {cpu_model()} ({torch.get_num_threads()} torch threads)")
    print(f"GPU: {gpu_name()}" + ("" if cuda else "  (running the smoke sizes on the CPU)"))
    print(f"torch {torch.__version__} (CUDA {torch.version.cuda}), onnxruntime {ort.__version__} "
          f"providers {','.join(p.replace('ExecutionProvider', '') for p in ort.get_available_providers())}")
    print(HEADER, flush=True)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="painterly-devcheck-") as tmp:
        chk = Check(sizes, device, Path(tmp), a.budget)
        chk.run()
    print(f"total {time.perf_counter() - t0:.1f} s")
    if a.json:
        a.json.write_text(json.dumps({"cpu": cpu_model(), "gpu": gpu_name(), "smoke": not cuda,
                                      "rows": [asdict(r) for r in chk.rows]}, indent=2))
    return 1 if any(r.note.startswith("FAILED") for r in chk.rows) else 0


if __name__ == "__main__":
    sys.exit(main())
