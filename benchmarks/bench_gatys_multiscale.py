"""Time-to-quality of coarse-to-fine vs single-scale Gatys (neural-style preset, L-BFGS).

Single-scale runs N function evaluations at the full size; its final loss is the bar. Coarse-to-fine then
runs with the same step budget split over stages (halving the size down to --start) and we record the
time at which its full-size loss first gets to the bar. The loss is the same objective at the same size
in both runs (content features and style Grams at full size), so the numbers are comparable.

Uses the calibrated random Caffe VGG and images prepared by bench_gatys.py (run that first):

    python benchmarks/bench_gatys_multiscale.py --size 512 --steps 60 --start 128 --threads 2
"""

from __future__ import annotations

import machine  # noqa: E402  (benchmarks/machine.py: CPU/GPU model on every result)

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "benchmarks" / "_work" / "bench"


def run(size: int, steps: int, multiscale: bool, start: int) -> dict:
    from painterly import api

    trace: list[tuple[float, float, int]] = []
    t0 = time.perf_counter()
    r = api.stylize_report(WORK / f"content{size}.png", WORK / f"style{size}.png", "gatys",
                           weights=str(WORK / "vgg19-random-caffe.pth"), size=0, steps=steps, progress=False,
                           device="cpu", multiscale=multiscale, multiscale_start=start,
                           callback=lambda s, n, info: trace.append((time.perf_counter() - t0, info["total"],
                                                                     int(info["stage"]))))
    return {"seconds": time.perf_counter() - t0, "final": r.info["losses"]["final"]["total"],
            "stages": r.info["stages"], "trace": trace}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--start", type=int, default=128)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    machine.header()
    import torch

    torch.set_num_threads(a.threads)
    sys.path.insert(0, str(ROOT / "src"))
    single = run(a.size, a.steps, False, a.start)
    bar = single["final"]
    print(f"single-scale {a.size}px, {a.steps} evals: {single['seconds']:.1f} s, final loss {bar:.6g}", flush=True)
    multi = run(a.size, a.steps, True, a.start)
    last = max(s for _, _, s in multi["trace"])
    reach = next((t for t, loss, s in multi["trace"] if s == last and loss <= bar), None)
    print(f"coarse-to-fine {[st['size'] for st in multi['stages']]} steps {[st['steps'] for st in multi['stages']]}: "
          f"{multi['seconds']:.1f} s, final loss {multi['final']:.6g}; reached the single-scale loss "
          + (f"after {reach:.1f} s ({single['seconds'] / reach:.1f}x faster)" if reach else "never"))
    (WORK / f"multiscale-{a.size}.json").write_text(json.dumps({"single": single, "multi": multi}, indent=1))


if __name__ == "__main__":
    main()
