"""AdaIN / SANet training throughput (iterations per second) with the recipe's shapes.

    PYTHONPATH=src python benchmarks/bench_train_ff.py [--content-dir D --style-dir D] [--steps 3]

Random weights (a random vgg_normalised in the published layout and the default-initialised decoder /
transformer): throughput does not depend on the weights. Content/style default to ../shared/data/images
(9 photos, 8 paintings), loaded as in training: smaller side 512, random 256² crop. Each step is the full
optimisation step of painterly.methods.fftrain.FFTask (forward, losses, backward, Adam, lr schedule); the first
step is a warm-up and not timed; data loading happens in the main process but is timed separately.
"""

from __future__ import annotations

import machine  # noqa: E402  (benchmarks/machine.py: CPU/GPU model on every result)

import argparse
import dataclasses
import tempfile
import time
from pathlib import Path

import torch

from painterly.nn.vgg import normalised_layout
from painterly.train.data import InfiniteSampler
from painterly.methods.fftrain import FFTask, datasets, recipe
from painterly.train.loop import TrainContext

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "images"  # ../shared beside the checkout


def random_vgg(path: Path) -> Path:
    g = torch.Generator().manual_seed(0)
    sd = {k: torch.randn(s, generator=g) * ((2.0 / (s[1] * s[2] * s[3])) ** 0.5 if len(s) > 1 else 0.01)
          for k, s in normalised_layout().items()}
    sd["0.weight"], sd["0.bias"] = torch.eye(3).reshape(3, 3, 1, 1), torch.zeros(3)
    torch.save(sd, path)
    return path


def bench(method: str, content: Path, style: Path, vgg: Path, steps: int, batch: int | None) -> dict[str, float]:
    cfg, loop = recipe(method)
    cfg = dataclasses.replace(cfg, content_dir=str(content), style_dir=str(style), vgg=str(vgg), export_every=0)
    bs = batch or loop["batch_size"]
    data = datasets(cfg)
    task = FFTask(cfg, data)
    torch.manual_seed(0)
    task.setup(TrainContext(device=torch.device("cpu")))
    stream = iter(InfiniteSampler(len(data), seed=0))

    def next_batch() -> tuple[torch.Tensor, torch.Tensor]:
        items = [data[next(stream)] for _ in range(bs)]
        return torch.stack([c for c, _ in items]), torch.stack([s for _, s in items])

    task.step(next_batch(), 0)  # warm-up
    load = compute = 0.0
    for i in range(steps):
        t0 = time.perf_counter()
        b = next_batch()
        t1 = time.perf_counter()
        task.step(b, i + 1)
        t2 = time.perf_counter()
        load, compute = load + t1 - t0, compute + t2 - t1
    return {"batch": bs, "s_per_it": compute / steps, "it_per_s": steps / compute, "load_s_per_it": load / steps}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--content-dir", type=Path, default=SHARED / "content")
    ap.add_argument("--style-dir", type=Path, default=SHARED / "style")
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--batch", type=int, default=0, help="0 = the recipe's (adain 8, sanet 5)")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--methods", default="adain,sanet")
    a = ap.parse_args()
    machine.header()
    if a.threads:
        torch.set_num_threads(a.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, 256² crops")
    with tempfile.TemporaryDirectory() as tmp:
        vgg = random_vgg(Path(tmp) / "vgg_normalised.pth")
        for m in a.methods.split(","):
            r = bench(m, a.content_dir, a.style_dir, vgg, a.steps, a.batch or None)
            print(f"{m:6s} batch {r['batch']}: {r['s_per_it']:.2f} s/it = {r['it_per_s']:.3f} it/s "
                  f"(data loading {r['load_s_per_it']:.2f} s/it, not included)")


if __name__ == "__main__":
    main()
