"""pix2pix training speed and memory vs the reference junyanz/pytorch-CycleGAN-and-pix2pix, on CPU.

Same architecture (unet_256 + basic 70x70 PatchGAN, batch norm, ngf/ndf 64, dropout), same batch (1),
same losses and optimiser settings, the same fixed random 256² input pair for both, so data loading is
excluded from both. Each implementation runs in its own subprocess (peak RSS = that process's
ru_maxrss) and the two alternate ``--rounds`` times; the best round of each is reported.

Also checks that the same weights give the same generator forward (eval mode, max-abs ≤ 1e-5) and the
same train-mode (batch statistics + dropout) output with the same seed.

The reference files are read into a local folder (never committed), see benchmarks/_work/ref/README.txt:

    python benchmarks/bench_pix2pix.py --ref benchmarks/_work/ref --iters 8 --rounds 2 --threads 1
"""

from __future__ import annotations

import machine  # noqa: E402  (benchmarks/machine.py: CPU/GPU model on every result)

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parents[1]


def ref_opt() -> SimpleNamespace:
    # the reference's train options for pix2pix (pix2pix_model.modify_commandline_options + base options)
    return SimpleNamespace(gpu_ids=[], isTrain=True, checkpoints_dir="/tmp", name="bench",
                           preprocess="resize_and_crop", input_nc=3, output_nc=3, ngf=64, ndf=64,
                           netG="unet_256", netD="basic", n_layers_D=3, norm="batch", no_dropout=False,
                           init_type="normal", init_gain=0.02, pool_size=0, gan_mode="vanilla", lr=2e-4,
                           beta1=0.5, lambda_L1=100.0, direction="AtoB")


def data(size: int) -> tuple[object, object]:
    import torch

    g = torch.Generator().manual_seed(0)
    return torch.rand(1, 3, size, size, generator=g) * 2 - 1, torch.rand(1, 3, size, size, generator=g) * 2 - 1


def child(impl: str, ref: str, size: int, iters: int, warmup: int, threads: int) -> dict[str, float]:
    import torch

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    A, B = data(size)
    if impl == "ref":
        sys.path.insert(0, ref)
        from models.pix2pix_model import Pix2PixModel  # type: ignore[import-not-found]

        model = Pix2PixModel(ref_opt())
        batch = {"A": A, "B": B, "A_paths": ["a"], "B_paths": ["b"]}

        def step(it: int) -> None:
            model.set_input(batch)
            model.optimize_parameters()
    else:
        sys.path.insert(0, str(ROOT / "src"))
        from painterly.methods import pix2pix as p2p
        from painterly.train.loop import TrainContext

        task = p2p.make_task(p2p.Pix2PixConfig())
        task.setup(TrainContext(device=torch.device("cpu")))

        def step(it: int) -> None:
            task.step((A, B), it)

    for i in range(warmup):
        step(i)
    t = time.perf_counter()
    for i in range(iters):
        step(warmup + i)
    dt = time.perf_counter() - t
    return {"it_s": iters / dt, "s_per_it": dt / iters,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def parity(ref: str, size: int) -> dict[str, float]:
    """Same weights in both generators → same output (eval, and train mode with the same seed)."""
    import torch

    sys.path.insert(0, ref)
    sys.path.insert(0, str(ROOT / "src"))
    from models import networks  # type: ignore[import-not-found]

    from painterly.methods import pix2pix as p2p

    torch.manual_seed(1)
    Gr = networks.define_G(3, 3, 64, "unet_256", "batch", True, "normal", 0.02, [])
    # give the BN running stats non-trivial values so eval mode is a real test
    with torch.no_grad():
        for m in Gr.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 1.5)
    Go = p2p.build_generator(p2p.GeneratorOptions(netG="unet_256"), init=False)
    Go.load_state_dict(Gr.state_dict(), strict=True)
    A, _ = data(size)
    out = {}
    with torch.no_grad():
        Gr.eval()
        Go.eval()
        out["eval_max_abs"] = float((Gr(A) - Go(A)).abs().max())
        Gr.train()
        p2p.set_mode(Go, eval_mode=False)
        torch.manual_seed(7)
        yr = Gr(A)
        torch.manual_seed(7)
        yo = Go(A)
        out["train_mode_max_abs"] = float((yr - yo).abs().max())
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ref", default=str(ROOT / "benchmarks" / "_work" / "ref"),
                    help="folder with the reference's models/ and util/")
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--iters", type=int, default=8)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--child", choices=["ours", "ref"], help=argparse.SUPPRESS)
    a = ap.parse_args()
    if not getattr(a, 'child', None):  # children report to the parent, which prints it
        machine.header()
    if a.child:
        print(json.dumps(child(a.child, a.ref, a.size, a.iters, a.warmup, a.threads)))
        return
    if not (Path(a.ref) / "models" / "pix2pix_model.py").exists():
        sys.exit(f"reference files not found under {a.ref} (see benchmarks/_work/ref/README.txt)")
    import torch

    torch.set_num_threads(a.threads)
    par = parity(a.ref, a.size)
    print(json.dumps({"parity": par}), flush=True)
    runs: dict[str, list[dict[str, float]]] = {"ours": [], "ref": []}
    env = dict(os.environ, OMP_NUM_THREADS=str(a.threads))
    for r in range(a.rounds):
        for impl in ("ref", "ours") if r % 2 == 0 else ("ours", "ref"):
            cmd = [sys.executable, __file__, "--child", impl, "--ref", a.ref, "--size", str(a.size), "--iters",
                   str(a.iters), "--warmup", str(a.warmup), "--threads", str(a.threads)]
            proc = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env)
            res = json.loads(proc.stdout.strip().splitlines()[-1])
            runs[impl].append(res)
            print(json.dumps({"round": r, "impl": impl, **res}), flush=True)
    best = {k: max(v, key=lambda x: x["it_s"]) for k, v in runs.items()}
    summary = {
        "size": a.size, "batch": 1, "threads": a.threads, "iters": a.iters,
        "ours_it_s": best["ours"]["it_s"], "ref_it_s": best["ref"]["it_s"],
        "speedup": best["ours"]["it_s"] / best["ref"]["it_s"],
        "ours_peak_rss_mb": max(x["peak_rss_mb"] for x in runs["ours"]),
        "ref_peak_rss_mb": max(x["peak_rss_mb"] for x in runs["ref"]),
        **par, "torch": torch.__version__,
    }
    print(json.dumps({"summary": summary}, indent=2))


if __name__ == "__main__":
    main()
