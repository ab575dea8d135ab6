"""ONNX export, all of it: AdaIN / SANet as one content + style (+ alpha) → image graph, and pix2pix
generators (``export_pix2pix``), both with dynamic sizes. Nothing below this module imports it.

AdaIN / SANet:

Inputs: ``content`` [1,3,H,W] and ``style`` [1,3,h,w], RGB in [0,1], any H, W, h, w ≥ 32; ``alpha``, a
float32 scalar (0 = content reconstruction, 1 = full style). Output: ``image`` [1,3,H,W] (unclamped).
Uses torch's dynamo exporter (needs the ``onnx`` extra: onnx + onnxscript). The SANet graph holds the
plain (unchunked) attention, so its memory grows with (H·W)·(h·w).
"""

from __future__ import annotations

import importlib.util
import logging
import warnings
from pathlib import Path
from typing import Any

import torch

from .errors import PainterlyError
from .files import atomic_path
from .methods import feedforward, make_method

OPSET = 18
MIN_SIDE = 32


def _require_onnx() -> None:
    missing = [m for m in ("onnx", "onnxscript") if importlib.util.find_spec(m) is None]
    if missing:
        raise PainterlyError(f"ONNX export needs {' and '.join(missing)}: pip install 'painterly[onnx]'.")


def export_feedforward(method: Any, out: str | Path, opset: int = OPSET) -> Path:
    """Export an AdaINMethod / SANetMethod (with its weights) to ``out``, written atomically."""
    _require_onnx()
    import onnx
    from torch.export import Dim

    module, names = method.export_module()
    # odd example sizes on purpose: with sides divisible by 8 the tracer would treat the final crop of
    # the decoder output (8·⌈H/8⌉ → H) as a no-op and drop it for every size
    example = (torch.rand(1, 3, 67, 93), torch.rand(1, 3, 71, 59), torch.tensor(1.0))
    dims = {n: Dim(n, min=MIN_SIDE, max=16384) for n in ("H", "W", "h", "w")}
    shapes = {"content": {2: dims["H"], 3: dims["W"]}, "style": {2: dims["h"], 3: dims["w"]}, "alpha": None}
    out = Path(out)
    with atomic_path(out) as tmp, warnings.catch_warnings(), _quiet_exporter():
        warnings.simplefilter("ignore")
        try:
            torch.onnx.export(module, example, str(tmp), input_names=list(names), output_names=["image"],
                              opset_version=opset, dynamo=True, dynamic_shapes=shapes, verbose=False)
        except Exception as exc:  # noqa: BLE001 (exporter errors have many types; keep the first line)
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise PainterlyError(f"ONNX export of {method.name} failed: {first[:200]}") from None
        model = onnx.load(str(tmp))
        # the exporter annotates intermediate shapes with symbols that can wrongly merge ⌈h/2⌉-style
        # sizes; onnxruntime re-infers them correctly without the annotations
        del model.graph.value_info[:]
        model.doc_string = f"painterly {method.name}: content, style, alpha -> image (RGB in [0,1])"
        onnx.save(model, str(tmp))
    return out


class _quiet_exporter:
    """Silence the exporter's progress lines and torchvision notices (it logs via logging and print)."""

    def __enter__(self) -> None:
        import contextlib
        import io

        self._levels = {n: logging.getLogger(n).level for n in ("torch.onnx", "torch._dynamo", "torch.export")}
        for n in self._levels:
            logging.getLogger(n).setLevel(logging.ERROR)
        self._out = contextlib.redirect_stdout(io.StringIO())
        self._out.__enter__()

    def __exit__(self, *exc: object) -> None:
        self._out.__exit__(*exc)
        for n, level in self._levels.items():
            logging.getLogger(n).setLevel(level)


def export_onnx(method: str | None, out: str | Path, *, checkpoint: str | Path | None = None,
                **options: Any) -> Path:
    """``painterly export onnx``: adain/sanet from their weights, or a pix2pix training checkpoint."""
    out = Path(out)
    if out.suffix.lower() != ".onnx":
        raise PainterlyError(f"output {out} should end in .onnx.")
    if checkpoint is not None or method == "pix2pix":
        if method not in ("pix2pix", None):
            raise PainterlyError(f"--checkpoint exports a pix2pix model; it does not apply to --method {method}.")
        if checkpoint is None:
            raise PainterlyError("--method pix2pix needs --checkpoint CKPT (a pix2pix training checkpoint).")
        export_pix2pix(checkpoint, out)
        return out
    if method not in ("adain", "sanet"):
        raise PainterlyError(f"ONNX export supports --method adain, sanet (or pix2pix with --checkpoint), "
                             f"not {method!r}.")
    m = make_method(method, progress=False, device="cpu", **options)
    _require_onnx()
    return export_feedforward(m, out)


# ----------------------------------------------------------------------------------------------------
# pix2pix
# ----------------------------------------------------------------------------------------------------

PIX2PIX_OPSET = 17


def export_pix2pix(checkpoint: str | Path, out_path: str | Path, eval_mode: bool = True, opset: int = PIX2PIX_OPSET,
                   netG: str | None = None, norm: str | None = None) -> Path:
    """Export a pix2pix generator to ONNX: [N,3,H,W] in [-1,1] → same shape, H and W dynamic (multiples of
    ``2^levels`` for U-Nets — pad like ``translate`` does). Exported in eval mode (running BN stats,
    no dropout), since ONNX graphs are deterministic; ``eval_mode=False`` bakes in instance-style batch
    statistics without dropout."""
    from .methods.pix2pix.checkpoint import load_generator

    G, opts = load_generator(checkpoint, netG=netG, norm=norm)
    G.eval()
    if not eval_mode:
        G = _batch_stats_no_dropout(G)
    side = max(opts.multiple, 256)
    x = torch.zeros(1, opts.input_nc, side, side)
    out_path = Path(out_path)
    with atomic_path(out_path) as tmp, warnings.catch_warnings():
        # the TorchScript exporter: dynamic H/W without extra dependencies; it warns that it is legacy
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(G, (x,), str(tmp), input_names=["input"], output_names=["output"], opset_version=opset,
                          dynamic_axes={"input": {0: "batch", 2: "height", 3: "width"},
                                        "output": {0: "batch", 2: "height", 3: "width"}}, dynamo=False)
    return out_path


def _batch_stats_no_dropout(G: torch.nn.Module) -> torch.nn.Module:
    """G (in eval mode: no dropout) normalising by batch statistics: BN layers without running stats."""
    for mod in G.modules():
        if isinstance(mod, torch.nn.BatchNorm2d):
            mod.track_running_stats = False
            mod.running_mean = None
            mod.running_var = None
    return G


# the onnx backend of adain/sanet exports into the cache on first use; methods sit below this module, so
# it hands them the exporter instead of being imported by them
feedforward.set_exporter(export_feedforward)
