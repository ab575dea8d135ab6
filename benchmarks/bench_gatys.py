"""painterly gatys (neural-style preset) vs the PyPI package neural-style 0.5.7 (neural-style-pt).

Same random Caffe-layout VGG-19 checkpoint, same content/style pixels, same size, same number of L-BFGS
function evaluations, content init, one process per run (so peak RSS is per run), torch threads fixed.

The peer is installed OUTSIDE the project venv, into benchmarks/_work/peer (gitignored):

    /work/venv/bin/pip install --no-deps --target benchmarks/_work/peer neural-style==0.5.7 torchvision==0.29.1

and runs on the project venv's torch (2.14.1) with that folder on sys.path. Usage:

    python benchmarks/bench_gatys.py --sizes 256 512 --steps 30 15 --threads 2

Variants: ``peer`` is neural-style unmodified (its preprocessing scales pixels by 256); ``peer255`` swaps in
×255 pre/deprocessing, the only place its maths differs from ours, so losses and outputs can be compared
number for number.
"""

from __future__ import annotations

import machine  # noqa: E402  (benchmarks/machine.py: CPU/GPU model on every result)

import argparse
import contextlib
import io
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "benchmarks" / "_work" / "bench"
PEER = ROOT / "benchmarks" / "_work" / "peer"
DATA = ROOT.parent / "shared" / "data" / "images"
if not DATA.is_dir():
    DATA = Path("/work/shared/data/images")
CONTENT, STYLE = DATA / "content" / "tubingen.jpg", DATA / "style" / "starry_night.jpg"


def prepare(sizes: list[int]) -> None:
    """Random Caffe-layout VGG-19 (He init on the 0-255 input, like the real net's scale) + resized images."""
    import torch

    sys.path.insert(0, str(ROOT / "src"))
    from painterly import image as im
    from painterly.nn.convert import to_tensor
    from painterly.nn.vgg import torchvision_layout

    WORK.mkdir(parents=True, exist_ok=True)
    for n in sorted({*sizes, 256}):
        for src, tag in ((CONTENT, "content"), (STYLE, "style")):
            dst = WORK / f"{tag}{n}.png"
            if not dst.exists():
                im.resize_long(im.load_image(src).rgb, n).save(dst)
    wfile = WORK / "vgg19-random-caffe.pth"   # "vgg19" in the name: neural-style picks its VGG-19 from it
    if not wfile.exists():
        # He-initialised convs, then each rescaled so its ReLU output has RMS 20 on the content image: random
        # weights with the activation scale of the real Caffe net (so the loss terms keep their real balance;
        # with tiny activations the TV term swamps everything and L-BFGS's curvature pairs vanish).
        from painterly.nn.vgg import VGG19

        g = torch.Generator().manual_seed(0)
        sd = {}
        for k, shape in torchvision_layout().items():
            if len(shape) > 1:
                fan_in = shape[1] * shape[2] * shape[3]
                sd[k] = torch.randn(shape, generator=g) * (2.0 / fan_in) ** 0.5
            else:
                sd[k] = torch.randn(shape, generator=g) * 0.1
        vgg = VGG19("caffe", "max", "relu5_4").load_published(sd)
        h = vgg.preprocess(to_tensor(im.load_image(WORK / "content256.png").rgb))
        with torch.no_grad():
            for i, layer in enumerate(vgg.layers):
                if isinstance(layer, torch.nn.Conv2d):
                    rms = torch.relu(layer(h)).pow(2).mean().sqrt()
                    layer.weight.mul_(20.0 / rms)
                    layer.bias.mul_(20.0 / rms)
                h = layer(h)
        torch.save(vgg.published_state_dict(), wfile)


def child(impl: str, size: int, steps: int, threads: int, out: Path) -> None:
    import torch

    torch.set_num_threads(threads)
    base_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024   # after `import torch`
    content, style = WORK / f"content{size}.png", WORK / f"style{size}.png"
    weights = WORK / "vgg19-random-caffe.pth"
    img_out = WORK / f"out-{impl}-{size}.png"
    stamps: list[tuple[float, float, float]] = []   # (wall, process CPU time, loss) per evaluation
    t0 = time.perf_counter()
    if impl == "ours":
        sys.path.insert(0, str(ROOT / "src"))
        from painterly import api

        r = api.stylize_report(content, style, "gatys", weights=str(weights), size=0, steps=steps,
                               progress=False, device="cpu",
                               callback=lambda s, n, info: stamps.append((time.perf_counter(), time.process_time(),
                                                                           info["total"])))
        r.image.save(img_out)
        extra = {"final": r.info["losses"]["final"]}
    else:
        sys.path.insert(0, str(PEER))
        sys.argv = ["neural-style", "-content_image", str(content), "-style_image", str(style),
                    "-image_size", str(size), "-num_iterations", str(steps), "-gpu", "c", "-init", "image",
                    "-model_file", str(weights), "-disable_check", "-print_iter", "0", "-save_iter", "0",
                    "-seed", "0", "-output_image", str(img_out)]
        import neural_style.neural_style as ns

        base = ns.optim.LBFGS

        class Timed(base):  # type: ignore[misc,valid-type]
            def step(self, closure):  # record every function evaluation, like our callback
                def wrapped():
                    loss = closure()
                    stamps.append((time.perf_counter(), time.process_time(), float(loss.detach())))
                    return loss
                return super().step(wrapped)

        ns.optim.LBFGS = Timed
        if impl == "peer255":
            import torchvision.transforms as T
            from PIL import Image

            def preprocess(name, image_size):   # neural-style's own, with 255 instead of 256
                image = Image.open(name).convert("RGB")
                if type(image_size) is not tuple:
                    image_size = tuple(int((float(image_size) / max(image.size)) * x) for x in (image.height, image.width))
                x = T.ToTensor()(T.Resize(image_size)(image)) * 255
                return T.Normalize(mean=[103.939, 116.779, 123.68], std=[1, 1, 1])(x[[2, 1, 0]]).unsqueeze(0)

            def deprocess(t):
                x = T.Normalize(mean=[-103.939, -116.779, -123.68], std=[1, 1, 1])(t.squeeze(0).cpu())[[2, 1, 0]] / 255
                return T.ToPILImage()(x.clamp_(0, 1))

            ns.preprocess, ns.deprocess = preprocess, deprocess
        with contextlib.redirect_stdout(io.StringIO()):
            ns.main()
        extra = {}
    wall = time.perf_counter() - t0
    per_step = (stamps[-1][0] - stamps[0][0]) / (len(stamps) - 1)
    cpu_per_step = (stamps[-1][1] - stamps[0][1]) / (len(stamps) - 1)
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out.write_text(json.dumps({"impl": impl, "size": size, "evaluations": len(stamps), "per_step_s": per_step, "cpu_per_step_s": cpu_per_step,
                               "wall_s": wall, "peak_rss_mb": rss_mb,
                               "rss_over_torch_mb": rss_mb - base_rss_mb, "loss_first": stamps[0][2],
                               "loss_last": stamps[-1][2], "image": str(img_out), **extra}))


def diff(a: str, b: str) -> tuple[float, int]:
    import numpy as np
    from PIL import Image

    x = np.asarray(Image.open(a).convert("RGB"), np.int16)
    y = np.asarray(Image.open(b).convert("RGB"), np.int16)
    if x.shape != y.shape:
        return float("nan"), -1
    d = np.abs(x - y)
    return float(d.mean()), int(d.max())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    ap.add_argument("--steps", type=int, nargs="+", default=[30, 15])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=1, help="alternate peer/ours this many times per size")
    ap.add_argument("--child", nargs=3, metavar=("IMPL", "SIZE", "STEPS"))
    ap.add_argument("--out", type=Path)
    a = ap.parse_args()
    if not getattr(a, 'child', None):  # children report to the parent, which prints it
        machine.header()
    if a.child:
        child(a.child[0], int(a.child[1]), int(a.child[2]), a.threads, a.out)
        return
    if not (PEER / "neural_style").is_dir():
        sys.exit(f"neural-style is not installed in {PEER}; see this script's docstring.")
    prepare(a.sizes)
    rows = []
    for size, steps in zip(a.sizes, a.steps, strict=True):
        impls = ["peer", "ours"] * a.repeat + (["peer255"] if size == a.sizes[0] else [])
        for k, impl in enumerate(impls):
            out = WORK / f"{impl}-{size}-{k}.json"
            env = {**os.environ, "OMP_NUM_THREADS": str(a.threads)}
            subprocess.run([sys.executable, __file__, "--child", impl, str(size), str(steps), "--threads",
                            str(a.threads), "--out", str(out)], check=True, env=env)
            rows.append(json.loads(out.read_text()))
            r = rows[-1]
            print(f"{impl:8s} {size:4d}px  {r['evaluations']:3d} evals  {r['per_step_s']:.3f} s/step wall  "
                  f"{r['cpu_per_step_s']:.3f} s/step CPU  peak RSS {r['peak_rss_mb']:.0f} MB "
                  f"({r['rss_over_torch_mb']:.0f} over import torch)  loss {r['loss_first']:.6g} -> "
                  f"{r['loss_last']:.6g}", flush=True)
    print("\nratios (ours / peer; best of the repeats for time):")
    for size in a.sizes:
        o = [r for r in rows if r["impl"] == "ours" and r["size"] == size]
        p = [r for r in rows if r["impl"] == "peer" and r["size"] == size]

        def best(rs: list[dict], key: str) -> float:
            return min(r[key] for r in rs)
        print(f"  {size}px: wall time/step {best(o, 'per_step_s') / best(p, 'per_step_s'):.2f}x, "
              f"CPU time/step {best(o, 'cpu_per_step_s') / best(p, 'cpu_per_step_s'):.2f}x, "
              f"peak RSS {o[0]['peak_rss_mb'] / p[0]['peak_rss_mb']:.2f}x, "
              f"RSS over import torch {o[0]['rss_over_torch_mb'] / p[0]['rss_over_torch_mb']:.2f}x")
    for r in rows:
        if r["impl"] == "peer255":
            o = next(x for x in rows if x["impl"] == "ours" and x["size"] == r["size"])
            m, mx = diff(o["image"], r["image"])
            print(f"  same maths ({r['size']}px): first loss ours {o['loss_first']:.8g} vs peer255 "
                  f"{r['loss_first']:.8g} (rel {abs(o['loss_first'] / r['loss_first'] - 1):.1e}); last "
                  f"{o['loss_last']:.8g} vs {r['loss_last']:.8g}; output |diff| mean {m:.3f} max {mx} levels")
    (WORK / "results.json").write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
