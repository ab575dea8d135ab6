"""CLI and API habits (issue 12): --version, - for stdin/stdout, comma blends, the upscaling note,
pipeline() on paths and PIL images, dir(painterly), typed options (options=…)."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import ROOT, assert_one_line_error, run_cli, smooth_image
import painterly
from painterly import api
from painterly.errors import PainterlyError
from painterly.methods.base import split_blend


def run_bytes(*args: str, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    """Like conftest.run_cli, with binary stdin/stdout (images through pipes)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT / "src") + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run([sys.executable, "-m", "painterly", *args], input=stdin, capture_output=True,
                          env=env, timeout=600)


def pixels(img: Image.Image | Path) -> np.ndarray:
    return np.asarray(Image.open(img) if isinstance(img, Path) else img, dtype=np.int16)


@pytest.fixture
def photo(tmp_path: Path) -> Path:
    return smooth_image(tmp_path / "photo.png", (64, 48), 5)


# -- CLI -------------------------------------------------------------------------------------------------

def test_version() -> None:
    p = run_cli("--version")
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == f"painterly {painterly.__version__}"


def test_stdin_to_stdout_png(photo: Path) -> None:
    p = run_bytes("stylize", "-", "--style", "style4", "-o", "-", "-q", stdin=photo.read_bytes())
    assert p.returncode == 0, p.stderr.decode()
    out = Image.open(io.BytesIO(p.stdout))
    assert out.format == "PNG" and out.size == (64, 48)
    ref = api.stylize(photo, "style4", "fast", progress=False)
    assert np.abs(pixels(out.convert("RGB")) - pixels(ref)).max() <= 1


def test_stdin_to_file_and_file_to_stdout(photo: Path, tmp_path: Path) -> None:
    dest = tmp_path / "o.jpg"
    p = run_bytes("stylize", "-", "-s", "2", "-o", str(dest), "-q", stdin=photo.read_bytes())
    assert p.returncode == 0, p.stderr.decode()
    assert Image.open(dest).size == (64, 48)
    p = run_bytes("stylize", str(photo), "-s", "2", "-o", "-", "-q")
    assert p.returncode == 0 and Image.open(io.BytesIO(p.stdout)).size == (64, 48)


@pytest.mark.parametrize("data, needle", [(b"", "no image on stdin"), (b"not an image", "not an image")])
def test_bad_stdin_is_one_line(data: bytes, needle: str, tmp_path: Path) -> None:
    p = run_bytes("stylize", "-", "-s", "2", "-o", str(tmp_path / "o.png"), stdin=data)
    assert_one_line_error(subprocess.CompletedProcess(p.args, p.returncode, p.stdout.decode(),
                                                      p.stderr.decode()), needle)
    assert not (tmp_path / "o.png").exists()


def test_stdout_and_json_conflict(photo: Path) -> None:
    p = run_cli("stylize", str(photo), "-s", "2", "-o", "-", "--json")
    assert_one_line_error(p, "--json")


def test_comma_blend_equals_repeated_style(photo: Path, tmp_path: Path) -> None:
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    p1 = run_cli("stylize", str(photo), "--style", "3:0.5,12:0.5", "-q", "-o", str(a))
    p2 = run_cli("stylize", str(photo), "--style", "3:0.5", "--style", "12:0.5", "-q", "-o", str(b))
    assert p1.returncode == 0 and p2.returncode == 0, p1.stderr + p2.stderr
    assert np.array_equal(pixels(a), pixels(b))
    single = tmp_path / "c.png"
    run_cli("stylize", str(photo), "--style", "3", "-q", "-o", str(single))
    assert not np.array_equal(pixels(a), pixels(single))     # the blend really used both styles


def test_split_blend_file_with_comma_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    smooth_image(tmp_path / "x,y.png", (20, 20), 1)
    smooth_image(tmp_path / "z.png", (20, 20), 2)
    assert split_blend("x,y.png") == ["x,y.png"]
    assert split_blend("x,y.png:0.7,z.png") == ["x,y.png:0.7", "z.png"]
    assert split_blend("z.png,x,y.png:0.2") == ["z.png", "x,y.png:0.2"]
    assert split_blend("3:0.5,12:0.5") == ["3:0.5", "12:0.5"]
    with pytest.raises(PainterlyError, match="empty style"):
        split_blend("3,,4")


def test_explicit_size_above_the_image_says_it_upscales(photo: Path, tmp_path: Path) -> None:
    up = run_cli("stylize", str(photo), "-s", "1", "--size", "128", "-q", "-o", str(tmp_path / "u.png"))
    assert up.returncode == 0, up.stderr
    notes = [ln for ln in up.stderr.splitlines() if "upscal" in ln]
    assert len(notes) == 1 and "--size 128" in notes[0] and "64x48" in notes[0], up.stderr
    assert Image.open(tmp_path / "u.png").size == (128, 96)
    for size in ("32", "64"):   # smaller or equal: nothing to say
        p = run_cli("stylize", str(photo), "-s", "1", "--size", size, "-q", "-o", str(tmp_path / "d.png"))
        assert p.returncode == 0 and "upscal" not in p.stderr, p.stderr


# -- API -------------------------------------------------------------------------------------------------

def test_pipeline_accepts_paths_and_pil_images(photo: Path) -> None:
    pipe = painterly.pipeline("fast", "style6", progress=False)
    from_path = pipe(photo).image
    from_str = pipe(str(photo)).image
    from_pil = pipe(Image.open(photo)).image
    from_picture = pipe(painterly.load_image(photo)).image
    for img in (from_str, from_pil, from_picture):
        assert np.array_equal(pixels(img), pixels(from_path))
    rgba = Image.open(photo).convert("RGBA")
    rgba.putalpha(128)
    r = pipe(rgba)
    assert r.alpha is not None and r.image_with_alpha().mode == "RGBA"


def test_dir_lists_the_api_and_import_stays_light() -> None:
    names = dir(painterly)
    for n in ("stylize", "stylize_report", "pipeline", "load_image", "__version__",
              "FastConfig", "GatysConfig", "AdaINConfig", "SANetConfig"):
        assert n in names
    code = ("import sys, painterly; dir(painterly); painterly.FastConfig(strength=0.5); "
            "print('torch' in sys.modules)")
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert p.stdout.strip() == "False", p.stderr


def test_typed_options_equal_keywords(photo: Path) -> None:
    typed = painterly.stylize(photo, "style8", options=painterly.FastConfig(strength=0.4), progress=False)
    kw = painterly.stylize(photo, "style8", strength=0.4, progress=False)
    full = painterly.stylize(photo, "style8", progress=False)
    assert np.array_equal(pixels(typed), pixels(kw))
    assert not np.array_equal(pixels(typed), pixels(full))
    # keywords override the instance's fields
    over = painterly.pipeline("fast", "style8", options=painterly.FastConfig(strength=0.4), strength=0.9)
    assert over.method.config.strength == 0.9


def test_typed_options_keep_the_preset_and_check_the_method(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    style = smooth_image(tmp_path / "s.png", (20, 20), 1)
    pipe = painterly.pipeline("gatys", str(style), options=painterly.GatysConfig(preset="gatys-paper", steps=3))
    cfg = pipe.method.config
    assert (cfg.preset, cfg.steps, cfg.style_weight, cfg.gram_norm) == ("gatys-paper", 3, 1e3, "hw")
    with pytest.raises(PainterlyError, match="FastConfig"):
        painterly.pipeline("fast", "style1", options=painterly.GatysConfig())
    with pytest.raises(PainterlyError, match="options"):
        painterly.pipeline("fast", "style1", options={"strength": 0.5})


def test_a_command_loads_only_its_own_cli_module() -> None:
    # typer builds every registered command's options at start-up, so `stylize` registers stylize alone;
    # `--help` (and a typo) still sees every command
    code = ("import sys; from painterly import cli; sys.argv = ['painterly'] + sys.argv[1:]\n"
            "try:\n    cli.main()\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in sys.modules if m.startswith('painterly.cli.')))")
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))

    def run(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, env=env,
                              timeout=120)
    p = run("stylize", "--help")
    assert "--style" in p.stdout
    assert p.stdout.strip().splitlines()[-1] == "['painterly.cli.common', 'painterly.cli.stylize']", p.stderr
    p = run("--help")
    for command in ("stylize", "styles", "serve", "video", "translate", "evaluate", "weights", "train",
                    "export"):
        assert f"  {command} " in p.stdout
    assert "painterly.cli.train" in p.stdout.strip().splitlines()[-1]
    p = run("weights", "list")
    assert p.stdout.strip().splitlines()[-1] == "['painterly.cli.common', 'painterly.cli.weights']", p.stderr
