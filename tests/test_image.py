"""image.py: loading every kind of file, saving atomically, resizing, colour tools, masks."""

from __future__ import annotations

import io
import os
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from painterly import image as im
from painterly.errors import PainterlyError


def _png_bytes(width: int, height: int) -> bytes:
    """A syntactically valid PNG header with the given size (width/height may be 0)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")


# -- loading ------------------------------------------------------------------------------------------

def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    arr = np.zeros((20, 40, 3), np.uint8)
    arr[:, :20] = (255, 0, 0)  # left half red
    img = Image.fromarray(arr)
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    p = tmp_path / "rot.jpg"
    img.save(p, exif=exif, quality=95)
    pic = im.load_image(p)
    assert pic.size == (20, 40)  # width and height swapped
    top = np.asarray(pic.rgb)[:5].mean(axis=(0, 1))
    assert top[0] > 200 and top[1] < 60  # the red half is now on top


@pytest.mark.parametrize("mode", ["L", "P", "CMYK", "1", "LA", "RGBA", "I;16", "I"])
def test_modes_convert_to_rgb(tmp_path: Path, mode: str) -> None:
    rng = np.random.default_rng(1)
    base = Image.fromarray(rng.integers(0, 256, (16, 24, 3), dtype=np.uint8))
    if mode == "I;16":
        arr16 = (np.asarray(base.convert("L"), dtype=np.uint16) * 257)
        img = Image.fromarray(arr16)  # uint16 -> mode I;16
        assert img.mode == "I;16"
        path = tmp_path / "x.png"
    elif mode == "I":
        img = Image.fromarray(np.asarray(base.convert("L"), dtype=np.int32) * 257, "I")
        path = tmp_path / "x.tif"
    else:
        img = base.convert(mode)
        path = tmp_path / ("x.tif" if mode == "CMYK" else "x.png")
    img.save(path)
    pic = im.load_image(path)
    assert pic.rgb.mode == "RGB" and pic.size == (24, 16)
    if mode in ("I;16", "I"):
        # 16-bit values are scaled to 8 bits, not clipped to white
        expect = np.asarray(base.convert("L"), dtype=np.float64)
        got = np.asarray(pic.rgb, dtype=np.float64)[..., 0]
        assert np.abs(got - expect).max() <= 1


def test_alpha_kept_aside_and_reapplied(tmp_path: Path) -> None:
    rgba = np.zeros((16, 16, 4), np.uint8)
    rgba[..., 0] = 200
    rgba[..., 3] = np.linspace(0, 255, 16, dtype=np.uint8)[None, :]
    p = tmp_path / "a.png"
    Image.fromarray(rgba, "RGBA").save(p)
    pic = im.load_image(p)
    assert pic.alpha is not None and pic.rgb.mode == "RGB"
    out = tmp_path / "o.png"
    im.save_image(pic.rgb, out, pic.alpha)
    back = np.asarray(Image.open(out))
    assert back.shape[2] == 4 and np.array_equal(back[..., 3], rgba[..., 3])
    # JPEG has no alpha: saved as RGB
    im.save_image(pic.rgb, tmp_path / "o.jpg", pic.alpha)
    assert Image.open(tmp_path / "o.jpg").mode == "RGB"


def test_opaque_alpha_is_dropped(tmp_path: Path) -> None:
    p = tmp_path / "o.png"
    Image.new("RGBA", (8, 8), (1, 2, 3, 255)).save(p)
    assert im.load_image(p).alpha is None


@pytest.mark.parametrize("case", ["missing", "folder", "text", "truncated", "zero"])
def test_bad_inputs_give_one_line_errors(tmp_path: Path, case: str) -> None:
    if case == "missing":
        p = tmp_path / "nope.jpg"
        needle = "not found"
    elif case == "folder":
        p = tmp_path
        needle = "folder"
    elif case == "text":
        p = tmp_path / "x.jpg"
        p.write_text("hello, not an image")
        needle = "not an image"
    elif case == "truncated":
        buf = io.BytesIO()
        Image.fromarray(np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(buf, "PNG")
        p = tmp_path / "t.png"
        p.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
        needle = str(p)
    else:
        p = tmp_path / "z.png"
        p.write_bytes(_png_bytes(0, 5))
        needle = str(p)
    with pytest.raises(PainterlyError) as e:
        im.load_image(p, what="content image")
    msg = str(e.value)
    assert "\n" not in msg and needle in msg


def test_size_limit_and_allow_large() -> None:
    with pytest.raises(PainterlyError, match="allow-large"):
        im.check_pixels(8000, 7000, "content image")
    im.check_pixels(8000, 7000, "content image", allow_large=True)
    with pytest.raises(PainterlyError, match="zero size"):
        im.check_pixels(0, 10, "x")


def test_large_file_refused_before_decoding(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(im, "MAX_MEGAPIXELS", 0.001)  # 1000 px
    p = tmp_path / "big.png"
    Image.new("RGB", (50, 50)).save(p)
    with pytest.raises(PainterlyError, match="over the 0 MP limit"):
        im.load_image(p)
    assert im.load_image(p, allow_large=True).size == (50, 50)


# -- saving -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("ext,fmt", [(".png", "PNG"), (".jpg", "JPEG"), (".webp", "WEBP"), (".tiff", "TIFF")])
def test_save_by_extension(tmp_path: Path, ext: str, fmt: str) -> None:
    img = Image.new("RGB", (10, 6), (10, 200, 30))
    p = im.save_image(img, tmp_path / f"sub/out{ext}")
    assert Image.open(p).format == fmt
    assert [f.name for f in p.parent.iterdir()] == [p.name]  # no temp files left


def test_jpeg_quality_95(tmp_path: Path) -> None:
    img = Image.fromarray(np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8))
    im.save_image(img, tmp_path / "a.jpg")
    img.save(tmp_path / "b.jpg", quality=95)
    assert (tmp_path / "a.jpg").read_bytes() == (tmp_path / "b.jpg").read_bytes()


def test_save_unknown_extension_and_failure_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(PainterlyError, match="unknown extension"):
        im.save_image(Image.new("RGB", (4, 4)), tmp_path / "x.xyz")

    def boom(self: Image.Image, fp: object, *a: object, **k: object) -> None:
        Path(str(fp)).write_bytes(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(Image.Image, "save", boom)
    with pytest.raises(OSError):
        im.save_image(Image.new("RGB", (4, 4)), tmp_path / "y.png")
    assert os.listdir(tmp_path) == []


# -- resizing and tensors -----------------------------------------------------------------------------

def test_resize_long_and_short() -> None:
    img = Image.new("RGB", (300, 200))
    assert im.resize_long(img, 150).size == (150, 100)
    assert im.resize_long(img, 0).size == (300, 200)
    assert im.resize_short(img, 100).size == (150, 100)
    assert im.center_crop(img, 1000).size == (200, 200)
    with pytest.raises(PainterlyError):
        im.resize_long(img, -3)


def test_array_round_trip() -> None:
    arr = np.random.default_rng(0).integers(0, 256, (7, 9, 3), dtype=np.uint8)
    t = im.to_array(Image.fromarray(arr))
    assert t.shape == (1, 3, 7, 9) and t.dtype == np.float32
    assert np.allclose(t[0, 1], arr[..., 1] / 255.0, atol=1e-7)
    assert np.array_equal(np.asarray(im.from_array(t)), arr)


# -- colour -------------------------------------------------------------------------------------------

def _rand(*shape: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random(shape, dtype=np.float32)


def test_yiq_matches_ntsc_formula_and_inverts() -> None:
    x = _rand(1, 3, 5, 6)
    r, g, b = x[0]
    y = 0.299 * r + 0.587 * g + 0.114 * b
    i = 0.595716 * r - 0.274453 * g - 0.321263 * b
    q = 0.211456 * r - 0.522591 * g + 0.311135 * b
    out = im.rgb_to(x, "yiq")[0]
    assert np.allclose(out[0], y, atol=1e-6) and np.allclose(out[1], i, atol=1e-6)
    assert np.allclose(out[2], q, atol=1e-6)
    assert np.allclose(im.rgb_from(im.rgb_to(x, "yuv"), "yuv"), x, atol=1e-5)


def test_combine_luminance_keeps_content_chroma() -> None:
    content, styl = _rand(1, 3, 8, 8, seed=1), _rand(1, 3, 8, 8, seed=2)
    out = im.combine_luminance(styl, content)
    yo, yc, ys = im.rgb_to(out), im.rgb_to(content), im.rgb_to(styl)
    assert np.allclose(yo[:, 1:], yc[:, 1:], atol=1e-5)
    assert np.allclose(yo[:, :1], ys[:, :1], atol=1e-5)


def test_match_luminance_moments() -> None:
    s, c = _rand(1, 1, 10, 10, seed=3) * 0.2, _rand(1, 1, 12, 7, seed=4)
    out = im.match_luminance(s, c)
    assert np.isclose(out.mean(), c.mean(), atol=1e-5)
    assert np.isclose(out.std(ddof=1), c.std(ddof=1), atol=1e-5)


def test_coral_matches_mean_and_covariance() -> None:
    src = _rand(1, 3, 20, 30, seed=5)
    mix = np.array([[1.0, 0.5, 0.0], [0.2, 0.3, 0.1], [0.0, 0.4, 0.9]], np.float32)
    tgt = np.einsum("ij,njhw->nihw", mix, _rand(1, 3, 25, 17, seed=6)) + np.float32(0.1)
    out = im.coral(src, tgt, eps=0.0)
    o, t = out[0].reshape(3, -1).astype(np.float64), tgt[0].reshape(3, -1).astype(np.float64)
    assert np.allclose(o.mean(1), t.mean(1), atol=1e-5)
    assert np.allclose(np.cov(o), np.cov(t), atol=1e-5)


def test_area_resize_matches_block_means_and_torch() -> None:
    """Integer factors: plain block means (hand formula); any factor: torch's mode='area' when torch is
    installed (an independent implementation of the same adaptive average pooling)."""
    x = _rand(2, 3, 12, 18, seed=7)
    want = x.reshape(2, 3, 4, 3, 6, 3).mean(axis=(3, 5))
    assert np.allclose(im.area_resize(x, (4, 6)), want, atol=1e-6)
    torch = pytest.importorskip("torch")
    for size in [(5, 7), (12, 18), (13, 29), (1, 1)]:
        ref = torch.nn.functional.interpolate(torch.from_numpy(x), size=size, mode="area").numpy()
        assert np.allclose(im.area_resize(x, size), ref, atol=1e-6), size


# -- masks --------------------------------------------------------------------------------------------

def test_labels_from_colours_darkest_first_and_noise_merged(tmp_path: Path) -> None:
    arr = np.zeros((40, 60, 3), np.uint8)
    arr[:, 30:] = (250, 250, 250)
    arr[:20, :30] = (200, 30, 30)
    arr[5, 5] = (199, 31, 30)  # a stray pixel (JPEG-like noise) joins its neighbour's region
    p = tmp_path / "m.png"
    Image.fromarray(arr).save(p)
    lab = im.load_labels(p, (60, 40))
    assert lab.count == 3
    assert lab.colours[0] == (0, 0, 0) and lab.colours[-1] == (250, 250, 250)
    assert lab.labels[30, 10] == 0 and lab.labels[10, 10] == 1 and lab.labels[5, 5] == 1
    assert lab.labels[0, 59] == 2
    # resized to a different content size of the same aspect ratio (nearest neighbour)
    small = im.load_labels(p, (30, 20))
    assert small.labels.shape == (20, 30) and set(np.unique(small.labels)) == {0, 1, 2}
    m = small.masks()
    assert m.shape == (3, 20, 30) and np.all(m.sum(0) == 1)


def test_labels_size_mismatch_is_an_error(tmp_path: Path) -> None:
    p = tmp_path / "m.png"
    Image.new("RGB", (50, 50)).save(p)
    with pytest.raises(PainterlyError, match="same size"):
        im.load_labels(p, (60, 40))


def test_contact_sheet_layout() -> None:
    a, b = Image.new("RGB", (40, 20), "red"), Image.new("RGB", (20, 40), "blue")
    sheet = im.contact_sheet([[a, b], [b, None]], ["s1", "s2"], ["c1", "c2"], cell=32, pad=4)
    assert sheet.size == (110 + 2 * 36 + 4, 18 + 2 * 36 + 4)


def test_saved_files_get_normal_permissions(tmp_path: Path) -> None:
    """Atomic writes go through mkstemp (0600); results must be readable like any other file."""
    import os
    import stat

    from painterly.files import atomic_write_bytes

    old = os.umask(0o022)
    try:
        atomic_write_bytes(tmp_path / "a.bin", b"x")
        im.save_image(Image.new("RGB", (4, 4)), tmp_path / "b.png")
    finally:
        os.umask(old)
    for name in ("a.bin", "b.png"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o644
