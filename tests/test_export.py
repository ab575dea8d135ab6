"""ONNX export of adain/sanet (content + style + alpha → image, dynamic sizes): parity with torch through
onnxruntime, the --backend onnx path, the pix2pix dispatch and bad input."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import ffutil
from conftest import run_cli, smooth_image
from painterly.nn.convert import to_pil, to_tensor
from painterly import api, export
from painterly import image as im
from painterly.errors import PainterlyError
from painterly.methods.base import StyleSpec
from painterly.methods.feedforward import OnnxRunner

pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")
torch.set_num_threads(1)  # tiny images: a second thread only adds OpenMP barriers on a busy machine


def check_parity(m: object, path: Path, tmp_path: Path) -> None:
    """onnxruntime vs torch at sizes unlike the tracing example (67x93), one with odd relu4_1 sides."""
    runner = OnnxRunner(path, torch.device("cpu"))
    for (cw, ch), (sw, sh) in (((64, 48), (40, 56)), ((72, 40), (48, 48))):
        c = to_tensor(im.load_image(smooth_image(tmp_path / "c.png", (cw, ch), 1)).rgb)
        spec = StyleSpec("s", 1.0, im.load_image(smooth_image(tmp_path / "s.png", (sw, sh), 2)))
        want = m.stylise(c, m.prepare([spec]), None)  # type: ignore[attr-defined]
        got = runner(c, to_tensor(spec.picture.rgb), m.config.alpha)  # type: ignore[attr-defined]
        assert got.shape == want.shape == c.shape
        assert (got - want).abs().max() <= 1e-4


def test_export_adain_parity_and_cli_backend_onnx(tmp_path: Path) -> None:
    env = ffutil.cli_env()
    W = ffutil.weights()
    model = tmp_path / "adain.onnx"
    # what `painterly export onnx --method adain -o adain.onnx` runs (in-process: exports take seconds)
    export.export_onnx("adain", model, **W.adain_options())
    assert model.stat().st_size > 1_000_000
    check_parity(api.make_method("adain", style_size=0, device="cpu", progress=False, alpha=0.7, **W.adain_options()),
                 model, tmp_path)

    c, s = smooth_image(tmp_path / "c.png", (64, 48), 1), smooth_image(tmp_path / "s.png", (48, 48), 2)
    out = tmp_path / "onnx.png"
    p = run_cli("stylize", c, "--style", s, "--method", "adain", "--backend", "onnx", "--weights", model,
                "--size", "0", "-o", out, "-q", env=env)
    assert p.returncode == 0, p.stderr
    want = api.stylize(c, s, "adain", size=0, device="cpu", **W.adain_options())
    a, b = to_tensor(im.load_image(out).rgb), to_tensor(want)
    assert (a - b).abs().max() <= 1 / 255 + 1e-6     # same image up to 8-bit rounding

    with pytest.raises(PainterlyError, match="adain, sanet"):
        export.export_onnx("gatys", tmp_path / "g.onnx")
    assert not (tmp_path / "g.onnx").exists()


@pytest.mark.slow
def test_export_sanet_parity(tmp_path: Path) -> None:
    W = ffutil.weights()
    m = api.make_method("sanet", style_size=0, device="cpu", progress=False, alpha=0.6, **W.sanet_options())
    check_parity(m, export.export_feedforward(m, tmp_path / "sanet.onnx"), tmp_path)


def test_backend_onnx_refuses_blends(tmp_path: Path) -> None:
    W = ffutil.weights()
    s = smooth_image(tmp_path / "s.png", (48, 48), 2)
    with pytest.raises(PainterlyError, match="one --style"):
        api.stylize(smooth_image(tmp_path / "c.png", (64, 48), 1), [s, s], "adain", backend="onnx",
                    onnx_model=str(tmp_path / "missing.onnx"), **W.adain_options())


def test_checkpoint_dispatches_to_pix2pix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    monkeypatch.setattr(export, "export_pix2pix", lambda ckpt, out: calls.append((Path(ckpt), Path(out))))
    export.export_onnx(None, tmp_path / "p.onnx", checkpoint=tmp_path / "run.pt")
    assert calls == [(tmp_path / "run.pt", tmp_path / "p.onnx")]
    with pytest.raises(PainterlyError, match="pix2pix"):
        export.export_onnx("adain", tmp_path / "p.onnx", checkpoint=tmp_path / "run.pt")
