"""AdaIN and SANet inference on the CPU.

1. AdaIN 512² vs the reference pytorch-AdaIN test.py code path (its net.py / function.py and the
   ``style_transfer`` function of test.py, run from a local checkout) with the same random weights in the
   published layouts: time ratio and max |difference|. Goal: ≤ 0.7× the time, ≤ 1e-4 difference.
2. AdaIN torch vs onnxruntime (the graph ``painterly export onnx`` writes), content + style each call.
3. SANet at 512² and 1024² (style the same size, the worst case): time and peak RSS with the attention
   chunked (default) vs unchunked, each in its own process so ru_maxrss is per configuration.

The reference checkout is expected in benchmarks/_work/pytorch-AdaIN (gitignored; never committed):

    git clone https://github.com/naoto0804/pytorch-AdaIN benchmarks/_work/pytorch-AdaIN

test.py imports torchvision at module level (for image transforms and saving only), so we read its
``style_transfer`` function out of the file with ``ast`` and run that alone.

    python benchmarks/bench_adain.py [--threads 2] [--repeats 3] [--sanet-sizes 512,1024]
"""

from __future__ import annotations

import machine  # noqa: E402  (benchmarks/machine.py: CPU/GPU model on every result)

import argparse
import ast
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "tests")]

REF = ROOT / "benchmarks" / "_work" / "pytorch-AdaIN"


def timed(fn: Any, repeats: int) -> tuple[float, Any]:
    """Median seconds over ``repeats`` calls after one warm-up call."""
    out = fn()
    ts = []
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        ts.append(time.perf_counter() - t)
    return statistics.median(ts), out


def interleaved(fns: dict[str, Any], repeats: int) -> tuple[dict[str, float], dict[str, Any]]:
    """Median seconds per function, calling them in turn (one warm-up each), so drift in the machine's
    speed hits all of them alike."""
    outs = {k: fn() for k, fn in fns.items()}
    ts: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(repeats):
        for k, fn in fns.items():
            t = time.perf_counter()
            outs[k] = fn()
            ts[k].append(time.perf_counter() - t)
    return {k: statistics.median(v) for k, v in ts.items()}, outs


def reference(weights: Any) -> Any:
    """The reference style_transfer with its vgg[:31] and decoder loaded from the same files."""
    if not (REF / "test.py").exists():
        sys.exit(f"reference checkout missing: git clone https://github.com/naoto0804/pytorch-AdaIN {REF}")
    sys.path.insert(0, str(REF))
    import function  # the reference's, from the checkout
    import net

    tree = ast.parse((REF / "test.py").read_text())
    fn = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "style_transfer")
    ns: dict[str, Any] = {"torch": torch, "adaptive_instance_normalization":
                          function.adaptive_instance_normalization, "device": torch.device("cpu")}
    exec(compile(ast.Module([fn], []), str(REF / "test.py"), "exec"), ns)  # noqa: S102
    decoder, vgg = net.decoder, net.vgg
    decoder.eval()
    vgg.eval()
    decoder.load_state_dict(torch.load(weights.paths["adain-decoder"], weights_only=True))
    vgg.load_state_dict(torch.load(weights.paths["vgg-normalised"], weights_only=True))
    vgg = torch.nn.Sequential(*list(vgg.children())[:31])

    def run(content: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return ns["style_transfer"](vgg, decoder, content, style, 1.0)

    return run


def freeze(net: torch.nn.Module, content: torch.Tensor, style: torch.Tensor) -> Any:
    """torch.jit.trace + freeze + optimize_for_inference of the whole content+style→image graph (the public
    TorchScript route to fused conv+ReLU on CPU); None where this torch no longer offers it."""
    try:
        with torch.inference_mode(False), torch.no_grad():
            traced = torch.jit.trace(net.eval(), (content, style, torch.tensor(1.0)), check_trace=False)
            return torch.jit.optimize_for_inference(torch.jit.freeze(traced))
    except Exception as exc:  # noqa: BLE001 (deprecated / unsupported in some torch builds)
        print(f"# torch.jit freeze unavailable: {type(exc).__name__}: {str(exc)[:120]}")
        return None


def adain_section(args: argparse.Namespace) -> dict[str, Any]:
    import ffutil
    from painterly import api
    from painterly import image as im
    from painterly.export import export_feedforward
    from painterly.methods.base import StyleSpec
    from painterly.methods.feedforward import OnnxRunner
    from painterly.nn.convert import to_pil, to_tensor

    W = ffutil.weights()
    g = torch.Generator().manual_seed(0)
    content = torch.rand(1, 3, 512, 512, generator=g)
    style = torch.rand(1, 3, 512, 512, generator=g)
    ref = reference(W)

    m = api.make_method("adain", size=0, style_size=0, device="cpu", progress=False, **W.adain_options())
    nchw = api.make_method("adain", size=0, style_size=0, device="cpu", progress=False, channels_last=False,
                           **W.adain_options())
    spec = StyleSpec("style", 1.0, im.Picture(to_pil(style)))
    style_q = to_tensor(spec.picture.rgb)        # the 8-bit style the method sees
    prepared = m.prepare([spec])
    frozen = freeze(m.net, content, style_q)

    from painterly.nn import inference

    def plain() -> torch.Tensor:
        inference.ENABLED = False
        try:
            return m.stylise(content, m.prepare([spec]), None)
        finally:
            inference.ENABLED = True

    variants = {
        "ref": lambda: ref(content, style),
        # single shot: style encoded again every call, like test.py (nn.inference path, channels-last)
        "single": lambda: m.stylise(content, m.prepare([spec]), None),
        # the same with the plain nn.Sequential modules (nn.inference switched off)
        "plain": plain,
        # public alternatives behind the same maths: NCHW, TorchScript freeze + optimize_for_inference
        "nchw": lambda: nchw.stylise(content, nchw.prepare([spec]), None),
        # style prepared once, reused for every content image / frame (what painterly does)
        "reuse": lambda: m.stylise(content, prepared, None),
    }
    if frozen is not None:
        variants["frozen"] = lambda: frozen(content, style_q, torch.tensor(1.0))
    t, outs = interleaved(variants, args.repeats)
    t_ref, t_single, t_reuse = t["ref"], t["single"], t["reuse"]
    expected = ref(content, style_q)
    diff = (outs["reuse"] - expected).abs().max().item()
    diff_plain = (outs["plain"] - expected).abs().max().item()

    with tempfile.TemporaryDirectory() as d:
        t0 = time.perf_counter()
        path = export_feedforward(m, Path(d) / "adain.onnx")
        t_export = time.perf_counter() - t0
        runner = OnnxRunner(path, torch.device("cpu"))
        t_onnx, out_onnx = timed(lambda: runner(content, style_q, 1.0), args.repeats)
        net = m.net
        with torch.inference_mode():
            t_torch_graph, out_torch = timed(lambda: net(content, style_q, torch.tensor(1.0)), args.repeats)
    return {
        "reference_s": t_ref, "single_shot_s": t_single, "style_reused_s": t_reuse,
        "ratio_single": t_single / t_ref, "ratio_reused": t_reuse / t_ref, "max_abs_diff": diff,
        "max_abs_diff_plain": diff_plain, "plain_single_s": t["plain"], "ratio_plain": t["plain"] / t_ref,
        "nchw_single_s": t["nchw"], "ratio_nchw": t["nchw"] / t_ref,
        "frozen_graph_s": t.get("frozen"), "ratio_frozen": t["frozen"] / t_ref if "frozen" in t else None,
        "onnx_export_s": t_export, "onnx_s": t_onnx, "torch_same_graph_s": t_torch_graph,
        "onnx_vs_torch_diff": (out_onnx - out_torch).abs().max().item(),
    }


def sanet_one(size: int, chunk: str, paths: dict[str, str]) -> dict[str, Any]:
    """One SANet run in this process: time, and peak RSS above the loaded model."""
    from painterly import api
    from painterly import image as im
    from painterly.methods.base import StyleSpec
    from painterly.nn.convert import to_pil

    g = torch.Generator().manual_seed(0)
    content = torch.rand(1, 3, size, size, generator=g)
    spec = StyleSpec("style", 1.0, im.Picture(to_pil(torch.rand(1, 3, size, size, generator=g))))
    m = api.make_method("sanet", size=0, style_size=0, device="cpu", progress=False,
                        chunk=None if chunk == "auto" else int(chunk), vgg_weights=paths["vgg-normalised"],
                        decoder_weights=paths["sanet-decoder"], transformer_weights=paths["sanet-transformer"])
    m.net  # noqa: B018  (load the weights before the baseline)
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    prepared = m.prepare([spec])
    t1 = time.perf_counter()
    m.stylise(content, prepared, None)
    t2 = time.perf_counter()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"size": size, "chunk": chunk, "prepare_s": round(t1 - t0, 2), "stylise_s": round(t2 - t1, 2),
            "peak_rss_mb": round(peak / 1024), "peak_above_model_mb": round((peak - rss0) / 1024)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--sanet-sizes", default="512,1024")
    ap.add_argument("--skip-adain", action="store_true")
    ap.add_argument("--unchunked-max", type=int, default=1024,
                    help="largest size also run unchunked (2048² would need ~32 GiB for the attention)")
    ap.add_argument("--sanet-one", nargs=3, metavar=("SIZE", "CHUNK", "PATHS"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    machine.header()
    torch.set_num_threads(args.threads)
    if args.sanet_one:
        print(json.dumps(sanet_one(int(args.sanet_one[0]), args.sanet_one[1], json.loads(args.sanet_one[2]))))
        return
    print(f"torch {torch.__version__}, {args.threads} threads", flush=True)
    if not args.skip_adain:
        r = adain_section(args)
        print("AdaIN 512² (content and style 512x512), median of", args.repeats)
        for k, v in r.items():
            print(f"  {k:22s} {v:.4g}")
    import ffutil

    paths = json.dumps({k: str(v) for k, v in ffutil.weights().paths.items()})
    for size in (int(s) for s in args.sanet_sizes.split(",") if s):
        for chunk in ("auto", "0") if size <= args.unchunked_max else ("auto",):
            p = subprocess.run([sys.executable, __file__, "--threads", str(args.threads), "--sanet-one",
                                str(size), chunk, paths], capture_output=True, text=True, check=False)
            if p.returncode != 0:
                print(f"SANet {size}² chunk={chunk}: failed ({p.stderr.strip().splitlines()[-1:]})")
                continue
            print("SANet", p.stdout.strip().splitlines()[-1], flush=True)


if __name__ == "__main__":
    main()
