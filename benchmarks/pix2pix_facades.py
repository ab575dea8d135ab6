"""Evaluate the facades runs (untrained / L1-only / cGAN+L1) on the held-out pairs and draw a sheet of
model OUTPUTS only (no dataset pixels: ../shared/data stays outside the project).

    python benchmarks/pix2pix_facades.py --runs /work/runs/facades --data ../shared/data/facades/val \
        --sheet benchmarks/pix2pix_facades_outputs.png

Rows: the first --rows validation label maps; columns: untrained | L1 only | cGAN + L1 generator output
(paper test-time mode: batch statistics + dropout, seed 0).
"""

from __future__ import annotations

import machine  # noqa: E402  (benchmarks/machine.py: CPU/GPU model on every result)

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

RUNS = ("untrained", "l1", "gan")


def main() -> None:
    import torch

    from painterly.image import save_image
    from painterly.methods import pix2pix as p2p
    from painterly.methods.pix2pix import PairedConfig, PairedDataset

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=Path, required=True)
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--sheet", type=Path)
    ap.add_argument("--rows", type=int, default=3)
    a = ap.parse_args()
    machine.header()
    torch.set_num_threads(1)
    table = {}
    for run in RUNS:
        for eval_mode in (False, True):
            rep = p2p.evaluate_checkpoint(a.runs / run / "generator.pt", a.data, eval_mode=eval_mode, device="cpu")
            table[f"{run}/{rep['mode']}"] = {k: rep[k] for k in ("l1", "psnr", "ssim", "n")}
    print(json.dumps(table, indent=2))
    if a.sheet:
        gens = [p2p.load_generator(a.runs / run / "generator.pt") for run in RUNS]
        for G, _ in gens:
            p2p.set_mode(G, eval_mode=False)
        ds = PairedDataset(a.data, PairedConfig(direction=gens[0][1].direction, crop_size=gens[0][1].crop_size,
                                                train=False))
        rows = []
        for i in range(min(a.rows, len(ds))):
            x, _ = ds[i]
            row = []
            for G, opts in gens:
                torch.manual_seed(0)
                row.append(p2p.translate_tensor(G, x[None], opts.multiple)[0])
            rows.append(row)
        save_image(p2p.make_sheet(rows), a.sheet)
        print(f"wrote {a.sheet}")


if __name__ == "__main__":
    main()
