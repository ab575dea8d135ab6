"""Issue 11: no input can take the machine down, overwrite a source, or end in a traceback.

One test per item, through the CLI: exit code, one ``error:`` line, no traceback, no output or part file
left, inputs unchanged. Tiny images and random-weight networks only (shared 2-core machine).
"""

from __future__ import annotations

import hashlib
import os
import resource
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import ROOT, assert_one_line_error, noise_image, run_cli, smooth_image

pytest.importorskip("torch")
import painterly.nn  # noqa: E402,F401  (registers the layout checker ffutil.cli_env needs)
import ffutil  # noqa: E402  (needs torch)


def digest(*paths: Path) -> dict[Path, str]:
    return {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in paths}


def leftovers(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*.part*"))


@pytest.fixture
def imgs(tmp_path: Path) -> dict[str, Path]:
    return {"content": smooth_image(tmp_path / "good.jpg", (128, 85), 1),
            "style": smooth_image(tmp_path / "style.jpg", (64, 64), 2),
            "mask": noise_image(tmp_path / "mask.png", (128, 85), 3, mode="L")}


class Foo:
    """A Python object inside a checkpoint: torch.load(weights_only=True) refuses it."""


def ff_env() -> dict[str, str]:
    return ffutil.cli_env()


def _env() -> dict[str, str]:
    e = dict(os.environ)
    e["PYTHONPATH"] = str(ROOT / "src") + os.pathsep + e.get("PYTHONPATH", "")
    return e


def run_limited(*args: str, mem_bytes: int, env: dict[str, str] | None = None,
                timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """run_cli with an address-space limit on the child: a regression fails the test, not the machine."""
    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (mem_bytes, mem_bytes))

    e = {**_env(), **(env or {})}
    return subprocess.run([sys.executable, "-m", "painterly", *map(str, args)], capture_output=True, text=True,
                          env=e, timeout=timeout, preexec_fn=limit)


# -- 1. --size / --style-size bounded like inputs, before any pixel is allocated ------------------------

@pytest.mark.parametrize("method", ["fast", "adain"])
def test_1_huge_size_is_refused_before_allocation(imgs: dict[str, Path], tmp_path: Path, method: str) -> None:
    before = digest(imgs["content"], imgs["style"])
    out = tmp_path / "o.jpg"
    t0 = time.monotonic()
    for flag in ("--size", "--style-size"):
        p = run_limited("stylize", imgs["content"], "--style", imgs["style"], "-m", method, flag, "100000",
                        "-o", out, mem_bytes=6_000_000_000, env={**ff_env(), "OMP_NUM_THREADS": "1"})
        assert p.returncode == 2
        assert_one_line_error(p, "over the 50 MP limit", "--allow-large")
    assert time.monotonic() - t0 < 120
    assert not out.exists() and not leftovers(tmp_path) and digest(imgs["content"], imgs["style"]) == before


def test_1_allow_large_beyond_memory_is_one_clear_line(imgs: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "o.png"
    p = run_limited("stylize", imgs["content"], "--style", "style3", "--size", "100000", "--allow-large",
                    "-o", out, mem_bytes=3_000_000_000)
    assert p.returncode == 2
    # the upscale note (an explicit --size above the photo's own) is information, printed before the work
    notes = [ln for ln in p.stderr.splitlines() if ln.startswith("note: ")]
    assert len(notes) == 1 and "upscaling" in notes[0]
    p.stderr = "\n".join(ln for ln in p.stderr.splitlines() if not ln.startswith("note: "))
    assert_one_line_error(p, "out of memory", "--size")
    assert not out.exists() and not leftovers(tmp_path)


def test_1_translate_size_is_bounded_too(imgs: dict[str, Path], tmp_path: Path) -> None:
    ck = _p2p_ckpt(tmp_path)
    p = run_cli("translate", imgs["content"], "--checkpoint", ck, "--size", "100000", "-o", tmp_path / "t.png")
    assert p.returncode == 2
    assert_one_line_error(p, "over the 50 MP limit", "--allow-large")
    assert not (tmp_path / "t.png").exists()


def _p2p_ckpt(tmp_path: Path) -> Path:
    import torch

    from painterly.methods import pix2pix as p2p

    opts = p2p.GeneratorOptions(netG="unet_128", ngf=8, direction="AtoB", crop_size=128)
    torch.manual_seed(0)
    path = tmp_path / "g.pt"
    torch.save(p2p.generator_checkpoint(p2p.build_generator(opts), opts), path)
    return path


# -- 2. an output that resolves to an input is refused before computing -------------------------------

def test_2_output_must_not_overwrite_any_input(imgs: dict[str, Path], tmp_path: Path) -> None:
    c, s, m = imgs["content"], imgs["style"], imgs["mask"]
    ck = _p2p_ckpt(tmp_path)
    before = digest(c, s, m, ck)
    w = tmp_path / "decoder.png"   # a checkpoint under an image name: -o must still not replace it
    w.write_bytes(ffutil.weights().paths["adain-decoder"].read_bytes())
    wbefore = digest(w)
    (tmp_path / "sub").mkdir()
    cases = [
        (("stylize", c, "--style", s, "-o", c), "content image"),
        (("stylize", c, "--style", f"{s}:0.5", "-o", s), "style image"),
        (("stylize", c, "--style", s, "-o", tmp_path / "sub" / ".." / "style.jpg"), "style image"),  # via ..
        (("stylize", c, "--style", s, "--style", s, "--mask", m, "-o", m.with_suffix(".png")), "mask"),
        (("stylize", c, "--style", s, "-m", "adain", "--weights", w, "-o", w), "weights file"),
        (("translate", c, "--checkpoint", ck, "-o", c), "input image"),
        (("translate", c, "--checkpoint", ck, "--sheet", c, "-o", tmp_path / "x.png"), "input image"),
    ]
    for args, what in cases:
        p = run_cli(*args, env=ff_env())
        assert p.returncode == 2, (args, p.stderr)
        assert_one_line_error(p, "would be overwritten", what)
    # a symlink to the content is the content
    link = tmp_path / "link.jpg"
    link.symlink_to(c)
    p = run_cli("stylize", c, "--style", s, "-o", link)
    assert_one_line_error(p, "would be overwritten")
    assert digest(c, s, m, ck) == before and digest(w) == wbefore and not leftovers(tmp_path)


def test_2_video_output_must_not_be_the_style(imgs: dict[str, Path], tmp_path: Path) -> None:
    pytest.importorskip("av")
    clip = _clip(tmp_path / "in.mkv", (32, 24))
    style_png = smooth_image(tmp_path / "st.png", (40, 40), 4)
    before = digest(clip, style_png)
    p = run_cli("video", clip, "--style", style_png, "-o", clip)
    assert_one_line_error(p, "would be overwritten", "input video")
    assert digest(clip, style_png) == before and not leftovers(tmp_path)


# -- 3. every method states its minimum size and checks it ---------------------------------------------

def test_3_tiny_images_get_the_method_minimum(imgs: dict[str, Path], tmp_path: Path,
                                             random_vgg_file: Callable[..., Path]) -> None:
    one = noise_image(tmp_path / "one.png", (1, 1), 5)
    out = tmp_path / "o.png"
    vgg = random_vgg_file("caffe")
    cases = [
        (("stylize", one, "--style", "style3"), "fast needs at least 8 px"),
        (("stylize", imgs["content"], "--style", imgs["style"], "--size", "4"), "fast needs at least 8 px"),
        (("stylize", imgs["content"], "--style", imgs["style"], "--style-size", "8"), "at least 32 px"),
        (("stylize", imgs["content"], "--style", imgs["style"], "-m", "gatys", "--weights", vgg, "--size", "8"),
         "gatys needs at least 16 px"),
        (("stylize", imgs["content"], "--style", imgs["style"], "-m", "adain", "--size", "8"),
         "adain needs at least 16 px"),
        (("stylize", imgs["content"], "--style", imgs["style"], "-m", "sanet", "--size", "16"),
         "sanet needs at least 32 px"),
    ]
    for args, needle in cases:
        p = run_cli(*args, "-o", out, "-q", env=ff_env())
        assert p.returncode == 2, (args, p.stderr)
        assert_one_line_error(p, needle)
        assert not out.exists() and not leftovers(tmp_path)
    # just at the minimum it works
    p = run_cli("stylize", imgs["content"], "--style", "style3", "--size", "12", "-o", out, "-q")
    assert p.returncode == 0, p.stderr
    assert Image.open(out).size == (12, 8)


# -- 4. training skips files that fail to decode mid-training ------------------------------------------

def test_4_train_adain_skips_truncated_jpeg(tmp_path: Path) -> None:
    c, s = tmp_path / "c", tmp_path / "s"
    c.mkdir()
    s.mkdir()
    for i in range(2):
        smooth_image(c / f"c{i}.png", (48, 40), i)
        smooth_image(s / f"s{i}.png", (40, 48), 10 + i)
    full = tmp_path / "full.jpg"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(full, quality=95)
    (c / "broken.jpg").write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    with Image.open(c / "broken.jpg") as probe:  # Pillow's verify() passes it: only decoding fails
        probe.verify()
    run = tmp_path / "run"
    p = run_cli("train", "adain", "--content-dir", c, "--style-dir", s, "--out", run, "--load-size", "40",
                "--crop-size", "32", "--batch-size", "3", "--iterations", "3", "--workers", "0", "--threads", "1",
                "--vgg", ffutil.weights().paths["vgg-normalised"], "--checkpoint-every", "1",
                "--sample-every", "0", "-q", env={"OMP_NUM_THREADS": "1"})
    assert p.returncode == 0, p.stderr
    assert "Traceback" not in p.stderr
    assert "skipped unreadable training image" in p.stderr and "broken.jpg" in p.stderr
    assert (run / "checkpoint.pt").exists() and "trained 3 iterations" in p.stderr


# -- 5. odd-sized videos are written (cropped to even), encoder errors named as such ---------------------

def _clip(path: Path, size: tuple[int, int], frames: int = 2) -> Path:
    import av

    w, h = size
    rng = np.random.default_rng(0)
    with av.open(str(path), "w") as out:
        v = out.add_stream("ffv1", rate=12)   # lossless, any frame size (odd ones too)
        v.width, v.height, v.pix_fmt = w, h, "yuv444p"
        for i in range(frames):
            vf = av.VideoFrame.from_ndarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8), format="rgb24")
            vf.pts = i
            out.mux(v.encode(vf))
        out.mux(v.encode(None))
    return path


def test_5_odd_sized_video_is_cropped_to_even(tmp_path: Path) -> None:
    av = pytest.importorskip("av")
    from painterly.video import even_size

    assert even_size(128, 85) == (128, 84) and even_size(33, 24) == (32, 24) and even_size(2, 2) == (2, 2)
    clip = _clip(tmp_path / "odd.mkv", (33, 25))
    before = digest(clip)
    out = tmp_path / "o.mp4"
    p = run_cli("video", clip, "--style", "style3", "-o", out, "-q", "--json")
    assert p.returncode == 0, p.stderr
    assert "cropped by one pixel to 32x24" in p.stderr and "Traceback" not in p.stderr
    with av.open(str(out)) as f:
        st = f.streams.video[0]
        assert (st.codec_context.width, st.codec_context.height) == (32, 24)
    assert digest(clip) == before and not leftovers(tmp_path)
    # a frame that cannot be encoded at all, and an encoder failure: named "encode", never "decode"
    from types import SimpleNamespace

    from painterly.errors import PainterlyError
    from painterly.video import _encode

    with pytest.raises(PainterlyError, match="cannot encode a 1x9 video"):
        even_size(1, 9)

    class Failing:
        codec_context = SimpleNamespace(name="libx264")
        width, height = 33, 25

        def encode(self, frame: object) -> None:
            raise av.error.ExternalError(22, "Generic error in an external library", "avcodec_open2(\"libx264\")")

    with pytest.raises(PainterlyError, match=r"cannot encode video o\.mp4 \(libx264, 33x25\)") as info:
        _encode(SimpleNamespace(mux=lambda p: None), Failing(), None, Path("o.mp4"))
    assert "decode" not in str(info.value)


# -- 6. translate has the --allow-large it advertises ----------------------------------------------------

def test_6_translate_accepts_allow_large(imgs: dict[str, Path], tmp_path: Path) -> None:
    assert "--allow-large" in run_cli("translate", "--help").stdout
    ck = _p2p_ckpt(tmp_path)
    p = run_cli("translate", imgs["content"], "--checkpoint", ck, "--size", "96", "--allow-large", "--eval",
                "-o", tmp_path / "t.png", "-q")
    assert p.returncode == 0, p.stderr
    assert Image.open(tmp_path / "t.png").size == (96, 64)


# -- 7. output locations that cannot be written fail first ---------------------------------------------

def test_7_unwritable_outputs_fail_before_the_work(imgs: dict[str, Path], tmp_path: Path) -> None:
    (tmp_path / "existing_dir.png").mkdir()
    before = digest(imgs["content"], imgs["style"])
    ck = _p2p_ckpt(tmp_path)
    cases = [
        (("stylize", imgs["content"], "--style", imgs["style"], "-o", imgs["content"].with_name("good.jpg") / "o.png"),
         "is a file, not a folder"),
        (("stylize", imgs["content"], "--style", imgs["style"], "-o", tmp_path / "existing_dir.png"), "is a folder"),
        (("stylize", imgs["content"], "--style", imgs["style"], "-o", "/proc/o.png"), "does not accept new files"),
        (("stylize", imgs["content"], "--style", imgs["style"], "--sheet", "/proc/s.png", "-o", tmp_path / "o.png"),
         "/proc"),
        (("translate", imgs["content"], "--checkpoint", ck, "-o", "/proc/o.png"), "does not accept new files"),
    ]
    for args, needle in cases:
        t0 = time.monotonic()
        p = run_cli(*args, "-m" if args[0] == "stylize" else "--eval", *(["gatys"] if args[0] == "stylize" else []),
                    env=ff_env())
        assert p.returncode == 2, (args, p.stderr)
        assert_one_line_error(p, needle)
        assert time.monotonic() - t0 < 60   # gatys would take far longer: nothing was computed
    assert not (tmp_path / "o.png").exists() and digest(imgs["content"], imgs["style"]) == before
    assert not leftovers(tmp_path)


# -- 8. stale part files of ours are cleaned on the next run --------------------------------------------

def test_8_stale_part_files_are_removed_live_ones_kept(imgs: dict[str, Path], tmp_path: Path) -> None:
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        old = time.time() - 3600
        stale = out_dir / f".o.{dead.pid}.abcd1234.part.png"
        stale_mp4 = out_dir / f".clip.{dead.pid}.zz_y9876.part.mp4"
        legacy = out_dir / ".o.k3j4h5g6.part.png"           # older naming, no pid, hours old
        running = out_dir / f".o.{live.pid}.abcd1234.part.png"  # a concurrent run still writing
        fresh_dead = out_dir / f".p.{dead.pid}.qwerty12.part.png"  # too recent to judge (other machine?)
        foreign = out_dir / ".o.notours.png"
        for f in (stale, stale_mp4, legacy, running, fresh_dead, foreign):
            f.write_bytes(b"partial")
        for f in (stale, stale_mp4, legacy, running, foreign):
            os.utime(f, (old, old))
        p = run_cli("stylize", imgs["content"], "--style", "style3", "--size", "32", "-o", out_dir / "o.png", "-q")
        assert p.returncode == 0, p.stderr
        assert not stale.exists() and not stale_mp4.exists() and not legacy.exists()
        assert running.exists() and fresh_dead.exists() and foreign.exists()
        assert (out_dir / "o.png").exists()
    finally:
        live.kill()
        live.wait()


def test_8_part_files_carry_the_writer_pid(tmp_path: Path) -> None:
    from painterly.files import atomic_path

    with atomic_path(tmp_path / "x.png") as tmp:
        assert tmp.name.startswith(f".x.{os.getpid()}.") and tmp.name.endswith(".part.png")
        tmp.write_bytes(b"x")
    assert (tmp_path / "x.png").read_bytes() == b"x" and not leftovers(tmp_path)


# -- 10. messages: the path once, torch's advice never, no warnings before the error --------------------

def test_10_foreign_weights_message_is_clean(imgs: dict[str, Path], tmp_path: Path) -> None:
    import torch

    evil = tmp_path / "evil.pth"
    torch.save({"w": torch.zeros(2), "obj": Foo()}, evil)
    text = tmp_path / "text.pth"
    text.write_text("hello")
    zero = tmp_path / "zero.pth"
    zero.write_bytes(b"")
    cut = tmp_path / "cut.pth"
    torch.save({"a": torch.zeros(100)}, tmp_path / "ok.pth")
    cut.write_bytes((tmp_path / "ok.pth").read_bytes()[:300])
    for f in (evil, text, cut):
        p = run_cli("stylize", imgs["content"], "--style", imgs["style"], "-m", "adain", "--weights", f,
                    "-o", tmp_path / "o.png", env=ff_env())
        assert p.returncode == 2
        assert_one_line_error(p, "is not a loadable PyTorch state_dict")
        line = p.stderr.strip()
        assert line.count(str(f)) == 1, line
        assert "weights_only" not in line and "Re-running" not in line and "torch.load" not in line
        assert line.endswith(").") and "`" not in line, line
    p = run_cli("stylize", imgs["content"], "--style", imgs["style"], "-m", "adain", "--weights", zero,
                "-o", tmp_path / "o.png", env=ff_env())
    assert_one_line_error(p, "empty")
    assert not (tmp_path / "o.png").exists()


def test_10_torch_reason_drops_the_advice() -> None:
    from painterly.nn.weights import _torch_reason

    raw = ("Weights only load failed. This file can still be loaded, to do so you have two options, "
           "\x1b[1mdo those steps only if you trust the source of the checkpoint\x1b[0m. \n\t(1) In PyTorch 2.6, "
           "we changed the default value of the `weights_only` argument in `torch.load` from `False` to `True`. "
           "Re-running `torch.load` with `weights_only` set to `False` will likely succeed.\n\t"
           "WeightsUnpickler error: Unsupported global: GLOBAL __main__.Foo was not an allowed global by "
           "default. Please use `torch.serialization.add_safe_globals([__main__.Foo])`")
    got = _torch_reason(Exception(raw))
    assert "__main__.Foo" in got and "weights_only" not in got and "Re-running" not in got and "\x1b" not in got
    assert _torch_reason(KeyError("101")) == "KeyError '101'"


# -- 11. options the method would ignore are errors ----------------------------------------------------

def test_11_ignored_options_are_errors(imgs: dict[str, Path], tmp_path: Path) -> None:
    w = ffutil.weights().paths["adain-decoder"]
    cases = [
        (("-m", "fast", "--weights", w), "--weights does not apply to --method fast"),
        (("-m", "fast", "--steps", "10"), "--steps does not apply to --method fast"),
        (("-m", "adain", "--steps", "10"), "--steps does not apply to --method adain"),
        (("-m", "sanet", "--steps", "10"), "--steps does not apply to --method sanet"),
    ]
    for extra, needle in cases:
        p = run_cli("stylize", imgs["content"], "--style", imgs["style"], *extra, "-o", tmp_path / "o.png",
                    env=ff_env())
        assert p.returncode == 2
        assert_one_line_error(p, needle)
    assert not (tmp_path / "o.png").exists()


# -- 12. 400 MP PNG is a size, not "not an image"; SIGTERM on gatys writes the best image ---------------

def test_12_huge_png_is_reported_by_size(tmp_path: Path) -> None:
    from painterly import image as im

    big = tmp_path / "big.png"
    Image.new("1", (20000, 20000)).save(big)   # 400 MP, a few kB
    assert im.probe_size(big) == (20000, 20000)
    p = run_cli("stylize", big, "--style", "style3", "-o", tmp_path / "o.png")
    assert p.returncode == 2
    assert_one_line_error(p, "20000x20000", "400.0 MP", "over the 50 MP limit")
    bad = tmp_path / "bad.png"
    bad.write_text("not a png")
    with pytest.raises(im.PainterlyError, match="not an image file"):
        im.probe_size(bad)


def test_12_sigterm_on_gatys_writes_the_best_image(imgs: dict[str, Path], tmp_path: Path,
                                                   random_vgg_file: Callable[..., Path]) -> None:
    vgg = random_vgg_file("caffe")
    out = tmp_path / "o.png"
    proc = subprocess.Popen(
        [sys.executable, "-m", "painterly", "stylize", str(imgs["content"]), "--style", str(imgs["style"]),
         "-m", "gatys", "--weights", str(vgg), "--size", "32", "--steps", "100000", "--save-every", "1",
         "-q", "-o", str(out)], env={**_env(), "OMP_NUM_THREADS": "1"}, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not list(tmp_path.glob("o.step*.png")) and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "interrupted: wrote the best image so far" in err and "Traceback" not in err
    assert Image.open(out).size == (32, 21) and not leftovers(tmp_path)
