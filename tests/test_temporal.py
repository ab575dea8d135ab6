"""painterly.temporal / videometrics: warping, occlusion masks, scene cuts, the combine step (no blur),
and the metrics themselves — on tiny synthetic clips whose motion is known exactly."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import ROOT, SHARED

cv2 = pytest.importorskip("cv2")

from painterly import temporal, videometrics as vm  # noqa: E402


def photo(h: int = 64, w: int = 160, name: str = "tubingen.jpg") -> np.ndarray:
    """A real photo (shared data) or, without it, a textured synthetic picture, as uint8 H×W×3."""
    p = SHARED / "images" / "content" / name
    if p.is_file():
        img = cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2RGB)
        s = max(h / img.shape[0], w / img.shape[1])
        img = cv2.resize(img, (max(w, round(img.shape[1] * s)), max(h, round(img.shape[0] * s))),
                         interpolation=cv2.INTER_AREA)
        return np.ascontiguousarray(img[:h, :w])
    rng = np.random.default_rng(len(name))
    base = cv2.GaussianBlur(rng.uniform(0, 255, (h, w, 3)).astype(np.float32), (0, 0), 2.0)
    return np.clip((base - base.mean()) * 4 + 128, 0, 255).astype(np.uint8)


def pan(n: int, dx: int, size: int = 48) -> list[np.ndarray]:
    """frame_t = photo[:, dx·t : dx·t + size]: the camera moves right, so frame_t(x) = frame_{t−1}(x + dx)."""
    big = photo(size, size + dx * n)
    return [np.ascontiguousarray(big[:, dx * t:dx * t + size]) for t in range(n)]


def shift_flow(h: int, w: int, dx: float, dy: float = 0.0) -> np.ndarray:
    f = np.zeros((h, w, 2), np.float32)
    f[..., 0], f[..., 1] = dx, dy
    return f


def test_integer_shift_warp_is_exact_away_from_the_border() -> None:
    img = photo(40, 56).astype(np.float32)
    dx, dy = 3, 2
    flow = shift_flow(40, 56, dx, dy)
    got = temporal.warp(img, flow)
    want = img[dy:, dx:]                                # got[y, x] = img[y + dy, x + dx]
    assert np.array_equal(got[:40 - dy, :56 - dx], want)
    # and the border (sampled outside the picture) is not: the check above is not vacuous
    assert not np.array_equal(got[:, 56 - dx:], img[:, 56 - dx:])


def test_occlusion_mask_marks_the_uncovered_strip_exact_flow() -> None:
    h, w, dx = 32, 48, 3
    back, fwd = shift_flow(h, w, dx), shift_flow(h, w, -dx)
    mask = temporal.occlusion_mask(back, fwd)
    assert not mask[:, w - dx:].any()                   # new content entered on the right
    assert mask[:, :w - dx].all()
    # a forward flow that disagrees (an occluder) is caught by the forward-backward check
    bad = fwd.copy()
    bad[8:16, 8:16] = (5.0, 4.0)
    m2 = temporal.occlusion_mask(back, bad)
    assert not m2[8:16, 8 - dx:16 - dx].any() and m2[20:, :20].all()


def test_dis_flow_and_mask_on_a_real_pan() -> None:
    a, b = pan(2, 3, 64)
    step = temporal.Motion("medium").between(temporal.gray(a), temporal.gray(b))
    assert not step.cut
    inner = step.backward[8:-8, 8:-8]
    assert np.abs(inner[..., 0] - 3).mean() < 0.3 and np.abs(inner[..., 1]).mean() < 0.3
    assert step.mask[:, -3:].mean() < 0.2               # the uncovered strip
    assert step.mask[:, :-8].mean() > 0.9


def test_the_two_flow_directions_side_by_side_equal_them_one_by_one() -> None:
    # Motion runs the forward flow on a second thread; the step must be what the plain sequence gives
    frames = pan(4, 3, 128)
    motion = temporal.Motion("balanced")
    steps = [motion(f) for f in frames]
    grey = [temporal.gray(f) for f in frames]
    flow = temporal.FlowEstimator("balanced")
    for t in (1, 2, 3):
        step = steps[t]
        assert step is not None
        back, fwd = flow(grey[t], grey[t - 1]), flow(grey[t - 1], grey[t])
        assert np.array_equal(step.backward, back)
        pos = temporal.grid(128, 128) + back
        want = temporal.occlusion_mask(back, fwd) & (np.abs(temporal.remap(grey[t - 1], pos).astype(int)
                                                            - grey[t]) <= motion.photo_tol)
        assert np.array_equal(step.mask, want)


def test_scene_cut_resets_history() -> None:
    a = pan(1, 0, 48)[0]
    b = photo(48, 48, "golden_gate.jpg")               # an unrelated picture
    motion = temporal.Motion("medium")
    assert motion(a) is None
    step = motion(b)
    assert step is not None and step.cut and step.trusted < 0.3
    comb = temporal.Temporal(window=4)
    comb(a.astype(np.float32), None)
    out = comb(b.astype(np.float32), step)
    assert np.array_equal(out, b.astype(np.float32))    # nothing of the first shot leaks in
    # a step that is not a cut does mix the history in (so the check above can fail)
    same = motion(b)
    assert same is not None and not same.cut
    noisy = b.astype(np.float32) + 20.0
    assert not np.allclose(comb(noisy, same), noisy)


def true_steps(n: int, h: int, w: int, dx: int) -> list[temporal.Step | None]:
    back = shift_flow(h, w, dx)
    mask = temporal.inside(temporal.grid(h, w) + back, h, w)
    return [None] + [temporal.Step(back, mask, False) for _ in range(n - 1)]


def test_combine_cuts_flicker_and_keeps_detail() -> None:
    n, size = 10, 48
    frames = pan(n, 3, size)
    steps = true_steps(n, size, size, 3)
    rng = np.random.default_rng(1)
    # a flickery "stylisation": the frame plus fresh fine texture every frame
    ys = [f.astype(np.float32) + rng.normal(0, 12, f.shape).astype(np.float32) for f in frames]
    per_frame = vm.measure(ys, steps)
    comb = temporal.Temporal(window=6)
    outs = [comb(y, s) for y, s in zip(ys, steps, strict=True)]
    flow = vm.measure(outs, steps)
    assert flow.warping_error < 0.5 * per_frame.warping_error
    assert flow.mean_detail > 0.85 * per_frame.mean_detail
    # the window average alone (no contrast restore) loses detail: the restore step is doing the work
    plain = temporal.Temporal(window=6, restore=False)
    avg = vm.measure([plain(y, s) for y, s in zip(ys, steps, strict=True)], steps)
    assert avg.mean_detail < flow.mean_detail


def zoom_clip(n: int, size: int, rate: float) -> tuple[list[np.ndarray], list[temporal.Step | None]]:
    """Zoom into a photo about the centre by ``rate`` per frame; exact backward flow and mask."""
    big = photo(size * 2, size * 2).astype(np.float32)
    c = (size * 2 - 1) / 2
    frames = []
    for t in range(n):
        s = 1.6 * rate**t                           # output px per source px
        m = np.float32([[1 / s, 0, c - (size - 1) / 2 / s], [0, 1 / s, c - (size - 1) / 2 / s]])
        frames.append(cv2.warpAffine(big, m, (size, size), flags=cv2.INTER_CUBIC | cv2.WARP_INVERSE_MAP))
    g = temporal.grid(size, size)
    cc = (size - 1) / 2
    back = ((g - cc) / rate + cc - g).astype(np.float32)   # x' = cc + (x − cc)·s_{t−1}/s_t
    mask = temporal.inside(g + back, size, size)
    return frames, [None] + [temporal.Step(back, mask, False) for _ in range(n - 1)]


def test_no_blur_accumulates_under_subpixel_motion() -> None:
    frames, steps = zoom_clip(12, 48, 1.013)
    ref = vm.measure(frames, steps).mean_detail
    comb = temporal.Temporal(window=8)
    ours = vm.measure([comb(f, s) for f, s in zip(frames, steps, strict=True)], steps).mean_detail
    # the naive scheme: warp the previous *output* every frame (bilinear), take it wherever visible
    prev, naive = None, []
    for f, s in zip(frames, steps, strict=True):
        out = f if s is None else np.where(s.mask[..., None], temporal.warp(prev, s.backward), f)
        naive.append(out)
        prev = out
    blurred = vm.measure(naive, steps).mean_detail
    assert ours > 0.97 * ref
    assert blurred < 0.9 * ref          # the metric does see accumulated resampling blur


def test_metrics_zero_for_exact_motion_and_positive_for_flicker() -> None:
    frames = pan(5, 2, 32)
    steps = true_steps(5, 32, 32, 2)
    assert vm.measure([f.astype(np.float32) for f in frames], steps).warping_error == pytest.approx(0, abs=1e-6)
    flick = [f.astype(np.float32) + (10.0 if t % 2 else 0.0) for t, f in enumerate(frames)]
    assert vm.measure(flick, steps).warping_error == pytest.approx(10.0, abs=0.5)
    assert vm.detail(np.full((8, 8, 3), 77.0)) == 0.0
    ramp = np.repeat(np.arange(16, dtype=np.float32)[None, :, None] * 3, 16, 0).repeat(3, 2)
    assert vm.detail(ramp) == pytest.approx(3.0)


def test_temporal_imports_no_torch(tmp_path: Path) -> None:
    code = "import sys; import painterly.temporal, painterly.videometrics; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={"PYTHONPATH": str(ROOT / "src"), "PATH": "/usr/bin:/bin"})
    assert out.stdout.strip() == "False", out.stderr


def reference_combine(ys: list[np.ndarray], steps: list, window: int, interp: str,
                      sigma: float = 1.5) -> list[np.ndarray]:
    """The combine written plainly (tracks as x, y and a "gone" flag composed by remap; every 8-bit past
    frame sampled once, the sample rounded to a whole level; mean over the pixels seen all along; the
    restore gain) — what the optimised Temporal must equal. A pixel is gone once any pixel it was
    interpolated from (with a nonzero weight) was gone. Where interpolation taps fall outside a past frame
    (cubic, near its edge) the weights inside are renormalised: the frame is sampled with a fourth channel
    of 255 and a zero border, and that channel's sample is the pixel's share of the normaliser."""
    hist: list[list[np.ndarray]] = []
    outs = []
    for y, s in zip(ys, steps, strict=True):
        h, w = y.shape[:2]
        if s is None:
            hist = []
        else:
            at = temporal.grid(h, w) + s.backward
            for p in hist:
                p[1] = temporal.remap(p[1], at)
                p[1][..., 2] = (p[1][..., 2] > 0) | ~s.mask     # channel 2: gone
        acc, count = y.astype(np.float32), np.ones((h, w), np.float32)
        for frame, track in hist:
            seen = (track[..., 2] == 0).astype(np.float32)
            mode = {"linear": cv2.INTER_LINEAR, "cubic": cv2.INTER_CUBIC}[interp]
            rgba = np.concatenate([frame, np.full((h, w, 1), 255, np.uint8)], -1)
            sample = cv2.remap(rgba, np.ascontiguousarray(track[..., :2]), None, mode,
                               borderMode=cv2.BORDER_CONSTANT, borderValue=0).astype(np.float32)
            acc += seen[..., None] * sample[..., :3]
            count += seen * sample[..., 3] / 255
        out = acc / count[..., None]
        if hist:
            blur = lambda a: cv2.GaussianBlur(a.astype(np.float32), (0, 0), sigma)  # noqa: E731
            hp, hpf, sel = out - blur(out), y - blur(y), count > 1.5
            gain = np.sqrt(np.mean(hpf[sel] ** 2) / np.mean(hp[sel] ** 2))
            out = blur(out) + np.clip(np.minimum(gain, np.sqrt(count)), 1, None)[..., None] * hp
        hist.append([y, np.concatenate([temporal.grid(h, w), np.zeros((h, w, 1), np.float32)], -1)])
        hist = hist[-(window - 1):]
        outs.append(out)
    return outs


@pytest.mark.parametrize(("interp", "window"), [("linear", 5), ("cubic", 5), ("linear", 2), ("linear", 4)])
def test_fast_combine_equals_the_plain_definition(interp: str, window: int) -> None:
    # windows 2 and 4 (odd numbers of past frames, 1 and 3) leave half a track slab unused; 12 frames with
    # a cut at 6 run the recycled arrays through several windows and a reset
    frames = pan(12, 2, 40)
    motion = temporal.Motion("fast")
    steps = [motion(f) for f in frames]                 # real DIS masks: holes, borders, partial visibility
    steps[6] = None
    assert any(s is not None and not s.mask.all() for s in steps)
    rng = np.random.default_rng(3)
    ys = [np.clip(f + rng.normal(0, 15, f.shape).round(), 0, 255).astype(np.uint8) for f in frames]
    comb = temporal.Temporal(window=window, interpolation=interp)
    got = [comb(y, s) for y, s in zip(ys, steps, strict=True)]
    want = reference_combine(ys, steps, window, interp)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g, w, rtol=1e-4, atol=2e-3)
    assert not np.allclose(got[-1], ys[-1], atol=1.0)   # the history really was mixed in
    # float frames are rounded to 8 bits on the way in: the same outputs
    again = temporal.Temporal(window=window, interpolation=interp)
    floats = [again(y.astype(np.float32) + 0.4, s) for y, s in zip(ys, steps, strict=True)]
    assert all(np.array_equal(g, f) for g, f in zip(got, floats, strict=True))


def test_fine_preset_is_finer_than_fast_and_selects_cubic() -> None:
    assert temporal.FlowEstimator("fine").dis.getFinestScale() == 1
    assert temporal.FlowEstimator("fast").dis.getFinestScale() == 2
    from painterly.video import FrameStylizer, Options

    class _Pipe:
        method = object()
    assert FrameStylizer(_Pipe(), Options(flow_preset="fine")).combine.interpolation == "cubic"  # type: ignore[arg-type]
    assert FrameStylizer(_Pipe(), Options(flow_preset="fast")).combine.interpolation == "linear"  # type: ignore[arg-type]
    assert FrameStylizer(_Pipe(), Options()).combine.interpolation == "linear"  # type: ignore[arg-type]
    with pytest.raises(temporal.PainterlyError):
        temporal.FlowEstimator("slow")
    with pytest.raises(temporal.PainterlyError, match="flow-preset"):
        Options(flow_preset="slow").check()


def test_the_default_preset_follows_a_zoom_closer_than_fast() -> None:
    # "balanced" (the video default) stops one pyramid level finer than DIS's fast preset: on a zoom
    # (where fast's quarter-resolution flow is off by ~0.4 px) its end-point error must be clearly lower
    from painterly.video import Options
    frames, steps = zoom_clip(4, 96, 1.012)
    grey = [temporal.gray(np.clip(f, 0, 255)) for f in frames]

    def epe(preset: str) -> float:
        flow = temporal.FlowEstimator(preset)(grey[3], grey[2])
        truth = steps[3]
        assert truth is not None
        return float(np.linalg.norm(flow - truth.backward, axis=-1)[8:-8, 8:-8].mean())

    assert Options().flow_preset == "balanced"
    fast, balanced = epe("fast"), epe("balanced")
    assert balanced < 0.75 * fast, (fast, balanced)
    # on small frames its finer level is too small to search: it falls back to the fast preset there
    small = [temporal.gray(f) for f in pan(2, 3, 48)]
    for preset in ("balanced", "fine"):
        flow = temporal.FlowEstimator(preset)(small[1], small[0])
        assert np.abs(flow[8:-8, 8:-8] - (3.0, 0.0)).max() < 0.5, preset


def test_a_gone_pixel_stays_gone_through_tiny_interpolation_weights() -> None:
    # Each step every pixel x is interpolated from x+1 (weight 1 − 1e-6) and from x itself (1e-6). Frame 0's
    # left half is rejected once (mask False); from then on frame 0 must stay out of the average there
    # however often the tiny weight of a gone pixel is mixed in (a gone x shrinks a millionfold a step).
    h, w = 4, 64
    back = np.zeros((h, w, 2), np.float32)
    back[..., 0] = 1 - 1e-6
    cols = np.arange(w)[None, :].repeat(h, 0)
    comb = temporal.Temporal(window=12, interpolation="linear", restore=False)
    comb(np.full((h, w, 3), 250.0, np.float32), None)                        # frame 0: an outlier value
    comb(np.full((h, w, 3), 10.0, np.float32), temporal.Step(back, cols >= 32, False))
    everywhere = temporal.Step(back, np.ones((h, w), bool), False)
    for t in range(2, 12):
        out = comb(np.full((h, w, 3), 10.0 * t, np.float32), everywhere)
        np.testing.assert_allclose(out[:, :32], 10.0 * (t + 1) / 2, rtol=1e-5)   # frames 1..t
        np.testing.assert_allclose(out[:, 33:50], (250.0 + 10.0 * t * (t + 1) / 2) / (t + 1), rtol=1e-5)


def test_small_and_thin_frames_get_a_flow_and_a_combine() -> None:
    # OpenCV's DIS refuses frames under 12 px and crashed the process on short wide ones (12×50, 20×200):
    # run in a child so a crash fails this test instead of ending the run
    code = """
import numpy as np
from painterly import temporal
rng = np.random.default_rng(0)
for h, w in [(1, 1), (3, 2), (12, 50), (20, 200), (31, 64), (200, 12)]:
    motion, comb = temporal.Motion("fast"), temporal.Temporal(4, interpolation="linear")
    for t in range(4):
        frame = rng.integers(0, 255, (h, w, 3), dtype=np.uint8)
        step = motion(frame)
        assert step is None or (step.backward.shape == (h, w, 2) and step.mask.shape == (h, w)), (h, w)
        out = comb(frame.astype(np.float32), step)
        assert out.shape == (h, w, 3) and np.isfinite(out).all()
print("ok")
"""
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                       env=dict(os.environ, PYTHONPATH=str(ROOT / "src")))
    assert p.returncode == 0 and p.stdout.strip() == "ok", (p.returncode, p.stderr[-2000:])
